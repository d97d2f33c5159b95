"""The shipper's configuration: the standard OTEL_EXPORTER_OTLP_* variables, read once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from swarmsh.config import env_int
from swarmsh.errors import ConfigError
from swarmsh.telemetry.otlp import (
    ENV_ENDPOINT,
    ENV_PROTOCOL,
    ENV_TIMEOUT,
    ENV_TRACES_ENDPOINT,
    ENV_TRACES_PROTOCOL,
    PROTOCOLS,
)

ENV_HEADERS = "OTEL_EXPORTER_OTLP_HEADERS"
ENV_TRACES_HEADERS = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
ENV_TRACES_TIMEOUT = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
ENV_BATCH = "SWARMSH_SHIPPER_BATCH"  # spans per export request
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_BATCH = 2048
TRACES_PATH = "/v1/traces"


def parse_headers(raw: str) -> tuple[tuple[str, str], ...]:
    """`k1=v1,k2=v2` (values URL-encoded, as the OTel spec writes them), names lower-cased."""
    pairs = []
    for item in raw.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"{ENV_HEADERS}: {item.strip()!r} is not name=value")
        pairs.append((unquote(name.strip()).lower(), unquote(value.strip())))
    return tuple(pairs)


def _timeout(raw: str | None) -> float:
    # Seconds, as opentelemetry-python's own exporters read this variable.
    if not raw:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{ENV_TIMEOUT}={raw!r} is not a number of seconds") from None
    if not 0 < value < 3600:
        raise ConfigError(f"{ENV_TIMEOUT}={raw!r} is not between 0 and 3600 seconds")
    return value


@dataclass(frozen=True)
class ShipperSettings:
    """Where and how to export; `url` None means no collector is configured (idle)."""

    url: str | None = None  # HTTP: the full traces URL; gRPC: the endpoint
    protocol: str = "grpc"
    headers: tuple[tuple[str, str], ...] = field(default=())
    timeout: float = DEFAULT_TIMEOUT_S
    batch: int = DEFAULT_BATCH

    @property
    def grpc_target(self) -> str:
        """host:port of a gRPC endpoint (`http://h:p`, `https://h:p` or `h:p`)."""
        assert self.url is not None
        parts = urlsplit(self.url if "//" in self.url else f"//{self.url}")
        return parts.netloc

    @property
    def secure(self) -> bool:
        return bool(self.url and self.url.startswith("https://"))

    @classmethod
    def from_env(cls) -> ShipperSettings:
        env = os.environ
        proto = (env.get(ENV_TRACES_PROTOCOL) or env.get(ENV_PROTOCOL) or "grpc").strip().lower()
        if proto not in PROTOCOLS:
            raise ConfigError(
                f"{ENV_PROTOCOL}={proto!r} is not supported (one of: {', '.join(PROTOCOLS)})"
            )
        url = env.get(ENV_TRACES_ENDPOINT) or None
        if url is None and env.get(ENV_ENDPOINT):
            base = env[ENV_ENDPOINT]
            # The generic endpoint is a base: HTTP appends the signal's path, gRPC does not.
            url = base.rstrip("/") + TRACES_PATH if proto != "grpc" else base
        if url is not None and proto != "grpc" and not url.startswith(("http://", "https://")):
            raise ConfigError(f"OTLP/HTTP endpoint {url!r} is not an http(s) URL")
        headers = parse_headers(env.get(ENV_TRACES_HEADERS) or env.get(ENV_HEADERS) or "")
        timeout = _timeout(env.get(ENV_TRACES_TIMEOUT) or env.get(ENV_TIMEOUT))
        batch = env_int(ENV_BATCH, DEFAULT_BATCH, minimum=1)
        return cls(url, proto, headers, timeout, batch)
