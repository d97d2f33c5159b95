"""`python -m swarmsh.shipper`: the shipper under the life cycle every daemon shares."""

from __future__ import annotations

from swarmsh.config import Paths
from swarmsh.shipper.settings import ShipperSettings
from swarmsh.shipper.ship import READER, Shipper
from swarmsh.telemetry import Telemetry


def main() -> None:
    from swarmsh.daemon import run_daemon

    def make(paths: Paths, telemetry: Telemetry, start: str) -> Shipper:
        from swarmsh.bus import backend

        if backend.is_nats():  # its own durable consumer on the spans stream
            from swarmsh.shipper.jetstream import JetStreamShipper

            backend.as_daemon()
            conn = backend.connection("swarmsh-shipper")
            return JetStreamShipper(paths, ShipperSettings.from_env(), start, conn=conn)
        return Shipper(paths, ShipperSettings.from_env(), start)

    run_daemon(
        READER,
        make,
        start_help="its checkpoint (on first start: where `swarmsh up` marked the bus, "
        "else its end), the bus's first byte, or its end",
    )
