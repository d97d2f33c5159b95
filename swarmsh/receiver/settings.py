"""The receiver's configuration, read once from the environment and checked in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass

from swarmsh.bus.follower import DEFAULT_MAX_LINE
from swarmsh.config import ENV_MAX_LINE, env_float, env_int
from swarmsh.errors import ConfigError

ENV_GRPC_ADDR = "SWARMSH_OTLP_GRPC_ADDR"
ENV_HTTP_ADDR = "SWARMSH_OTLP_HTTP_ADDR"
ENV_TOKEN = "SWARMSH_RECEIVER_TOKEN"  # noqa: S105 - a variable name, not a secret
ENV_TLS_CERT = "SWARMSH_RECEIVER_TLS_CERT"
ENV_TLS_KEY = "SWARMSH_RECEIVER_TLS_KEY"
ENV_MAX_REQUEST = "SWARMSH_RECEIVER_MAX_REQUEST_BYTES"
ENV_MAX_CONCURRENCY = "SWARMSH_RECEIVER_MAX_CONCURRENCY"
ENV_MAX_INFLIGHT = "SWARMSH_RECEIVER_MAX_INFLIGHT_BYTES"
ENV_RETRY_AFTER = "SWARMSH_RECEIVER_RETRY_AFTER_S"

DEFAULT_GRPC_ADDR = "127.0.0.1:4317"
DEFAULT_HTTP_ADDR = "127.0.0.1:4318"
DEFAULT_MAX_REQUEST = 4 << 20
DEFAULT_MAX_CONCURRENCY = 4  # one core does the work: more would only hold more memory
DEFAULT_MAX_INFLIGHT = 16 << 20
DEFAULT_RETRY_AFTER_S = 1.0


def parse_address(name: str, raw: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` → (host, port)."""
    host, sep, port = raw.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{name}={raw!r} is not host:port (empty turns it off)")
    return host, int(port)


def _address(name: str, default: str) -> str | None:
    raw = os.environ.get(name)
    value = default if raw is None else raw.strip()
    if not value:
        return None
    parse_address(name, value)
    return value


@dataclass(frozen=True)
class ReceiverSettings:
    grpc_addr: str | None = DEFAULT_GRPC_ADDR
    http_addr: str | None = DEFAULT_HTTP_ADDR
    token: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    max_request_bytes: int = DEFAULT_MAX_REQUEST
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    max_inflight_bytes: int = DEFAULT_MAX_INFLIGHT
    retry_after_s: float = DEFAULT_RETRY_AFTER_S
    max_line_bytes: int = DEFAULT_MAX_LINE

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @classmethod
    def from_env(cls) -> ReceiverSettings:
        grpc_addr = _address(ENV_GRPC_ADDR, DEFAULT_GRPC_ADDR)
        http_addr = _address(ENV_HTTP_ADDR, DEFAULT_HTTP_ADDR)
        if grpc_addr is None and http_addr is None:
            raise ConfigError(f"{ENV_GRPC_ADDR} and {ENV_HTTP_ADDR} are both empty: nothing to do")
        token = os.environ.get(ENV_TOKEN) or None
        if token is not None and (not token.isascii() or not token.isprintable() or " " in token):
            raise ConfigError(f"{ENV_TOKEN} must be printable ASCII without spaces")
        cert, key = os.environ.get(ENV_TLS_CERT) or None, os.environ.get(ENV_TLS_KEY) or None
        if (cert is None) != (key is None):
            raise ConfigError(f"set both {ENV_TLS_CERT} and {ENV_TLS_KEY}, or neither")
        for path in (cert, key):
            if path is not None and not os.path.isfile(path):
                raise ConfigError(f"TLS file {path!r} does not exist")
        max_request = env_int(ENV_MAX_REQUEST, DEFAULT_MAX_REQUEST, minimum=1024)
        settings = cls(
            grpc_addr=grpc_addr,
            http_addr=http_addr,
            token=token,
            tls_cert=cert,
            tls_key=key,
            max_request_bytes=max_request,
            max_concurrency=env_int(ENV_MAX_CONCURRENCY, DEFAULT_MAX_CONCURRENCY, minimum=1),
            max_inflight_bytes=env_int(ENV_MAX_INFLIGHT, DEFAULT_MAX_INFLIGHT, minimum=1024),
            retry_after_s=env_float(ENV_RETRY_AFTER, DEFAULT_RETRY_AFTER_S, minimum=0.0),
            max_line_bytes=env_int(ENV_MAX_LINE, DEFAULT_MAX_LINE, minimum=64),  # as the readers,
        )
        if settings.max_inflight_bytes < max_request:
            raise ConfigError(f"{ENV_MAX_INFLIGHT} must be at least {ENV_MAX_REQUEST}")
        return settings
