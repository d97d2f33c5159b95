"""The rotated generations of a bus or queue file: `spans.jsonl.1`, `spans.jsonl.2`, … .

Rename rotation (`mv spans.jsonl spans.jsonl.1`, logrotate's numbered or dated scheme)
leaves the older generations beside the live file under names that extend its name.
Readers that were down, or that fell behind several renames, walk this chain by file
identity; the executor's crash recovery searches it for a command's span.
"""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

_NUMBERED = re.compile(r"\.(\d+)")  # logrotate's numbered scheme: `<name>.<n>`, 1 the newest
# Not generations: our lock file, and compressed copies we cannot read line by line.
_NOT_GENERATIONS = (".lock", ".gz", ".bz2", ".xz", ".zst")
_STABLE_WITHIN_S = 1.0
_STABLE_PAUSE_S = 0.001
_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Generation:
    """One file of the chain as found under `path` when listed."""

    path: Path
    dev: int
    ino: int
    mtime_ns: int | None  # the time of its last write, when it was needed and could be had

    def is_file(self, st: os.stat_result) -> bool:
        return (st.st_dev, st.st_ino) == (self.dev, self.ino)


def _number(name: str, base: str) -> int | None:
    numbered = _NUMBERED.fullmatch(name[len(base) :])
    return int(numbered.group(1)) if numbered else None


def by_age(names: list[tuple[str, int]], base: str) -> list[str]:
    """(name, mtime_ns) of rotated generations → their names, oldest first.

    logrotate's numbered scheme says it exactly: a higher number is older, whatever the
    times (an empty file made by `create` can be older by its time than a late append to
    the one before it). Any other scheme goes by the time of the last write (every locked
    append to a generation happens before the first to the next: writers take turns on one
    lock and open the live path), a tie (coarse clocks, fast rotation) by number, then name.
    """
    numbers = {name: _number(name, base) for name, _ in names}
    if all(n is not None for n in numbers.values()):
        return sorted(numbers, key=lambda name: -(numbers[name] or 0))
    ordered = sorted(names, key=lambda nm: (nm[1], -(numbers[nm[0]] or 0), nm[0]))
    return [name for name, _ in ordered]


def _is_generation(name: str, base: str) -> bool:
    return name.startswith(base) and name != base and not name.endswith(_NOT_GENERATIONS)


def _read_directory(path: Path) -> dict[str, int]:
    """{name: inode} of the live file and its generations, as one directory read saw them.

    A directory read (getdents) holds the directory's lock, which a rename takes too: the
    names and inodes are of one moment (for a directory of up to several hundred entries,
    read in one call). Stat-ing names one by one instead could meet a file twice, or miss
    it, while logrotate shifts .1 → .2 → … .
    """
    base = path.name
    try:
        with os.scandir(path.parent) as entries:
            return {
                e.name: e.inode()
                for e in entries
                if e.name == base
                or (_is_generation(e.name, base) and e.is_file(follow_symlinks=False))
            }
    except FileNotFoundError:
        return {}


def _list_once(path: Path) -> list[Generation] | None:
    """The chain as one directory read saw it; None if a file it needs a time of moved."""
    base, parent = path.name, path.parent
    found = _read_directory(path)
    live_ino = found.pop(base, None)
    stats: dict[str, os.stat_result] = {}
    for name, ino in found.items():
        try:
            st = os.stat(parent / name, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if st.st_ino == ino:
            stats[name] = st  # else it moved since the read: its name there is what counts
    numbered = all(_number(name, base) is not None for name in found)
    if not numbered and len(stats) < len(found):
        return None  # ordered by time, and a time is missing: read again
    dev = _device(path, stats)
    chain = [
        Generation(
            parent / name,
            stats[name].st_dev if name in stats else dev,
            found[name],
            stats[name].st_mtime_ns if name in stats else None,
        )
        for name in by_age([(n, stats[n].st_mtime_ns if n in stats else 0) for n in found], base)
    ]
    if live_ino is None:
        return chain
    try:
        st = os.stat(path)  # read as the readers open it (through a symlink too)
        link = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return None  # rotated since the read (its new name is not in it): read again
    if link.st_ino != live_ino:
        return None
    live = Generation(path, st.st_dev, st.st_ino, st.st_mtime_ns)
    return [g for g in chain if (g.dev, g.ino) != (live.dev, live.ino)] + [live]


def _device(path: Path, stats: dict[str, os.stat_result]) -> int:
    for st in stats.values():
        return st.st_dev
    try:
        return os.stat(path.parent).st_dev
    except OSError:
        return 0


def list_generations(path: Path) -> list[Generation]:
    """Every generation of `path` present now, oldest first, the live file (if any) last.

    Read again (pausing to let a rotation in progress finish) while a file moves between
    the directory read and the look at it; after `_STABLE_WITHIN_S` the chain is taken
    without the times it could not get.
    """
    deadline = time.monotonic() + _STABLE_WITHIN_S
    while (chain := _list_once(path)) is None:
        if time.monotonic() >= deadline:
            _log.warning("%s: its generations kept being renamed; ordering them by name", path)
            return _list_anyway(path)
        time.sleep(_STABLE_PAUSE_S)
    return chain


def _list_anyway(path: Path) -> list[Generation]:
    found = _read_directory(path)
    found.pop(path.name, None)
    dev = _device(path, {})
    chain = [
        Generation(path.parent / name, dev, found[name], None)
        for name in by_age([(n, 0) for n in found], path.name)
    ]
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return chain
    return [*chain, Generation(path, st.st_dev, st.st_ino, st.st_mtime_ns)]


def rotated_files(path: Path) -> list[Path]:
    """The rotated generations of `path` (not `path` itself), oldest first."""
    return [g.path for g in list_generations(path) if g.path != path]


def generations(path: Path) -> list[Path]:
    """Every generation of `path`, oldest first, the live file last."""
    return [*rotated_files(path), path]
