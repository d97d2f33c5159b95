"""`python -m swarmsh.receiver`: the daemon's life cycle — settings, instance lock, servers,
status file, graceful stop (stop accepting, finish the requests in hand, write, exit)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import click

from swarmsh.bus.backend import close_connection, is_nats
from swarmsh.bus.writer import JsonlWriter
from swarmsh.config import ENV_HOME, Paths
from swarmsh.daemon import (
    InstanceLock,
    configure_logging,
    die_with_supervisor,
    install_stop_handlers,
)
from swarmsh.errors import EXIT_FAILURE, SwarmshError
from swarmsh.receiver.commit import GroupCommitter, recent_keys
from swarmsh.receiver.ingest import READER, Ingest
from swarmsh.receiver.settings import ReceiverSettings
from swarmsh.receiver.stats import ReceiverStats

NAME = "receiver"
STATUS_EVERY_S = 1.0
GRACE_S = 5.0  # requests in hand get this long to finish (supervisord waits 10 s)
_log = logging.getLogger(__name__)


def _meter() -> tuple[Any, Any]:
    """The receiver's meter: exported over OTLP when an OTLP endpoint is configured (as every
    swarmsh process does), otherwise a no-op. Never point that endpoint at this receiver."""
    from swarmsh.telemetry import otlp

    if not otlp.endpoint_configured():
        from opentelemetry.metrics import NoOpMeter

        return NoOpMeter("swarmsh.receiver"), None
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    from swarmsh import __version__

    reader = PeriodicExportingMetricReader(otlp.metric_exporter())
    resource = Resource.create({"service.name": "swarmsh-receiver", "service.version": __version__})
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    return provider.get_meter("swarmsh.receiver", __version__), provider


class Receiver:
    """Both transports over one `Ingest`; `serve` returns once `stop` is set and all is shut."""

    def __init__(self, paths: Paths, settings: ReceiverSettings, meter: Any) -> None:
        self.paths, self.settings = paths, settings
        if is_nats():  # the spans stream, whose Nats-Msg-Id de-duplicates a retry
            from swarmsh.receiver.jetstream import jetstream_writer

            self.committer = GroupCommitter(jetstream_writer())
        else:
            self.committer = GroupCommitter(JsonlWriter(paths.bus))
            self.committer.remember(recent_keys(paths.bus))  # a retry after a restart: not twice
        self.stats = ReceiverStats(meter, {"grpc": None, "http": None})
        self.ingest = Ingest(settings, self.committer, paths.deadletter_file(READER))
        self._grpc: Any = None
        self._http: Any = None

    def start(self) -> None:
        if self.settings.grpc_addr:
            from swarmsh.receiver.grpc_server import start_grpc

            self._grpc, self.stats.addresses["grpc"] = start_grpc(
                self.settings, self.ingest, self.stats
            )
        if self.settings.http_addr:
            from swarmsh.receiver.http_server import start_http

            self._http, self.stats.addresses["http"] = start_http(
                self.settings, self.ingest, self.stats
            )
        scheme = "TLS" if self.settings.tls else "plaintext"
        _log.info(
            "receiving OTLP (%s%s): gRPC %s, HTTP %s",
            scheme,
            ", bearer token required" if self.settings.token else "",
            self.stats.addresses["grpc"] or "off",
            self.stats.addresses["http"] or "off",
        )

    def serve(self, stop: threading.Event) -> None:
        self.stats.write(self.paths.state)
        while not stop.wait(STATUS_EVERY_S):
            self.stats.write(self.paths.state)

    def close(self) -> None:
        """Stop accepting, let the requests in hand finish (within GRACE_S), stop the writer."""
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._grpc is not None:
            self._grpc.stop(GRACE_S).wait(GRACE_S + 1)
        self.committer.shutdown()
        close_connection()  # on NATS: what is buffered leaves before we exit
        self.stats.write(self.paths.state)


@click.command(name="swarmsh-receiver")
@click.option("--home", envvar=ENV_HOME, type=click.Path(file_okay=False))
def command(home: str | None) -> None:
    """Receive OTLP traces (gRPC and HTTP) and append them to the bus."""
    configure_logging(NAME)
    paths = Paths.from_home(home)
    lock = InstanceLock(paths.state, NAME)
    provider = None
    try:
        die_with_supervisor()
        settings = ReceiverSettings.from_env()
        paths.secure()
        lock.acquire()
        meter, provider = _meter()
        receiver = Receiver(paths, settings, meter)
        receiver.start()
    except (SwarmshError, OSError) as exc:
        click.echo(f"swarmsh-{NAME}: {exc}", err=True)
        lock.release()
        code = exc.exit_code if isinstance(exc, SwarmshError) else EXIT_FAILURE
        raise SystemExit(code) from None
    stop = threading.Event()
    install_stop_handlers(stop, lambda: None)
    try:
        receiver.serve(stop)
    finally:
        receiver.close()
        if provider is not None:
            provider.shutdown(timeout_millis=GRACE_S * 1000)
        lock.release()
    _log.info("%s stopped", NAME)


def main() -> None:
    command()
