"""Plumbing shared by the long-running processes: one instance per home, signals, logging."""

from __future__ import annotations

import ctypes
import fcntl
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Protocol

import click

from swarmsh.config import ENV_HOME, Paths
from swarmsh.errors import EXIT_FAILURE, AlreadyRunning, SwarmshError
from swarmsh.fsutil import open_file
from swarmsh.supervisor import is_supervisord

if TYPE_CHECKING:
    from swarmsh.telemetry import Telemetry

_log = logging.getLogger(__name__)


def configure_logging(name: str) -> None:
    """Foreground logging to stderr; supervisord captures and rotates it."""
    level = os.environ.get("SWARMSH_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level if level in logging.getLevelNamesMapping() else "INFO",
        format=f"%(asctime)s {name}[%(process)d] %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


class InstanceLock:
    """An exclusive, non-blocking lock on `<state>/<name>.lock` holding our pid.

    The kernel drops the lock when the process dies, however it dies, so a
    kill -9 never leaves a stale lock behind.
    """

    def __init__(self, state_dir: Path, name: str) -> None:
        self.path = state_dir / f"{name}.lock"  # acquire creates and checks the directory
        self.name = name
        self._fd: int | None = None

    def acquire(self) -> InstanceLock:
        fd = open_file(self.path, os.O_RDWR | os.O_CREAT)  # never through a symlink
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise AlreadyRunning(
                f"{self.name} already runs against {self.path.parent.parent} "
                f"(pid {holder}, lock {self.path})"
            ) from None
        try:  # the pid only informs; the flock is the lock, so a full disk must not stop us
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            _log.warning("cannot write the pid into %s: %s", self.path, exc)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def lock_holder(path: Path) -> int | None:
    """The pid holding the flock on `path` (from /proc/locks), or None when nobody holds it
    or this system cannot tell. Read-only: trying the lock could make a starting daemon fail."""
    try:
        st = os.stat(path)
        with open("/proc/locks") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    # "1: FLOCK  ADVISORY  WRITE 4242 fe:00:2148188 0 EOF"; "->" lines are waiters, not holders
    for fields in (line.split() for line in lines if "->" not in line):
        if len(fields) < 6 or fields[1] != "FLOCK":
            continue
        major, minor, ino = fields[5].split(":")
        if int(ino) != st.st_ino:
            continue
        same_dev = (int(major, 16), int(minor, 16)) == (os.major(st.st_dev), os.minor(st.st_dev))
        # some file systems (btrfs) show another device number here: then the pid we wrote
        # into the lock file must agree
        if same_dev or fields[4] == _pid_in(path):
            return int(fields[4])
    return None


def _pid_in(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class SupervisorGone(SwarmshError):
    """We were started by a supervisord that has died already: nobody would ever stop us."""


def die_with_supervisor() -> None:
    """Under supervisord, have the kernel send us SIGTERM (a graceful stop) when it dies, so a
    kill -9 of supervisord leaves no daemon behind to hold the instance locks of the next one.

    Linux only (prctl); elsewhere a daemon outlives a killed supervisord as before.
    """
    if "SUPERVISOR_ENABLED" not in os.environ or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        _log.warning("prctl(PR_SET_PDEATHSIG): %s", os.strerror(ctypes.get_errno()))
        return
    # It may have died between forking us and the prctl: then our parent is already someone
    # else (init or a subreaper), and no signal will ever come.
    parent = os.getppid()
    if not is_supervisord(parent):
        raise SupervisorGone(f"our supervisord has gone (parent is now pid {parent}); not starting")


def install_stop_handlers(stop: threading.Event, wake: Callable[[], None]) -> None:
    """SIGTERM/SIGINT ask for a graceful stop; a second one exits at once."""

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            os._exit(EXIT_FAILURE)
        _log.info(
            "received %s: finishing the batch in hand, then stopping", signal.Signals(signum).name
        )
        stop.set()
        wake()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a size limit must be EFBIG, not death


class Daemon(Protocol):
    """What `run_daemon` runs: an agent runner or the executor."""

    def run(self, stop: threading.Event) -> None: ...

    def wakeup(self) -> None: ...

    def close(self) -> None: ...


GC_THRESHOLD = 10_000  # young objects between collections (CPython's default: 700)


def settle_heap() -> None:
    """Once started: move what start-up made (modules, models, the SDK) out of the
    collector's sight, and collect young objects less often. A handled span makes a few
    dozen short-lived containers and hardly any cycles; this saves ≈ 3 µs a handled span
    (the benchmark's runner calls it too)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, 10, 10)


def run_daemon(
    name: str, make: Callable[[Paths, Telemetry, str], Daemon], *, start_help: str
) -> None:
    """The command line and life cycle every daemon shares: options, one instance per home,
    telemetry, graceful stop, and a clean shutdown order (stop reading, commit, flush)."""

    @click.command(name=f"swarmsh-{name}")
    @click.option("--home", envvar=ENV_HOME, type=click.Path(file_okay=False))
    @click.option(
        "--from",
        "start",
        type=click.Choice(["checkpoint", "beginning", "end"]),
        default="checkpoint",
        show_default=True,
        help=f"Where to start: {start_help}.",
    )
    @click.option("--console", is_flag=True, default=None, help="Also print spans on stdout.")
    @click.option("--otlp/--no-otlp", default=None, help="Export metrics over OTLP.")
    def command(home: str | None, start: str, console: bool | None, otlp: bool | None) -> None:
        from swarmsh.bus import backend
        from swarmsh.telemetry import setup_telemetry

        configure_logging(name)
        backend.as_daemon()  # on JetStream: one connection that reconnects, kept for good
        paths = Paths.from_home(home)
        lock = InstanceLock(paths.state, name)
        telemetry = None
        try:
            die_with_supervisor()
            paths.secure()
            lock.acquire()
            telemetry = setup_telemetry(f"swarmsh-{name}", paths.bus, console=console, otlp=otlp)
            daemon = make(paths, telemetry, start)
        except SwarmshError as exc:
            click.echo(f"swarmsh-{name}: {exc}", err=True)
            if telemetry is not None:
                telemetry.shutdown()
            lock.release()
            raise SystemExit(exc.exit_code) from None
        settle_heap()
        stop = threading.Event()
        install_stop_handlers(stop, daemon.wakeup)
        reload = getattr(daemon, "request_reload", None)
        if reload is not None:  # a daemon with a configuration to reload: SIGHUP asks for it
            signal.signal(signal.SIGHUP, lambda signum, frame: reload())
        try:
            daemon.run(stop)
        except SwarmshError as exc:  # e.g. a corrupt state file: no retry helps, a person must
            _log.critical("%s", exc)
            raise SystemExit(exc.exit_code) from None
        finally:
            daemon.close()
            telemetry.shutdown()
            lock.release()
        _log.info("%s stopped", name)

    command()
