"""One child program, supervised the way a shell does: started without a shell, signals sent to
us passed on, its end read as a shell reads it (code, 128 + signal, 127 / 126)."""

from __future__ import annotations

import errno
import os
import signal
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

# Forwarded to the child; SIGCHLD wakes us when it ends. All are blocked and taken with
# sigwaitinfo, so none can arrive between two steps and be lost or kill us mid-record.
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
WATCHED = frozenset({*FORWARDED, signal.SIGCHLD})
# Python ignores SIGPIPE and swarmsh ignores SIGXFSZ; the program gets the defaults, as
# subprocess's restore_signals gives them.
_RESTORED = tuple(s for s in (signal.SIGPIPE, getattr(signal, "SIGXFSZ", None)) if s is not None)
SI_KERNEL = 0x80  # Linux: sent by the kernel, e.g. the terminal's Ctrl-C to its foreground group
EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND = 126, 127


@dataclass(frozen=True)
class ChildResult:
    """How the program ended: the code to exit with, and why that is an error (if it is)."""

    exit_code: int
    pid: int | None = None
    killed_by: str | None = None  # the signal's name
    error: str | None = None


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def result_of(pid: int, wait_status: int) -> ChildResult:
    """A waitpid status as a shell reads it. Pure."""
    if os.WIFSIGNALED(wait_status):
        number = os.WTERMSIG(wait_status)
        name = signal_name(number)
        core = " (core dumped)" if os.WCOREDUMP(wait_status) else ""
        return ChildResult(128 + number, pid, name, f"killed by {name}{core}")
    code = os.WEXITSTATUS(wait_status)
    return ChildResult(code, pid, None, f"exit code {code}" if code else None)


def forwards(si_code: int) -> bool:
    """Whether a signal sent to us is passed on: yes when a process sent it to us (kill), no
    when the kernel did, as the terminal's Ctrl-C to its whole foreground group, which holds
    the child too (a second copy means 'stop now' to many programs)."""
    return si_code != SI_KERNEL


def start_failure(program: str, exc: OSError) -> ChildResult:
    """A program that could not be started, with the shell's codes and words."""
    if exc.errno == errno.ENOENT:
        return ChildResult(EXIT_NOT_FOUND, error=f"{program}: command not found")
    reason = exc.strerror or type(exc).__name__
    return ChildResult(EXIT_NOT_EXECUTABLE, error=f"{program}: cannot run: {reason}")


@contextmanager
def signals_blocked(signals: Iterable[int]) -> Iterator[set[int | signal.Signals]]:
    """Block `signals` in this thread; yields the mask to restore (and to give the child)."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        yield previous
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def drain(signals: Iterable[int]) -> None:
    """Take every pending one of `signals` (blocked), so unblocking them does nothing."""
    while signal.sigtimedwait(signals, 0) is not None:
        pass


def supervise(argv: list[str], env: dict[str, str], mask: set[int | signal.Signals]) -> ChildResult:
    """Start `argv` (PATH lookup, no shell) with `env` and the signal mask `mask`, wait for it,
    forwarding the signals sent to us alone. The caller has blocked WATCHED."""
    # An inherited SIG_IGN for SIGCHLD would have the kernel reap the child, and its status
    # with it, before we could read it.
    previous = signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        return _spawn_and_wait(argv, env, mask)
    finally:
        signal.signal(signal.SIGCHLD, previous)


def _spawn_and_wait(
    argv: list[str], env: dict[str, str], mask: set[int | signal.Signals]
) -> ChildResult:
    try:
        pid = os.posix_spawnp(argv[0], argv, env, setsigmask=mask, setsigdef=_RESTORED)
    except OSError as exc:
        return start_failure(recordable_name(argv[0]), exc)
    while True:
        info = signal.sigwaitinfo(WATCHED)
        if info.si_signo == signal.SIGCHLD:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                return result_of(pid, status)
        elif forwards(info.si_code):
            try:
                os.kill(pid, info.si_signo)
            except ProcessLookupError:
                pass  # it has just ended; SIGCHLD is on its way


def recordable_name(program: str) -> str:
    from swarmsh.safetext import shown

    return shown(program, limit=200)
