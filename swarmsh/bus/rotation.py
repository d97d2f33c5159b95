"""The rotated generations of a bus or queue file: `spans.jsonl.1`, `spans.jsonl.2`, … .

Rename rotation (`mv spans.jsonl spans.jsonl.1`, logrotate's numbered or dated scheme)
leaves the older generations beside the live file under names that extend its name.
Readers that were down, or that fell behind several renames, walk this chain by file
identity; the executor's crash recovery searches it for a command's span.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

_NUMBERED = re.compile(r"\.(\d+)")  # logrotate's numbered scheme: `<name>.<n>`, 1 the newest
# Not generations: our lock file, and compressed copies we cannot read line by line.
_NOT_GENERATIONS = (".lock", ".gz", ".bz2", ".xz", ".zst")
_STABLE_TRIES = 10


@dataclass(frozen=True, slots=True)
class Generation:
    """One file of the chain as found under `path` when listed."""

    path: Path
    dev: int
    ino: int
    mtime_ns: int

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


def _list_once(path: Path) -> list[Generation]:
    base = path.name
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    found: dict[str, Generation] = {}
    for name in names:
        if not _is_generation(name, base):
            continue
        try:
            st = os.stat(path.parent / name, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            found[name] = Generation(path.parent / name, st.st_dev, st.st_ino, st.st_mtime_ns)
    ordered = by_age([(name, g.mtime_ns) for name, g in found.items()], base)
    chain: list[Generation] = []
    for name in ordered:  # a file renamed during the listing may be there twice: once will do
        if not any(g.dev == found[name].dev and g.ino == found[name].ino for g in chain):
            chain.append(found[name])
    try:
        st = os.stat(path)  # read as the readers open it
    except OSError:
        return chain
    live = Generation(path, st.st_dev, st.st_ino, st.st_mtime_ns)
    return [g for g in chain if (g.dev, g.ino) != (live.dev, live.ino)] + [live]


def list_generations(path: Path) -> list[Generation]:
    """Every generation of `path` present now, oldest first, the live file (if any) last.

    A rename during the listing could hide a file from it (listed under its old name after
    it moved, not yet under its new one), so it is listed until two listings agree.
    """
    chain = _list_once(path)
    for _ in range(_STABLE_TRIES):
        again = _list_once(path)
        if _names(again) == _names(chain):  # mtimes move with every write: not compared
            return again
        chain = again
    return chain


def _names(chain: list[Generation]) -> list[tuple[Path, int, int]]:
    return [(g.path, g.dev, g.ino) for g in chain]


def rotated_files(path: Path) -> list[Path]:
    """The rotated generations of `path` (not `path` itself), oldest first."""
    return [g.path for g in list_generations(path) if g.path != path]


def generations(path: Path) -> list[Path]:
    """Every generation of `path`, oldest first, the live file last."""
    return [*rotated_files(path), path]
