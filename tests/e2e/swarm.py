"""A real supervisord running the repository's supervisord.conf, for end-to-end tests."""

from __future__ import annotations

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

REPO = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent
PROGRAMS = ("roberts", "scrum", "lean", "executor")
RUNNING = 20


class Swarm:
    """One supervisord in a short temporary directory (unix sockets stop at 108 bytes).

    The directory holds a symlink to the repository's supervisord.conf and to
    the project's virtual environment, so `%(here)s` in the real config points
    at the test's own var/ directory while running the real code.
    """

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        self.base = base
        self.home = base / "home"
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

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def running_swarm(extra_env: dict[str, str] | None = None) -> Iterator[Swarm]:
    base = Path(tempfile.mkdtemp(prefix="swe-", dir="/tmp"))
    try:
        (base / "var").mkdir()
        (base / "supervisord.conf").symlink_to(REPO / "supervisord.conf")
        (base / ".venv").symlink_to(VENV)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SWARMSH_"))}
        env.update({"SWARMSH_HOME": str(base / "home"), "SWARMSH_FSYNC": "never"})
        env.update(extra_env or {})
        swarm = Swarm(base, env)
        swarm.start()
        try:
            yield swarm
        finally:
            swarm.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
