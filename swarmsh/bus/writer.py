"""`JsonlWriter`: appends whole lines to a JSONL file under a file lock, one write per batch."""

from __future__ import annotations

import errno
import fcntl
import os
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from swarmsh.config import ENV_FSYNC
from swarmsh.errors import BusWriteError, ConfigError
from swarmsh.fsutil import FILE_MODE, open_append, open_file, reserve

FSYNC_ALWAYS = "always"  # fsync after every batch: survives power loss
FSYNC_NEVER = "never"  # leave it to the OS: survives any process crash, not a power cut
FSYNC_POLICIES = (FSYNC_ALWAYS, FSYNC_NEVER)
DEFAULT_FSYNC = FSYNC_ALWAYS
LOCK_TIMEOUT_S = 30.0
# filelock polls a contended lock; its 50 ms default would put that much on every hop that
# meets a writer (readers wake on the write, while the writer still holds the lock to fsync).
LOCK_POLL_S = 0.0005


# How long a reader waits for the writers of a file it is leaving (see wait_for_writers).
WRITERS_WAIT_S = 2.0


def lock_path(path: Path) -> Path:
    """The lock every writer of `path` holds while it has `path` open."""
    return path.with_name(path.name + ".lock")


def wait_for_writers(path: Path, timeout: float = WRITERS_WAIT_S) -> bool:
    """Wait until no writer holds `<path>.lock`: every append begun before the call is then
    complete, and any later one opens whatever file `path` names by then. True once seen;
    False if the lock stayed taken for `timeout` s or cannot be opened. A shared flock on a
    read-only descriptor, released at once: it needs no write access and stops no reader.
    """
    try:
        fd = os.open(lock_path(path), os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        return True  # no writer has ever locked it, so none is writing
    except OSError:
        return False
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(LOCK_POLL_S)  # writers hold it for one write: poll as they do
    finally:
        os.close(fd)


def fsync_policy_from_env() -> str:
    raw = os.environ.get(ENV_FSYNC, "").strip().lower() or DEFAULT_FSYNC
    if raw not in FSYNC_POLICIES:
        raise ConfigError(f"{ENV_FSYNC}={raw!r} is not one of {', '.join(FSYNC_POLICIES)}")
    return raw


class JsonlWriter:
    """Appends batches of complete lines to `path`.

    Every batch is one `write()` on an O_APPEND descriptor while holding
    `<path>.lock`, so concurrent writers in any number of processes never
    interleave or tear a line; a last line left unfinished by anyone else is
    ended with a newline first, so it cannot swallow the batch. The file is
    opened per batch, so a writer keeps following the path when the file is
    rotated (renamed) underneath it.
    """

    def __init__(self, path: Path, *, fsync: str | None = None) -> None:
        self.path = Path(path)
        self.fsync = fsync if fsync is not None else fsync_policy_from_env()
        if self.fsync not in FSYNC_POLICIES:
            raise ConfigError(f"fsync policy {self.fsync!r} is not one of {FSYNC_POLICIES}")
        self._lock_path = lock_path(self.path)
        self._file_lock: Any = None  # filelock's, made when first contended
        self._thread_lock = threading.Lock()

    @property
    def waits_on_disk(self) -> bool:
        """Whether `append` waits for an fsync: then a caller with another file to make
        durable gains by running this append in a helper thread beside it (fsync lets go of
        the GIL), and `append` is safe to call from any one thread at a time."""
        return self.fsync == FSYNC_ALWAYS

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the exclusive flock on `<file>.lock`.

        Uncontended (the common case), one non-blocking flock does it. Contended,
        filelock waits for us (polling, timeout) on the very same flock. Importing
        filelock costs 16 ms, a tenth of a CLI command, so it happens only then.
        """
        fd = open_file(self._lock_path, os.O_RDWR | os.O_CREAT)  # never through a symlink
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if self._file_lock is None:
                from filelock import FileLock

                self._file_lock = FileLock(self._lock_path, timeout=LOCK_TIMEOUT_S, mode=FILE_MODE)
            with self._file_lock.acquire(poll_interval=LOCK_POLL_S):
                yield
            return
        try:
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def append(self, lines: Iterable[bytes | bytearray]) -> int:
        """Append the lines (each ending in a newline) as one batch; return the bytes written.

        Raises `BusWriteError` when the file cannot be written; a batch either
        lands whole or, on error, whatever part landed is cut off again. Its space is
        reserved first (`fsutil.reserve`), so a full disk or a file-size limit fails it
        before readers can see any part of it; only where reserving is unsupported, or
        at fsync, can they.
        """
        data = b"".join(lines)
        if not data:
            return 0
        if not data.endswith(b"\n"):
            raise ValueError("a JSONL batch must end with a newline")
        try:
            with self._thread_lock, self._locked():
                fd = open_append(self.path)
                try:
                    self._write_whole(fd, data, sync=self.fsync == FSYNC_ALWAYS)
                finally:
                    os.close(fd)
        except BusWriteError:
            raise
        except OSError as exc:
            raise BusWriteError(_describe(self.path, exc)) from exc
        except Exception as exc:  # filelock.Timeout and friends
            raise BusWriteError(f"cannot write {self.path}: {exc}") from exc
        return len(data)

    def _write_whole(self, fd: int, data: bytes, *, sync: bool) -> None:
        start = os.lseek(fd, 0, os.SEEK_END)
        if start and os.pread(fd, 1, start - 1) != b"\n":
            # Another writer (unlocked, or killed mid-line) left an unfinished last line:
            # end it, or our first line would be glued to it and never parse.
            data = b"\n" + data
        view = memoryview(data)
        try:
            # Take the disk space first: on a full disk the batch fails here, before any byte
            # of it lands. A part written and cut back would be seen by readers in between:
            # records reported unwritten, and a reader's offset left past the cut.
            reserve(fd, start, len(data))
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if sync:
                os.fsync(fd)  # a failure here (EIO, ENOSPC at writeback) fails the batch too
        except OSError:
            # Never leave a torn line, or a batch reported failed, behind (nor blocks reserved
            # past the end): cut the file back to where this batch began.
            try:
                os.ftruncate(fd, start)
            except OSError:
                pass
            raise


def _describe(path: Path, exc: OSError) -> str:
    what = {
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.EFBIG: "file too large",
        errno.EROFS: "read-only file system",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return f"cannot write {path}: {what}"
