"""A real receiver process on free loopback ports, and senders built on the OTel SDK's own
OTLP exporters (clients nobody here wrote)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

from tests.conftest import read_jsonl
from tests.otlp_receivers import unused_port


class Receiver:
    """`python -m swarmsh.receiver` against `home`; `grpc` and `http` are its endpoints."""

    def __init__(
        self, home: Path, env: dict[str, str] | None = None, log_dir: Path | None = None
    ) -> None:
        self.home = home
        self.grpc_port, self.http_port = unused_port(), unused_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        self.env.update(
            SWARMSH_HOME=str(home),
            SWARMSH_OTLP_GRPC_ADDR=f"127.0.0.1:{self.grpc_port}",
            SWARMSH_OTLP_HTTP_ADDR=f"127.0.0.1:{self.http_port}",
            **(env or {}),
        )
        self.log = (log_dir or home.parent) / f"receiver-{self.grpc_port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def grpc(self) -> str:
        return f"http://127.0.0.1:{self.grpc_port}"

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/v1/traces"

    @property
    def bus(self) -> Path:
        return self.home / "spans.jsonl"

    def spans(self) -> list[dict[str, Any]]:
        return read_jsonl(self.bus)

    def status(self) -> dict[str, Any]:
        return json.loads((self.home / "state" / "receiver.json").read_text())

    def counts(
        self, transport: str, key: str, at_least: int = 1, timeout: float = 5.0
    ) -> dict[str, int]:
        """The status file's counts once `key` reaches `at_least` (it is written each second)."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.status()["counts"].get(transport, {})
            if counts.get(key, 0) >= at_least or time.monotonic() > deadline:
                return counts
            time.sleep(0.1)  # the status file is rewritten on a timer: nothing to wait on

    def start(self, timeout: float = 20.0) -> Receiver:
        status = self.home / "state" / "receiver.json"
        with contextlib.suppress(FileNotFoundError):
            status.unlink()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "swarmsh.receiver"], env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while not status.exists():  # written once both servers listen
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"receiver did not start: {self.log.read_text()}")
            time.sleep(0.02)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> int | None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode if self.process else None


@contextlib.contextmanager
def running_receiver(
    home: Path, env: dict[str, str] | None = None, log_dir: Path | None = None
) -> Iterator[Receiver]:
    receiver = Receiver(home, env, log_dir).start()
    try:
        yield receiver
    finally:
        receiver.stop()


def exporter(protocol: str, endpoint: str, **kwargs: Any) -> SpanExporter:
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint, insecure=True, **kwargs)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    return HttpExporter(endpoint=endpoint, **kwargs)


def provider(span_exporter: SpanExporter, service: str = "shop") -> TracerProvider:
    """A plain SDK tracer provider exporting each span as it ends (to see each answer)."""
    tracer_provider = TracerProvider(resource=Resource.create({"service.name": service}))
    tracer_provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    return tracer_provider
