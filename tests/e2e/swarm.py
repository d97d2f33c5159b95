"""A real supervisord running the repository's supervisord.conf, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from swarmsh.bus.records import SpanRecord
from tests.conftest import read_jsonl
from tests.otlp_receivers import unused_port

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent
PROGRAMS = ("roberts", "scrum", "lean", "executor", "receiver", "rules", "shipper")
RUNNING = 20


class Swarm:
    """One supervisord in a short temporary directory (unix sockets stop at 108 bytes).

    The directory holds a symlink to the repository's supervisord.conf and to
    the project's virtual environment, so `%(here)s` in the real config points
    at the test's own var/ directory while running the real code.
    """

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        self.base = base
        self.home = Path(env.get("SWARMSH_HOME") or base / "home")  # the daemons' home
        self.conf = base / "supervisord.conf"
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.base / "var" / "supervisor.sock"

    @property
    def rpc(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def start(self, timeout: float = 30.0) -> None:
        self.process = subprocess.Popen(
            [str(VENV / "bin" / "supervisord"), "--nodaemon", "-c", str(self.conf)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.wait_running(PROGRAMS, timeout)
        self.wait_committed(timeout)

    def wait_committed(self, timeout: float = 30.0) -> None:
        """Until every reader has committed where it starts (a first start begins at the bus's
        end as it finds it: a line written before that is not the reader's)."""
        from swarmsh import startmark
        from swarmsh.supervisor import READERS

        if self.env.get("SWARMSH_BUS", "file") != "file":
            return  # JetStream: a new durable consumer starts at the stream's first message
        state = Path(self.env.get("SWARMSH_HOME", self.home)) / "state"
        wait_until(
            lambda: all(startmark.committed(state, r) for r in READERS), timeout, "start commits"
        )

    def states(self) -> dict[str, dict[str, Any]]:
        return {info["name"]: info for info in self.rpc.supervisor.getAllProcessInfo()}

    def wait_running(self, names: tuple[str, ...] = PROGRAMS, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.states()
                if all(last.get(n, {}).get("state") == RUNNING for n in names):
                    return
            except (OSError, xmlrpc.client.Fault):
                pass
            time.sleep(0.05)  # supervisord has no push API; its XML-RPC is polled
        raise TimeoutError(f"not all of {names} RUNNING after {timeout}s: {last}")

    def ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VENV / "bin" / "supervisorctl"), "-c", str(self.conf), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def spans(self) -> list[dict[str, Any]]:
        return read_jsonl(self.home / "spans.jsonl")

    def wait_for(
        self, predicate: Callable[[SpanRecord], bool], timeout: float = 20.0, what: str = "a span"
    ) -> SpanRecord:
        """The first bus span matching `predicate`, woken by inotify as the bus grows."""
        from swarmsh.bus.follower import Follower

        follower = Follower(
            self.home / "spans.jsonl",
            reader="test",
            parse=SpanRecord.from_json,
            deadletter=None,
            start="beginning",
        )
        try:
            deadline = time.monotonic() + timeout
            while (left := deadline - time.monotonic()) > 0:
                for record, _ in follower.poll(min(left, 1.0)) or ():
                    if predicate(record):
                        return record
        finally:
            follower.close()
        raise TimeoutError(f"no {what} on the bus within {timeout}s")

    def send_over_otlp(self, program: str) -> subprocess.CompletedProcess[str]:
        """Run a plain OpenTelemetry SDK program pointed at the swarm's receiver by the standard
        `OTEL_EXPORTER_OTLP_ENDPOINT` (gRPC), as any instrumented service would be."""
        env = {k: v for k, v in self.env.items() if not k.startswith("SWARMSH_")}
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://{self.env['SWARMSH_OTLP_GRPC_ADDR']}"
        env["OTEL_EXPORTER_OTLP_INSECURE"] = "true"
        sent = subprocess.run(
            [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60
        )
        assert sent.returncode == 0, sent.stderr
        assert "Failed to export" not in sent.stderr, sent.stderr
        return sent

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def receiver_ports() -> dict[str, str]:
    """Free loopback ports for the receiver, so runs in parallel (or a collector on the
    machine) never collide on 4317/4318."""
    return {
        "SWARMSH_OTLP_GRPC_ADDR": f"127.0.0.1:{unused_port()}",
        "SWARMSH_OTLP_HTTP_ADDR": f"127.0.0.1:{unused_port()}",
    }


@contextmanager
def running_swarm(extra_env: dict[str, str] | None = None, extra_conf: str = "") -> Iterator[Swarm]:
    """The repository's swarm under supervisord; `extra_conf` (program sections, e.g. a second
    executor) is appended to a copy of its supervisord.conf."""
    base = Path(tempfile.mkdtemp(prefix="swe-", dir="/tmp"))
    try:
        (base / "var").mkdir()
        if extra_conf:
            conf = (REPO / "supervisord.conf").read_text() + "\n" + extra_conf
            (base / "supervisord.conf").write_text(conf)
        else:
            (base / "supervisord.conf").symlink_to(REPO / "supervisord.conf")
        (base / ".venv").symlink_to(VENV)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SWARMSH_"))}
        env.update({"SWARMSH_HOME": str(base / "home"), "SWARMSH_FSYNC": "never"})
        env.update(receiver_ports())
        env.update(extra_env or {})
        swarm = Swarm(base, env)
        swarm.start()
        try:
            yield swarm
        finally:
            swarm.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


class Checkout:
    """A short directory holding the repository's supervisord.conf and virtual environment,
    driven like an operator drives it: `swarmsh up` (supervisord daemonizes) and `down`."""

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        self.base = base
        self.home = Path(env.get("SWARMSH_HOME") or base / "home")  # the daemons' home
        self.conf = base / "supervisord.conf"
        self.var = base / "var"
        self.env = env
        self.plugin_daemons: tuple[str, ...] = ()  # plug-in agents a test installed

    def run(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "swarmsh", *args],
            env=self.env if env is None else env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def supervisord_pid(self) -> int | None:
        try:
            return int((self.var / "supervisord.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def daemon_pids(self) -> dict[str, int]:
        """The pid in each daemon's instance lock (the last process that took it)."""
        pids = {}
        for name in (*PROGRAMS, *self.plugin_daemons):
            try:
                pids[name] = int((self.home / "state" / f"{name}.lock").read_text().strip())
            except (FileNotFoundError, ValueError):
                pass
        return pids

    def wait_for(
        self, predicate: Callable[[SpanRecord], bool], timeout: float = 20.0, what: str = "a span"
    ) -> SpanRecord:
        return Swarm(self.base, self.env).wait_for(predicate, timeout, what)

    def kill_everything(self) -> None:
        """Whatever a failed test left running: supervisord, then any daemon still alive."""
        for pid in (self.supervisord_pid(), *self.daemon_pids().values()):
            if pid and alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped, does not count)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout}s")
        time.sleep(0.05)  # processes ending give no event we can wait on from here


@contextmanager
def checkout(start_delay_s: float = 0.0) -> Iterator[Checkout]:
    """A checkout for `swarmsh up`; `start_delay_s` makes each daemon's interpreter start that
    much later (a loaded machine), through a wrapper standing in for .venv/bin/python."""
    base = Path(tempfile.mkdtemp(prefix="swc-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SWARMSH_"))}
    env.update(
        SWARMSH_HOME=str(base / "home"),
        SWARMSH_FSYNC="never",
        SWARMSH_SUPERVISOR_CONF=str(base / "supervisord.conf"),
        **receiver_ports(),
    )
    co = Checkout(base, env)
    try:
        (base / "supervisord.conf").symlink_to(REPO / "supervisord.conf")
        if start_delay_s:
            python = base / ".venv" / "bin" / "python"
            python.parent.mkdir(parents=True)
            python.write_text(
                f'#!/bin/sh\nsleep {start_delay_s}\nexec {VENV / "bin" / "python"} "$@"\n'
            )
            python.chmod(0o755)
        else:
            (base / ".venv").symlink_to(VENV)
        yield co
    finally:
        co.run("down", timeout=90)
        co.kill_everything()
        shutil.rmtree(base, ignore_errors=True)
