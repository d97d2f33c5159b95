"""`SWARMSH_BUS` and the `SWARMSH_NATS_*` settings, parsed and validated (no nats import).

Use: `BusSettings.from_env()` -> `.is_nats` says which backend; on NATS, `.nats` is a
`NatsSettings` with the server URLs, credentials/TLS files and stream parameters that
`connection.NatsConnection.open(settings)` and `streams` use. Every value comes from the
environment and is hostile: bounded, checked, and refused with a `ConfigError` (exit 2) that
names the variable.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from swarmsh.config import env_float, env_int
from swarmsh.errors import ConfigError
from swarmsh.safetext import escape

ENV_BUS = "SWARMSH_BUS"
ENV_CREDS = "SWARMSH_NATS_CREDS"  # a NATS .creds file (JWT + nkey seed)
ENV_TLS_CA = "SWARMSH_NATS_TLS_CA"  # CA bundle to verify the servers (implies TLS)
ENV_TLS_CERT = "SWARMSH_NATS_TLS_CERT"  # client certificate (mutual TLS), with ..._KEY
ENV_TLS_KEY = "SWARMSH_NATS_TLS_KEY"
ENV_REPLICAS = "SWARMSH_NATS_REPLICAS"  # streams' and buckets' replicas: 1 (one server) or 3
ENV_MAX_AGE = "SWARMSH_NATS_MAX_AGE_S"  # spans stream: drop spans older than this
ENV_MAX_BYTES = "SWARMSH_NATS_MAX_BYTES"  # spans stream: keep at most this many bytes
ENV_DUPLICATE_WINDOW = "SWARMSH_NATS_DUPLICATE_WINDOW_S"  # Nats-Msg-Id de-duplication window
ENV_TIMEOUT = "SWARMSH_NATS_TIMEOUT_S"  # connect and publish-acknowledgement timeout
ENV_ACK_WAIT = "SWARMSH_NATS_ACK_WAIT_S"  # unacknowledged this long: delivered again

FILE = "file"
MAX_URLS = 16
MAX_BUS_VALUE = 4096
# nats://host:port or tls://host:port; a host name, IPv4 or [IPv6]; no user:password@ (secrets
# in a URL end up in process listings and logs: use SWARMSH_NATS_CREDS).
_URL = re.compile(
    r"(?P<scheme>nats|tls)://(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])"
    r"(?::(?P<port>[0-9]{1,5}))?"
)
DAY_S = 86400.0


@dataclass(frozen=True)
class NatsSettings:
    """Where the servers are, how to authenticate, and the streams' parameters."""

    servers: tuple[str, ...]
    creds: Path | None = None
    tls_ca: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    replicas: int = 1
    max_age_s: float = 7 * DAY_S
    max_bytes: int = 1 << 30
    duplicate_window_s: float = 2 * 3600.0
    timeout_s: float = 5.0
    ack_wait_s: float = 30.0

    @property
    def tls(self) -> bool:
        return (
            self.tls_ca is not None
            or self.tls_cert is not None
            or any(url.startswith("tls://") for url in self.servers)
        )


@dataclass(frozen=True)
class BusSettings:
    """Which bus: `nats is None` for the JSONL files, else the NATS settings."""

    nats: NatsSettings | None = None

    @property
    def is_nats(self) -> bool:
        return self.nats is not None

    @classmethod
    def from_env(cls) -> BusSettings:
        raw = os.environ.get(ENV_BUS, "").strip()
        if raw in ("", FILE):
            return cls(None)
        return cls(nats_settings(raw))


def parse_servers(raw: str) -> tuple[str, ...]:
    """`nats://h1:4222,nats://h2:4222` -> the URLs, each checked; `ConfigError` otherwise."""
    if len(raw) > MAX_BUS_VALUE:
        raise ConfigError(f"{ENV_BUS} is longer than {MAX_BUS_VALUE} characters")
    parts = [part.strip() for part in raw.split(",")]
    if len(parts) > MAX_URLS:
        raise ConfigError(f"{ENV_BUS} lists more than {MAX_URLS} servers")
    servers: list[str] = []
    for part in parts:
        match = _URL.fullmatch(part)
        if match is None:
            raise ConfigError(
                f"{ENV_BUS}={escape(raw)!r}: {escape(part)!r} is neither 'file' nor a NATS URL "
                "(nats://host:port or tls://host:port, comma-separated; no user:password@, "
                f"use {ENV_CREDS})"
            )
        port = match.group("port")
        if port is not None and not 1 <= int(port) <= 65535:
            raise ConfigError(f"{ENV_BUS}: port {port} in {escape(part)!r} is out of range")
        servers.append(part if port is not None else f"{part}:4222")
    return tuple(servers)


def _file(name: str) -> Path | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if len(raw) > 4096 or "\x00" in raw:
        raise ConfigError(f"{name} is not a usable path")
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ConfigError(f"{name}={escape(raw)!r} is not a readable file")
    return path


def _max_bytes() -> int:
    value = env_int(ENV_MAX_BYTES, 1 << 30, minimum=-1)
    if value == 0:
        raise ConfigError(f"{ENV_MAX_BYTES}=0: use -1 for no size limit, or a positive size")
    return value


def nats_settings(raw: str) -> NatsSettings:
    """The NATS settings for `SWARMSH_BUS=raw` and the `SWARMSH_NATS_*` variables."""
    servers = parse_servers(raw)
    cert, key = _file(ENV_TLS_CERT), _file(ENV_TLS_KEY)
    if (cert is None) != (key is None):
        raise ConfigError(f"{ENV_TLS_CERT} and {ENV_TLS_KEY} go together: set both or neither")
    replicas = env_int(ENV_REPLICAS, 1, minimum=1)
    if replicas > 5:
        raise ConfigError(f"{ENV_REPLICAS}={replicas} is more than JetStream's 5 replicas")
    window = env_float(ENV_DUPLICATE_WINDOW, 2 * 3600.0, minimum=1.0)
    max_age = env_float(ENV_MAX_AGE, 7 * DAY_S, minimum=0.0)  # 0: no age limit
    if max_age and window > max_age:
        raise ConfigError(f"{ENV_DUPLICATE_WINDOW} must not exceed {ENV_MAX_AGE}")
    timeout = env_float(ENV_TIMEOUT, 5.0, minimum=0.05)
    ack_wait = min(env_float(ENV_ACK_WAIT, 30.0, minimum=1.0), 3600.0)
    if ack_wait * 4 > window:  # a taken-over command's spans must still be de-duplicated
        raise ConfigError(f"{ENV_DUPLICATE_WINDOW} must be at least 4 x {ENV_ACK_WAIT}")
    return NatsSettings(
        servers=servers,
        creds=_file(ENV_CREDS),
        tls_ca=_file(ENV_TLS_CA),
        tls_cert=cert,
        tls_key=key,
        replicas=replicas,
        max_age_s=max_age,
        max_bytes=_max_bytes(),
        duplicate_window_s=window,
        timeout_s=min(timeout, 600.0),
        ack_wait_s=ack_wait,
    )
