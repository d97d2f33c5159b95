"""A real full disk for tests: a small tmpfs (root only), filled by a filler file, then freed."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

FILLER = ".filler"


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[bool]:
    """Mount an owner-only tmpfs of `size` on `path` for the block: True if that worked
    (it needs root), False where it is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
    )
    try:
        yield mounted.returncode == 0
    finally:
        if mounted.returncode == 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


@contextlib.contextmanager
def small_disk(path: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of `size` on `path` for the block; skip the test where that is not allowed."""
    with tmpfs(path, size) as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here")
        yield path


def fill(disk: Path) -> Path:
    """Take every free block: the next write that needs one fails with ENOSPC."""
    filler = disk / FILLER
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 512, 1):  # then the tail a larger write cannot use
            block = b"\0" * size
            try:
                while os.write(fd, block):
                    pass
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    finally:
        os.close(fd)
    return filler


def free(disk: Path) -> None:
    (disk / FILLER).unlink(missing_ok=True)
