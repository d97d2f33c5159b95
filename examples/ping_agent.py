"""A worked example of a new agent: `ping` escalates a daily scrum's blockers to governance.

Run it like the built-in ones:  python examples/ping_agent.py [--from beginning]
It reacts to `swarmsh.scrum.daily` spans that report blockers by asking for a
stand-up meeting of the team to be called to order.
"""

from __future__ import annotations

from typing import Any

from swarmsh.agents.base import (
    Agent,
    CommandRequest,
    EntityState,
    Outcome,
    Settings,
    States,
    bounded_id,
)
from swarmsh.semconv._generated import models as m

QUIET, ESCALATED = "QUIET", "ESCALATED"


def team_key(span: Any) -> tuple[str, ...]:
    return (f"team:{span.scrum_team_id}",)


def daily(span: m.SwarmshScrumDailyAttributes, states: States, settings: Settings) -> Outcome:
    """Pure: (span, state) -> (new state, commands). No I/O, no clock."""
    key = team_key(span)[0]
    team = states.get(key) or EntityState(QUIET)
    if not span.scrum_blockers:
        return Outcome(team.state, team.state, {key: team})
    command = CommandRequest(
        rule="escalate-blockers",
        command="swarmsh.roberts.call-to-order",
        # a derived id: bounded, so that a 128-character team still gives a valid meeting id
        args={"meeting": bounded_id(f"standup-{span.scrum_team_id}")},
        reason=f"{len(span.scrum_blockers)} blocker(s) in sprint {span.scrum_sprint_number}",
    )
    return Outcome(team.state, ESCALATED, {key: team.with_state(ESCALATED)}, (command,))


AGENT = Agent(
    name="ping",
    prefix="swarmsh.scrum.",
    initial_state=QUIET,
    states=(QUIET, ESCALATED),
    final_states=frozenset(),
    models={"daily": m.SwarmshScrumDailyAttributes},
    keys={"daily": team_key},
    rules={"daily": daily},
    describe=lambda span: {"scrum.team_id": span.scrum_team_id},
)

if __name__ == "__main__":
    from swarmsh.agents.runner import main

    main(AGENT)
