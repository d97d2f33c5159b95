"""OTLP settings, and the daemons' metrics exporter (spans leave through the shipper)."""

from __future__ import annotations

import os
from typing import Any

from swarmsh.errors import ConfigError

ENV_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
ENV_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
ENV_PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"
ENV_TRACES_PROTOCOL = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
ENV_METRICS_PROTOCOL = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
ENV_TIMEOUT = "OTEL_EXPORTER_OTLP_TIMEOUT"
PROTOCOLS = ("grpc", "http/protobuf")


def endpoint_configured() -> bool:
    return bool(os.environ.get(ENV_ENDPOINT) or os.environ.get(ENV_TRACES_ENDPOINT))


def protocol(signal_env: str) -> str:
    """The exporters do not read OTEL_EXPORTER_OTLP_PROTOCOL themselves, so we pick the class."""
    raw = (os.environ.get(signal_env) or os.environ.get(ENV_PROTOCOL) or "grpc").strip().lower()
    if raw not in PROTOCOLS:
        raise ConfigError(
            f"{ENV_PROTOCOL}={raw!r} is not supported (one of: {', '.join(PROTOCOLS)})"
        )
    return raw


def _timeout(default: float | None) -> dict[str, Any]:
    # An explicit OTEL_EXPORTER_OTLP_TIMEOUT wins; otherwise the caller's bound applies.
    if os.environ.get(ENV_TIMEOUT) or default is None:
        return {}
    return {"timeout": default}


def metric_exporter(timeout: float | None = None) -> Any:
    if protocol(ENV_METRICS_PROTOCOL) == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import (  # type: ignore[assignment]
            OTLPMetricExporter,
        )
    return OTLPMetricExporter(**_timeout(timeout))
