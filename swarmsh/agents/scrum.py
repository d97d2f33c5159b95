"""The scrum agent: one state machine per (team, sprint) (`python -m swarmsh.agents.scrum`)."""

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
    bounded_text,
)
from swarmsh.semconv._generated import models as m

NEW, PLANNING, EXECUTING, REVIEW, RETRO, DONE = (
    "NEW",
    "PLANNING",
    "EXECUTING",
    "REVIEW",
    "RETRO",
    "DONE",
)


def sprint_key(span: Any) -> tuple[str, ...]:
    return (f"sprint:{span.scrum_team_id}:{span.scrum_sprint_number}",)


def _current(span: Any, states: States) -> EntityState:
    return states.get(sprint_key(span)[0]) or EntityState(NEW)


def _move(span: Any, states: States, allowed: tuple[str, ...], to: str, what: str) -> Outcome:
    sprint = _current(span, states)
    if sprint.state not in allowed:
        return Outcome.reject(
            sprint.state,
            f"{what} of sprint {span.scrum_sprint_number} ({span.scrum_team_id}) "
            f"while it is {sprint.state}; expected {' or '.join(allowed)}",
        )
    return Outcome(sprint.state, to, {sprint_key(span)[0]: sprint.with_state(to)})


def plan(span: m.SwarmshScrumPlanAttributes, states: States, settings: Settings) -> Outcome:
    return _move(span, states, (NEW,), PLANNING, "plan")


def daily(span: m.SwarmshScrumDailyAttributes, states: States, settings: Settings) -> Outcome:
    return _move(span, states, (PLANNING, EXECUTING), EXECUTING, "daily scrum")


def review(span: m.SwarmshScrumReviewAttributes, states: States, settings: Settings) -> Outcome:
    outcome = _move(span, states, (PLANNING, EXECUTING), REVIEW, "review")
    rate, threshold = span.scrum_defect_rate, settings.defect_threshold
    if outcome.rejected or rate <= threshold:
        return outcome
    team, sprint = span.scrum_team_id, span.scrum_sprint_number
    problem = (
        f"Sprint {sprint} of team {team} closed with a defect rate of {rate:g}% "
        f"(threshold {threshold:g}%) at velocity {span.scrum_velocity:g}"
    )
    command = CommandRequest(
        rule="defect-project",
        command="swarmsh.lean.define",
        args={
            "project": bounded_id(f"defect-{team}-{sprint}"),
            "problem": bounded_text(problem),
            "sponsor": "scrum",
        },
        reason=f"defect rate {rate:g}% above {threshold:g}%",
    )
    return Outcome(outcome.from_state, outcome.to_state, outcome.updates, (command,))


def retro(span: m.SwarmshScrumRetroAttributes, states: States, settings: Settings) -> Outcome:
    # `scrum retro` records a retrospective held: the sprint goes through RETRO to DONE.
    return _move(span, states, (REVIEW,), DONE, "retro")


def _describe(span: Any) -> dict[str, Any]:
    return {"scrum.sprint_number": span.scrum_sprint_number, "scrum.team_id": span.scrum_team_id}


AGENT = Agent(
    name="scrum",
    prefix="swarmsh.scrum.",
    initial_state=NEW,
    states=(NEW, PLANNING, EXECUTING, REVIEW, RETRO, DONE),
    final_states=frozenset({DONE}),
    models={
        "plan": m.SwarmshScrumPlanAttributes,
        "daily": m.SwarmshScrumDailyAttributes,
        "review": m.SwarmshScrumReviewAttributes,
        "retro": m.SwarmshScrumRetroAttributes,
    },
    keys={t: sprint_key for t in ("plan", "daily", "review", "retro")},
    rules={"plan": plan, "daily": daily, "review": review, "retro": retro},
    describe=_describe,
)

if __name__ == "__main__":
    from swarmsh.agents.runner import main

    main(AGENT)
