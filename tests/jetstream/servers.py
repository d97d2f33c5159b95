"""Real `nats-server -js` processes on loopback ports with temporary stores, for tests.

`NatsServer(store).start()` runs one server; `.url` is its client URL, `.kill()` sends SIGKILL,
`.stop()` SIGTERM, `.start()` again restarts it on the same port with the same store.
`NatsCluster(root).start()` runs three clustered servers (JetStream R3 possible); `.url` lists
all three, `.servers[i]` are the `NatsServer`s. Readiness is the monitoring port's /healthz
(JetStream included), polled with a deadline, not a fixed sleep.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NatsServer:
    def __init__(
        self,
        store: Path,
        *,
        name: str = "n0",
        cluster: str | None = None,
        cluster_port: int | None = None,
        routes: tuple[int, ...] = (),
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.port = free_port()
        self.monitor_port = free_port()
        self.cluster = cluster
        self.cluster_port = cluster_port
        self.routes = routes
        self.tls = tls  # (certificate, key): clients must speak TLS
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = store.parent / f"{name}.log"

    @property
    def url(self) -> str:
        return f"{'tls' if self.tls else 'nats'}://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        args = [NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(self.port)]
        args += ["-m", str(self.monitor_port), "-sd", str(self.store), "-n", self.name]
        if self.tls:
            args += ["--tls", "--tlscert", str(self.tls[0]), "--tlskey", str(self.tls[1])]
        if self.cluster:
            args += ["--cluster_name", self.cluster]
            args += ["--cluster", f"nats://127.0.0.1:{self.cluster_port}"]
            routes = ",".join(f"nats://127.0.0.1:{p}" for p in self.routes)
            args += ["--routes", routes]
        return args

    def start(self, *, wait: bool = True) -> NatsServer:
        self.store.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=log)  # noqa: S603
        if wait:
            self.wait_ready()
        return self

    def healthy(self) -> bool:
        url = f"http://127.0.0.1:{self.monitor_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310
                return bool(response.status == 200)
        except OSError:
            return False

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited: {self.log.read_text()[-2000:]}")
            if self.healthy():
                return
            time.sleep(0.05)
        raise TimeoutError(f"nats-server {self.name} not ready: {self.log.read_text()[-2000:]}")

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(10)

    def kill(self) -> None:
        """SIGKILL: what survives is what the store had synced."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        self._signal(signal.SIGTERM)


class NatsCluster:
    """Three JetStream servers clustered over loopback routes."""

    def __init__(self, root: Path, size: int = 3) -> None:
        ports = [free_port() for _ in range(size)]
        self.servers = [
            NatsServer(
                root / f"store{i}",
                name=f"n{i}",
                cluster="swarmsh-test",
                cluster_port=ports[i],
                routes=tuple(p for j, p in enumerate(ports) if j != i),
            )
            for i in range(size)
        ]

    @property
    def url(self) -> str:
        return ",".join(server.url for server in self.servers)

    def start(self) -> NatsCluster:
        for server in self.servers:
            server.start(wait=False)
        for server in self.servers:
            server.wait_ready(timeout=30)
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
