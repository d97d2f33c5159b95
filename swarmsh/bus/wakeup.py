"""`FileWaker`: sleep until a file changes (inotify on its directory), or poll without it."""

from __future__ import annotations

import logging
import os
import select
import time
from pathlib import Path

_log = logging.getLogger(__name__)
FALLBACK_INTERVAL_S = 0.05


class FileWaker:
    """Waits for changes to files named `<name>*` in one directory, or for `wake()`.

    inotify watches the directory rather than the file, so creation and
    rename-rotation are seen too. Without inotify it wakes every 50 ms to let
    the caller look. A self-pipe makes `wake()` safe from signal handlers.
    """

    def __init__(self, path: Path, *, use_inotify: bool | None = None) -> None:
        self.directory = path.parent
        self.name = path.name
        self._pipe_r, self._pipe_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._inotify = None
        self.woken = False
        if use_inotify is not False:
            self._inotify = self._start_inotify()
            if self._inotify is None and use_inotify:
                raise OSError("inotify is not available")

    def _start_inotify(self):  # type: ignore[no-untyped-def]
        try:
            from inotify_simple import INotify, flags

            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            inotify = INotify(nonblocking=True)
            mask = (
                flags.MODIFY
                | flags.CREATE
                | flags.MOVED_TO
                | flags.MOVED_FROM
                | flags.DELETE
                | flags.CLOSE_WRITE
                | flags.ATTRIB
            )
            inotify.add_watch(str(self.directory), mask)
            return inotify
        except (ImportError, OSError) as exc:
            _log.info(
                "inotify unavailable (%s); polling every %.0f ms", exc, FALLBACK_INTERVAL_S * 1000
            )
            return None

    @property
    def uses_inotify(self) -> bool:
        return self._inotify is not None

    def wake(self) -> None:
        try:
            os.write(self._pipe_w, b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is full or closed: a wake-up is pending anyway

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` s for a change to our file(s); True if something happened.

        After a `wake()`, `woken` is True until the next wait.
        """
        self.woken = False
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            fds = [self._pipe_r] + ([self._inotify.fileno()] if self._inotify else [])
            step = left if self._inotify else min(left, FALLBACK_INTERVAL_S)
            ready, _, _ = select.select(fds, [], [], step)
            if self._pipe_r in ready:
                self._drain_pipe()
                self.woken = True
                return True
            if not self._inotify:
                return True  # polling: let the caller look
            if ready and self._relevant():
                return True

    def _relevant(self) -> bool:
        assert self._inotify is not None
        events = self._inotify.read(timeout=0)
        return any(not e.name or e.name.startswith(self.name) for e in events)

    def _drain_pipe(self) -> None:
        try:
            while os.read(self._pipe_r, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None
        for fd in (self._pipe_r, self._pipe_w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._pipe_r = self._pipe_w = -1
