"""Motions opened as a CLI would and checked exactly once, for the restart and cluster tests:
each `open` in a meeting of its own makes roberts command one call-to-order, which the
executor runs; a check waits until the consumers settled and counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from swarmsh.bus import backend
from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.bus.jetstream.subjects import COMMANDS_STREAM, EXECUTOR_CONSUMER
from swarmsh.errors import BusWriteError
from tests.jetstream.helpers import commands_executed, settled, spans, wait_until

CALL = "swarmsh.roberts.call-to-order"


def opening(motion: str) -> list[tuple[str, dict[str, Any]]]:
    """An `open` in a meeting of its own: roberts commands one call-to-order for it."""
    attrs = {
        "roberts.motion_id": motion,
        "roberts.meeting_id": f"g-{motion}",
        "roberts.motion.kind": "general",
    }
    return [("swarmsh.roberts.open", attrs)]


def open_motions(home: Path, motions: list[str]) -> list[str]:
    """Publish each motion's open as a CLI would (one span, one acknowledged publication);
    the motions whose span was acknowledged (a CLI without its ack exits 3)."""
    from swarmsh.telemetry import setup_telemetry

    acked = []
    for motion in motions:
        telemetry = setup_telemetry("swarmsh-cli", home / "unused", otlp=False, console=False)
        try:
            ((name, attrs),) = opening(motion)
            attrs = {"swarm.agent": "roberts", "swarm.trigger": "open", **attrs}
            with telemetry.tracer.start_as_current_span(name, attributes=attrs):
                pass
            telemetry.flush_bus(keep_on_error=False)
            acked.append(motion)
        except BusWriteError:
            backend.close_connection()  # as the CLI's exit drops its connection
        finally:
            telemetry.shutdown()
    backend.close_connection()
    return acked


def calls(conn: NatsConnection) -> Counter[str]:
    return Counter(s["attributes"]["roberts.meeting_id"] for s in spans(conn) if s["name"] == CALL)


def settled_all(conn: NatsConnection) -> Callable[[], bool]:
    return lambda: settled(conn, "roberts") and settled(conn, EXECUTOR_CONSUMER, COMMANDS_STREAM)


def check_exactly_once(conn: NatsConnection, motions: list[str]) -> None:
    wait_until(lambda: set(calls(conn)) >= {f"g-{m}" for m in motions}, 30, "every call")
    wait_until(settled_all(conn), 20, "consumers settled")
    all_spans = spans(conn)
    opens = Counter(
        s["attributes"]["roberts.motion_id"]
        for s in all_spans
        if s["name"] == "swarmsh.roberts.open"
    )
    assert all(opens[m] == 1 for m in motions)  # each open stored once
    called = calls(conn)
    assert set(called.values()) == {1}, called  # nothing doubled
    assert set(called) == {f"g-{m}" for m in opens}  # nothing missing
    executed = commands_executed(all_spans)
    assert all(len(pair) == 2 for pair in executed.values())  # each command ran once


def wait_consumers(conn: NatsConnection, timeout: float = 30.0) -> None:
    """Until roberts' and the executor's durable consumers exist (as `swarmsh up` waits)."""
    from swarmsh.bus.jetstream.connection import NatsUnavailable
    from swarmsh.bus.jetstream.inspect import missing_consumers

    def ready() -> bool:
        try:
            return not missing_consumers(conn, ("roberts", "executor"))
        except NatsUnavailable:
            return False

    wait_until(ready, timeout, "the agent's and the executor's consumers")
