"""Talking to the swarm's supervisord: find its config, start it, read process states, stop it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swarmsh.errors import SwarmshError

ENV_SUPERVISOR_CONF = "SWARMSH_SUPERVISOR_CONF"
PROGRAMS = ("roberts", "scrum", "lean", "executor")
GROUP = "swarm"
RUNNING = "RUNNING"


class SupervisorError(SwarmshError):
    """supervisord could not be reached, started or stopped."""


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Argument, then SWARMSH_SUPERVISOR_CONF, then ./supervisord.conf, then the checkout's."""
    candidates = [explicit, os.environ.get(ENV_SUPERVISOR_CONF), "supervisord.conf"]
    candidates.append(Path(__file__).resolve().parent.parent / "supervisord.conf")
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate).absolute()
    raise SupervisorError("no supervisord.conf found: pass --config or set SWARMSH_SUPERVISOR_CONF")


def socket_path(config: Path) -> Path:
    """Where the repository's config puts the control socket (%(here)s/var/supervisor.sock)."""
    return config.parent / "var" / "supervisor.sock"


@dataclass(frozen=True)
class ProcessInfo:
    name: str
    group: str
    state: str
    pid: int
    start: float
    now: float
    description: str
    exitstatus: int

    @property
    def uptime(self) -> float:
        return max(0.0, self.now - self.start) if self.state == RUNNING else 0.0


class SupervisorClient:
    """XML-RPC over supervisord's unix socket (no inet server is configured)."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.socket = socket_path(config)

    def _proxy(self) -> Any:
        from supervisor.xmlrpc import SupervisorTransport

        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def reachable(self) -> bool:
        try:
            return self._proxy().supervisor.getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Error):
            return False

    def processes(self) -> list[ProcessInfo]:
        try:
            infos = self._proxy().supervisor.getAllProcessInfo()
        except (OSError, xmlrpc.client.Error) as exc:
            raise SupervisorError(f"supervisord is not reachable at {self.socket}: {exc}") from None
        return [
            ProcessInfo(
                name=i["name"],
                group=i["group"],
                state=i["statename"],
                pid=i["pid"],
                start=float(i["start"]),
                now=float(i["now"]),
                description=i["description"],
                exitstatus=i["exitstatus"],
            )
            for i in infos
        ]

    def wait_running(self, timeout: float = 30.0) -> list[ProcessInfo]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                infos = self.processes()
                if infos and all(p.state == RUNNING for p in infos):
                    return infos
            except SupervisorError:
                infos = []
            if time.monotonic() > deadline:
                states = ", ".join(f"{p.name}={p.state}" for p in infos) or "unreachable"
                raise SupervisorError(f"the swarm did not come up within {timeout:.0f}s ({states})")
            time.sleep(0.1)  # supervisord offers no event to wait on over XML-RPC

    def start(self, env: dict[str, str]) -> None:
        """Start supervisord (it daemonizes) with the project's own supervisord binary."""
        (self.config.parent / "var").mkdir(mode=0o700, exist_ok=True)
        binary = Path(sys.executable).parent / "supervisord"
        result = subprocess.run(
            [str(binary), "-c", str(self.config)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise SupervisorError(f"supervisord failed to start: {result.stderr.strip()}")

    def shutdown(self, timeout: float = 60.0) -> None:
        try:
            self._proxy().supervisor.shutdown()
        except (OSError, xmlrpc.client.Error) as exc:
            raise SupervisorError(f"supervisord is not reachable at {self.socket}: {exc}") from None
        deadline = time.monotonic() + timeout
        while self.socket.exists() and time.monotonic() < deadline:
            if not self.reachable():
                return
            time.sleep(0.1)
