"""Owner-only files and directories, and atomic replacement: the only way swarmsh creates files."""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def ensure_dir(path: Path) -> Path:
    """Create `path` and missing parents owner-only; an existing directory is left as it is."""
    if not path.is_dir():
        old = os.umask(0o077)
        try:
            path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        finally:
            os.umask(old)
    return path


def open_append(path: Path) -> int:
    """An O_APPEND descriptor on `path`, created 0600 (with its directory 0700) if missing.

    Read-write, so a writer can check the file's last byte before appending."""
    ensure_dir(path.parent)
    return os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so a crash leaves the old or the new content, never a mix."""
    ensure_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
