"""Helpers for agent tests: write real CLI spans to a bus quickly, in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from swarmsh.telemetry import setup_telemetry


def write_spans(bus: Path, spans: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Emit spans named like CLI spans through the real telemetry and bus exporter.

    Returns their span ids. Much faster than one CLI process per span.
    """
    telemetry = setup_telemetry("swarmsh-cli", bus, otlp=False, console=False)
    ids = []
    for name, attributes in spans:
        group, trigger = name.split(".")[1:]
        attrs = {"swarm.agent": group, "swarm.trigger": trigger, **attributes}
        with telemetry.tracer.start_as_current_span(name, attributes=attrs) as span:
            ids.append(format(span.get_span_context().span_id, "016x"))
    telemetry.flush_bus()
    telemetry.shutdown()
    return ids


def motion_cycle(
    motion: str, meeting: str, sprint: int, team: str
) -> list[tuple[str, dict[str, Any]]]:
    """open → second → vote → close (passed) of one sprint motion."""
    return [
        (
            "swarmsh.roberts.open",
            {
                "roberts.motion_id": motion,
                "roberts.meeting_id": meeting,
                "roberts.motion.kind": "sprint",
                "scrum.sprint_number": sprint,
                "scrum.team_id": team,
            },
        ),
        ("swarmsh.roberts.second", {"roberts.motion_id": motion}),
        ("swarmsh.roberts.vote", {"roberts.motion_id": motion, "roberts.voting_method": "voice"}),
        (
            "swarmsh.roberts.close",
            {
                "roberts.motion_id": motion,
                "roberts.votes.yes": 5,
                "roberts.votes.no": 2,
                "roberts.votes.abstain": 0,
                "roberts.threshold": "majority",
                "roberts.result": "passed",
            },
        ),
    ]
