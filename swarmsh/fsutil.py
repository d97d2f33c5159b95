"""Owner-only files and directories, never reached through a symlink: the only way swarmsh
opens the files it writes (bus, queue, locks, dead letters, state DBs, atomic replacements)."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path
from typing import Any

from swarmsh.errors import ConfigError

DIR_MODE = 0o700
FILE_MODE = 0o600
_OTHERS = 0o077  # any access by group or others: tightened away on what we own
_WRITABLE_BY_OTHERS = 0o022  # write access by group or others: refused


class UnsafePath(ConfigError):
    """A path swarmsh will not use: a symlink, or a directory someone else owns or can write."""


def dir_problem(path: Path | str, st: os.stat_result, uid: int) -> str | None:
    """Why the directory `path` (with status `st`) may not hold our files, with the fix;
    None when it may. Pure: the caller stats."""
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory: remove it, or choose another home"
    if st.st_uid != uid:
        return (
            f"{path} is owned by uid {st.st_uid}, not by you (uid {uid}): use a home of your "
            "own (--home or SWARMSH_HOME), or have its owner give it to you"
        )
    if st.st_mode & _WRITABLE_BY_OTHERS:
        return (
            f"{path} is group- or world-writable (mode {stat.S_IMODE(st.st_mode):04o}), so "
            f"someone else could have planted files in it: check them, then chmod 700 {path}"
        )
    return None


def _status(path: Path) -> os.stat_result:
    """The directory's status; a symlink (the home may be one of the user's) is followed
    only when the link itself is ours: one planted by someone else while the home was
    loose is refused, wherever it points. One lstat when `path` is no link."""
    st = os.lstat(path)
    if not stat.S_ISLNK(st.st_mode):
        return st
    if st.st_uid != os.geteuid():
        raise UnsafePath(
            f"{path} is a symbolic link owned by uid {st.st_uid}, not by you: someone else "
            "planted it; remove it"
        )
    return os.stat(path)


def _trust_dir(path: Path, st: os.stat_result) -> None:
    problem = dir_problem(path, st, os.geteuid())
    if problem:
        raise UnsafePath(problem)
    if st.st_mode & _OTHERS:
        # Ours and only readable by others: take their bits away (never add any of ours,
        # so a directory made read-only on purpose stays read-only).
        with contextlib.suppress(OSError):
            os.chmod(path, stat.S_IMODE(st.st_mode) & ~_OTHERS)


def ensure_dir(path: Path) -> Path:
    """`path` as a directory only we can write: created 0700 (parents too) when missing,
    refused (`UnsafePath`) when someone else owns it or can write it, and tightened to
    owner-only when it is ours but readable by others. One stat when all is well."""
    try:
        st = _status(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise UnsafePath(f"{path} is a symbolic link to nothing: remove it") from None
        old = os.umask(0o077)
        try:
            path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        finally:
            os.umask(old)
        st = _status(path)
    _trust_dir(path, st)
    return path


def check_dir(path: Path) -> None:
    """Like `ensure_dir` for a directory that may be absent: absent is fine, untrusted is not."""
    try:
        st = _status(path)
    except FileNotFoundError:
        return
    _trust_dir(path, st)


def open_file(path: Path, flags: int) -> int:
    """A descriptor on `path` that never follows a symlink and is a regular file.

    With O_CREAT the file is created 0600 in a directory `ensure_dir` trusts. Opened for
    writing, it must be ours, and loses any access others had. O_NONBLOCK keeps a planted
    FIFO from hanging us (it has no effect on a regular file).
    """
    if flags & os.O_CREAT:
        ensure_dir(path.parent)
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePath(
                f"{path} is a symbolic link, and swarmsh never opens its files through one: "
                "remove it"
            ) from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnsafePath(f"{path} is not a regular file: remove it")
        if flags & (os.O_WRONLY | os.O_RDWR):
            if st.st_uid != os.geteuid():
                raise UnsafePath(
                    f"{path} is owned by uid {st.st_uid}, not by you (uid {os.geteuid()}): "
                    "remove it or give it to this user"
                )
            if st.st_mode & _OTHERS:  # a file system without modes may refuse: then so be it
                with contextlib.suppress(OSError):
                    os.fchmod(fd, stat.S_IMODE(st.st_mode) & ~_OTHERS)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_append(path: Path) -> int:
    """An O_APPEND descriptor on `path`, created 0600 (with its directory 0700) if missing.

    Read-write, so a writer can check the file's last byte before appending."""
    return open_file(path, os.O_RDWR | os.O_APPEND | os.O_CREAT)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so a crash leaves the old or the new content, never a mix."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = open_file(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)  # replaces a symlink at `path` itself, never what it points at
    dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


_FALLOC_FL_KEEP_SIZE = 0x01  # linux/falloc.h: allocate blocks without changing the size
_NOT_SUPPORTED = frozenset({errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.ENODEV})
_fallocate: Any = None  # libc's fallocate, looked up on first use; False where absent


def _libc_fallocate() -> Any:
    """libc's fallocate through ctypes (imported on first use only: 1.3 ms), or False."""
    global _fallocate
    if _fallocate is None:
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            # fallocate64 takes a 64-bit offset on 32-bit systems too (newer musl lacks it).
            function = getattr(libc, "fallocate64", None) or libc.fallocate
        except (AttributeError, OSError):
            _fallocate = False
        else:
            function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
            function.restype = ctypes.c_int
            _fallocate = function
    return _fallocate


def reserve(fd: int, offset: int, length: int) -> bool:
    """Allocate `length` bytes of disk from `offset` on, leaving the file's size (and so what
    readers see) unchanged: a write into them cannot then fail for want of space. True when
    reserved; False where the file system or libc cannot (then a write may still fall
    short); OSError (ENOSPC, EDQUOT, or EFBIG past the file-size limit) when there is no
    room, before any byte lands.

    Linux's fallocate(FALLOC_FL_KEEP_SIZE): os.posix_fallocate would grow the file, showing
    zeros to readers.
    """
    import ctypes
    import resource

    limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if limit != resource.RLIM_INFINITY and offset + length > limit:
        raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))  # fallocate does not check it
    fallocate = _libc_fallocate()
    if fallocate is False:
        return False
    while fallocate(fd, _FALLOC_FL_KEEP_SIZE, offset, length) != 0:
        code = ctypes.get_errno()
        if code == errno.EINTR:
            continue
        if code in _NOT_SUPPORTED:
            return False
        raise OSError(code, os.strerror(code))
    return True
