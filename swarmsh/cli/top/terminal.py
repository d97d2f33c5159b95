"""Keys from a terminal, one at a time and unechoed, with the terminal put back as it was on
every way out: normal return, an exception, Ctrl-C, SIGTERM or SIGHUP (a dropped SSH link)."""

from __future__ import annotations

import os
import select
import signal
import termios
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Stopped(Exception):
    """A terminating signal arrived; unwinding restores the terminal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise Stopped(signum)


@contextmanager
def keys_mode(fd: int) -> Iterator[None]:
    """cbreak mode (no echo, no line buffering; Ctrl-C still interrupts) until the block ends.
    SIGTERM and SIGHUP are turned into an exception for the duration, so `finally` runs."""
    saved = termios.tcgetattr(fd)
    handlers = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        tty.setcbreak(fd, termios.TCSANOW)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def read_keys(fd: int, timeout: float) -> str:
    """The keys typed within `timeout` seconds (returns at the first), '' when none."""
    ready, _, _ = select.select([fd], [], [], max(timeout, 0.0))
    if not ready:
        return ""
    data = os.read(fd, 64)
    if not data:
        raise EOFError("the terminal closed")
    text = data.decode("utf-8", "replace")
    # An escape sequence (arrow keys, function keys) is one key we do not use: only a lone
    # ESC counts, as "back".
    return "\x1b" if text == "\x1b" else text.split("\x1b", 1)[0]
