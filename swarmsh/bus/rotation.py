"""The rotated generations of a bus or queue file: `spans.jsonl.1`, `spans.jsonl.2`, … .

Rename rotation (`mv spans.jsonl spans.jsonl.1`, logrotate's numbered or dated scheme)
leaves the older generations beside the live file under names that extend its name.
Readers that were down, or that fell behind several renames, walk this chain by file
identity; the executor's crash recovery searches it for a command's span.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_NUMBER = re.compile(r"\d+")
# Not generations: our lock file, and compressed copies we cannot read line by line.
_NOT_GENERATIONS = (".lock", ".gz", ".bz2", ".xz", ".zst")


def _age_key(path: Path, base: str) -> tuple[int, int]:
    """Older first: by the time of the last write, then (a tie) by logrotate's number,
    where a higher number is an older file."""
    try:
        mtime = os.stat(path, follow_symlinks=False).st_mtime_ns
    except OSError:
        mtime = 0
    digits = _NUMBER.findall(path.name[len(base) :])
    return (mtime, -int(digits[0]) if digits else 0)


def rotated_files(path: Path) -> list[Path]:
    """The rotated generations of `path` (not `path` itself), oldest first."""
    base = path.name
    try:
        names = os.listdir(path.parent)
    except FileNotFoundError:
        return []
    found = [
        path.parent / name
        for name in names
        if name.startswith(base) and name != base and not name.endswith(_NOT_GENERATIONS)
    ]
    return sorted(found, key=lambda p: _age_key(p, base))


def generations(path: Path) -> list[Path]:
    """Every generation of `path`, oldest first, the live file last."""
    return [*rotated_files(path), path]
