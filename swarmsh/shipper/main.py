"""`python -m swarmsh.shipper`: the shipper under the life cycle every daemon shares."""

from __future__ import annotations

from swarmsh.config import Paths
from swarmsh.shipper.settings import ShipperSettings
from swarmsh.shipper.ship import READER, Shipper
from swarmsh.telemetry import Telemetry


def main() -> None:
    from swarmsh.daemon import run_daemon

    def make(paths: Paths, telemetry: Telemetry, start: str) -> Shipper:
        return Shipper(paths, ShipperSettings.from_env(), start)

    run_daemon(
        READER,
        make,
        start_help="its checkpoint (on first start: where `swarmsh up` marked the bus, "
        "else its end), the bus's first byte, or its end",
    )
