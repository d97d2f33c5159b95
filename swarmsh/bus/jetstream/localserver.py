"""The local JetStream server `swarmsh up` starts when asked (`SWARMSH_NATS_LOCAL=1`):
supervisord's program `nats` runs `python -m swarmsh.bus.jetstream.localserver`, which checks
the settings and replaces itself with `nats-server -js`, listening on the address of the first
URL in `SWARMSH_BUS` (loopback only) with its store in `SWARMSH_NATS_STORE`.

A server other hosts reach is a deployment of its own (deploy/nats/cluster.conf): this one has
no credentials or TLS, so it never listens beyond this machine.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from swarmsh.config import ENV_HOME, env_flag, resolve_home
from swarmsh.errors import ConfigError, SwarmshError
from swarmsh.safetext import escape

ENV_LOCAL = "SWARMSH_NATS_LOCAL"  # 1: `swarmsh up` starts the local server (program `nats`)
ENV_STORE = "SWARMSH_NATS_STORE"  # its JetStream store [default: $SWARMSH_HOME/nats]
ENV_SERVER_BIN = "SWARMSH_NATS_SERVER_BIN"  # the nats-server binary [default: found on PATH]
STORE_DIR = "nats"
SERVER_NAME = "swarmsh-local"
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")
_FALLBACK_BIN = "/usr/sbin/nats-server"  # Debian's, not always on a user's PATH


def local_requested() -> bool:
    """Whether this environment asks `up` for the local server (a bad value: ConfigError)."""
    return env_flag(ENV_LOCAL)


@dataclass(frozen=True)
class LocalServer:
    """What the local server runs with."""

    binary: Path
    host: str
    port: int
    store: Path

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def argv(self) -> list[str]:
        host = self.host.removeprefix("[").removesuffix("]")
        return [
            str(self.binary),
            "-js",
            "-sd",
            str(self.store),
            "-a",
            host,
            "-p",
            str(self.port),
            "-n",
            SERVER_NAME,
        ]

    @classmethod
    def from_env(cls) -> LocalServer:
        from swarmsh.bus.jetstream.settings import ENV_BUS, BusSettings

        settings = BusSettings.from_env()
        if settings.nats is None:
            raise ConfigError(
                f"the local nats-server serves a NATS bus: set {ENV_BUS}=nats://127.0.0.1:4222"
            )
        first = settings.nats.servers[0]
        scheme, _, address = first.partition("://")
        host, _, port = address.rpartition(":")
        if scheme != "nats" or host not in LOOPBACK:
            raise ConfigError(
                f"the local nats-server listens on loopback without TLS or credentials, so the "
                f"first URL of {ENV_BUS} must be nats://127.0.0.1:PORT (or localhost, [::1]), "
                f"not {escape(first)!r}; for other hosts deploy a cluster (deploy/nats/)"
            )
        return cls(find_binary(), host, int(port), store_dir())


def store_dir() -> Path:
    raw = os.environ.get(ENV_STORE, "").strip()
    if not raw:
        return resolve_home(os.environ.get(ENV_HOME)) / STORE_DIR
    if len(raw) > 4096 or "\x00" in raw:
        raise ConfigError(f"{ENV_STORE} is not a usable path")
    return Path(raw).expanduser().absolute()


def find_binary() -> Path:
    raw = os.environ.get(ENV_SERVER_BIN, "").strip()
    if len(raw) > 4096 or "\x00" in raw:
        raise ConfigError(f"{ENV_SERVER_BIN} is not a usable path")
    found = raw or shutil.which("nats-server") or _FALLBACK_BIN
    path = Path(found)
    if not (path.is_file() and os.access(path, os.X_OK)):
        where = f"{ENV_SERVER_BIN}={escape(raw)!r}" if raw else "PATH or /usr/sbin"
        raise ConfigError(
            f"no nats-server executable ({where}): apt-get install nats-server, or set "
            f"{ENV_SERVER_BIN}"
        )
    return path


def main() -> None:
    """Check the settings, make the store owner-only, then become nats-server (no shell)."""
    from swarmsh.fsutil import ensure_dir

    try:
        server = LocalServer.from_env()
        ensure_dir(server.store)  # 0700, ours, not a link: the spans are in there
    except (SwarmshError, OSError) as exc:
        code = exc.exit_code if isinstance(exc, SwarmshError) else 1
        print(f"swarmsh-nats: {exc}", file=sys.stderr)
        raise SystemExit(code) from None
    print(f"swarmsh-nats: {server.url}, store {server.store}", file=sys.stderr, flush=True)
    os.execv(server.binary, server.argv())  # noqa: S606 - fixed argv, no shell


if __name__ == "__main__":
    main()
