"""`python -m swarmsh.shipper`: the daemon's life cycle — settings, instance lock, follow the
bus and export, graceful stop (finish or abandon the batch in hand, commit, exit)."""

from __future__ import annotations

import gc
import logging
import threading

import click

from swarmsh.config import ENV_HOME, Paths
from swarmsh.daemon import (
    InstanceLock,
    configure_logging,
    die_with_supervisor,
    install_stop_handlers,
)
from swarmsh.errors import SwarmshError
from swarmsh.shipper.settings import ShipperSettings
from swarmsh.shipper.ship import READER, Shipper

_log = logging.getLogger(__name__)


@click.command(name="swarmsh-shipper")
@click.option("--home", envvar=ENV_HOME, type=click.Path(file_okay=False))
@click.option(
    "--from",
    "start",
    type=click.Choice(["checkpoint", "beginning", "end"]),
    default="checkpoint",
    show_default=True,
    help="Where to start: its checkpoint (first start: where `swarmsh up` marked the bus).",
)
def command(home: str | None, start: str) -> None:
    """Export the bus's sampled spans to the OTLP collector of OTEL_EXPORTER_OTLP_ENDPOINT."""
    configure_logging(READER)
    paths = Paths.from_home(home)
    lock = InstanceLock(paths.state, READER)
    try:
        die_with_supervisor()
        settings = ShipperSettings.from_env()
        paths.secure()
        lock.acquire()
        shipper = Shipper(paths, settings, start)
    except SwarmshError as exc:
        click.echo(f"swarmsh-{READER}: {exc}", err=True)
        lock.release()
        raise SystemExit(exc.exit_code) from None
    gc.freeze()  # start-up objects live as long as we do: the collector need not scan them
    stop = threading.Event()
    install_stop_handlers(stop, shipper.wakeup)
    try:
        shipper.run(stop)
    except SwarmshError as exc:  # a corrupt state file: no retry helps
        _log.critical("%s", exc)
        raise SystemExit(exc.exit_code) from None
    finally:
        shipper.close()
        lock.release()
    _log.info("%s stopped (%d spans exported)", READER, shipper.exported)


def main() -> None:
    command()
