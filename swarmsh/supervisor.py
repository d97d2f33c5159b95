"""Talking to the swarm's supervisord: find its config, start it, read process states, stop it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swarmsh.config import DEFAULT_HOME, ENV_HOME
from swarmsh.errors import SwarmshError
from swarmsh.fsutil import DIR_MODE, FILE_MODE, write_atomic

ENV_SUPERVISOR_CONF = "SWARMSH_SUPERVISOR_CONF"
PROGRAMS = ("roberts", "scrum", "lean", "executor", "receiver", "rules", "shipper")
# The daemons that follow a file and commit where they start (the receiver follows nothing).
READERS = ("roberts", "scrum", "lean", "executor", "rules", "shipper")
GROUP = "swarm"
LOCAL_NATS = "nats"  # the local nats-server's program: started by `up` only when asked
RUNNING = "RUNNING"
STOPPED = "STOPPED"
HOME_RECORD = "swarm.json"  # in var/: the home the running supervisord's daemons use
# supervisord stops its children in parallel, each within stopwaitsecs (10 s), then exits.
DEFAULT_STOP_TIMEOUT_S = 60.0


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


def var_dir(config: Path) -> Path:
    """The repository's config keeps socket, pid file and logs in %(here)s/var."""
    return config.parent / "var"


def socket_path(config: Path) -> Path:
    return var_dir(config) / "supervisor.sock"


def make_private_dir(path: Path) -> Path:
    """`path` as a directory only we can enter: created 0700, or tightened to 0700 when it is
    ours; refused when it is a symlink or belongs to someone else (they could read the logs)."""
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise SupervisorError(
            f"{path} is not a directory owned by you (uid {os.geteuid()}): "
            "move it away and run the command again"
        )
    if st.st_mode & 0o077:
        os.chmod(path, DIR_MODE)
    return path


def tighten_logs(directory: Path) -> None:
    """Logs of earlier runs (created under a looser umask) become owner-only too."""
    for log in directory.glob("*.log*"):
        st = os.lstat(log)
        if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and st.st_mode & 0o077:
            os.chmod(log, FILE_MODE)


def home_from_environ(environ: dict[str, str]) -> Path | None:
    """The home a process with this environment uses (as `config.resolve_home` decides)."""
    raw = environ.get(ENV_HOME) or DEFAULT_HOME
    if raw == "~" or raw.startswith("~/"):
        if "HOME" not in environ:
            return None
        raw = environ["HOME"] + raw[1:]
    return Path(raw) if os.path.isabs(raw) else None


def process_environ(pid: int) -> dict[str, str] | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, _, v in pairs}


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs; a zombie (dead, not yet reaped) does not."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        pass
    except IndexError:
        return False
    try:
        os.kill(pid, 0)  # no /proc: ask the kernel
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_supervisord(pid: int) -> bool:
    """Whether `pid` runs supervisord (True when this system cannot tell)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    # `python .venv/bin/supervisord -c …`, `supervisord -n …`, `python -m supervisor.supervisord`
    return b"supervisord" in cmdline


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
        self.var = var_dir(config)
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

    def pid(self) -> int | None:
        """supervisord's pid: asked over the socket, else from its pid file."""
        try:
            return int(self._proxy().supervisor.getPID())
        except (OSError, xmlrpc.client.Error):
            pass
        try:
            pid = int((self.var / "supervisord.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        # a pid file left by a killed supervisord may name a process that reused the pid
        return pid if pid_alive(pid) and is_supervisord(pid) else None

    def processes(self) -> list[ProcessInfo]:
        """The swarm's daemons, and any other program (the local nats-server) once started:
        one that is STOPPED outside the swarm's group was never asked for (autostart=false)."""
        try:
            infos = self._proxy().supervisor.getAllProcessInfo()
        except (OSError, xmlrpc.client.Error) as exc:
            raise SupervisorError(f"supervisord is not reachable at {self.socket}: {exc}") from None
        infos = [i for i in infos if i["group"] == GROUP or i["statename"] != STOPPED]
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

    def start_program(self, name: str) -> None:
        """Start a program that is not started with the swarm (e.g. `nats`) and return once it
        is RUNNING (after its startsecs); already running is fine."""
        try:
            self._proxy().supervisor.startProcess(name, True)
        except xmlrpc.client.Fault as exc:
            if "ALREADY_STARTED" not in exc.faultString:
                log = self.var / f"{name}.log"
                raise SupervisorError(
                    f"{name} did not start ({exc.faultString}); see {log}"
                ) from None
        except OSError as exc:
            raise SupervisorError(f"supervisord is not reachable at {self.socket}: {exc}") from None

    def swarm_home(self) -> Path | None:
        """The home the running supervisord hands its daemons: the record `up` wrote for this
        supervisord, else (started by hand) its own environment; None when neither says."""
        pid = self.pid()
        if pid is None:
            return None
        try:
            record = json.loads((self.var / HOME_RECORD).read_text())
            if record.get("supervisord_pid") == pid:
                return Path(record["home"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        environ = process_environ(pid)
        return None if environ is None else home_from_environ(environ)

    def start(self, env: dict[str, str], home: Path) -> None:
        """Start supervisord (it daemonizes) with the project's own supervisord binary, in an
        owner-only var/ and under umask 077 (its own log is opened before it applies umask=)."""
        make_private_dir(self.var)
        tighten_logs(self.var)
        binary = Path(sys.executable).parent / "supervisord"
        result = subprocess.run(
            [str(binary), "-c", str(self.config)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            umask=0o077,
        )
        if result.returncode != 0:
            raise SupervisorError(f"supervisord failed to start: {result.stderr.strip()}")
        deadline = time.monotonic() + 10
        while (pid := self.pid()) is None and time.monotonic() < deadline:
            time.sleep(0.05)  # the daemonized supervisord writes its pid file a moment later
        record = {"home": str(home), "supervisord_pid": pid}
        write_atomic(self.var / HOME_RECORD, json.dumps(record).encode())

    def shutdown(self, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> None:
        """Ask supervisord to stop its daemons and exit, and wait until it has exited (so its
        daemons have stopped, gracefully or after stopwaitsecs, and a new `up` can start)."""
        pid = self.pid()
        try:
            self._proxy().supervisor.shutdown()
        except (OSError, xmlrpc.client.Error) as exc:
            raise SupervisorError(f"supervisord is not reachable at {self.socket}: {exc}") from None
        if pid is not None:
            self.wait_exited(pid, timeout)

    def wait_exited(self, pid: int, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while pid_alive(pid):
            if time.monotonic() > deadline:
                raise SupervisorError(
                    f"supervisord (pid {pid}) has not exited {timeout:.0f}s after it was asked "
                    f"to stop; see {self.var / 'supervisord.log'}"
                )
            time.sleep(0.05)  # a process's exit gives no event to a process not its parent
