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

_NUMBERED = re.compile(r"\.(\d+)")  # logrotate's numbered scheme: `<name>.<n>`, n=1 newest
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


def age_key(name: str, base: str, mtime_ns: int) -> tuple[int, int, str]:
    """Older first: by the time of the last write (every append to a generation happens
    before the first to the next one: writers take turns on one lock and always open the
    live path); a tie (coarse clocks, fast rotation) by logrotate's number, a higher number
    being older, then by name (dated schemes sort by date)."""
    numbered = _NUMBERED.fullmatch(name[len(base) :])
    return (mtime_ns, -int(numbered.group(1)) if numbered else 0, name)


def _is_generation(name: str, base: str) -> bool:
    return name.startswith(base) and name != base and not name.endswith(_NOT_GENERATIONS)


def _list_once(path: Path) -> list[Generation]:
    base = path.name
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    found: dict[tuple[int, int], tuple[tuple[int, int, str], Generation]] = {}
    for name in names:
        if not _is_generation(name, base):
            continue
        try:
            st = os.stat(path.parent / name, follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            continue
        generation = Generation(path.parent / name, st.st_dev, st.st_ino, st.st_mtime_ns)
        found[(st.st_dev, st.st_ino)] = (age_key(name, base, st.st_mtime_ns), generation)
    chain = [generation for _key, generation in sorted(found.values(), key=lambda kv: kv[0])]
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
