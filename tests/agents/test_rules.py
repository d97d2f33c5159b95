"""The agents' rules as tables: (span, entity states) -> (transition, commands), no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from swarmsh.agents import lean, roberts, scrum
from swarmsh.agents.base import Agent, EntityState, Outcome, Settings

SETTINGS = Settings(defect_threshold=3.0)


def apply(
    agent: Agent, trigger: str, attrs: dict[str, Any], states: dict[str, EntityState]
) -> Outcome:
    model = agent.models[trigger].model_validate(
        {"swarm.agent": agent.name, "swarm.trigger": trigger, **attrs}
    )
    return agent.rules[trigger](model, states, SETTINGS)


def st(state: str, **data: Any) -> EntityState:
    return EntityState(state).with_state(state, **data)


OPEN_SPRINT = {
    "roberts.motion_id": "sprint42",
    "roberts.meeting_id": "board",
    "roberts.motion.kind": "sprint",
    "scrum.sprint_number": 42,
    "scrum.team_id": "alpha",
}
CLOSE = {
    "roberts.motion_id": "sprint42",
    "roberts.votes.yes": 5,
    "roberts.votes.no": 2,
    "roberts.votes.abstain": 0,
    "roberts.threshold": "majority",
    "roberts.result": "passed",
}
SPRINT_MOTION = st("VOTING", kind="sprint", meeting="board", sprint=42, team="alpha", project=None)

# (trigger, attributes, states before, from, to, commands as (command, args), rejected?)
ROBERTS = [
    (
        "open",
        OPEN_SPRINT,
        {},
        "IDLE",
        "OPEN",
        [("swarmsh.roberts.call-to-order", {"meeting": "board"})],
        False,
    ),
    ("open", OPEN_SPRINT, {"meeting:board": st("IN_SESSION")}, "IDLE", "OPEN", [], False),
    ("open", OPEN_SPRINT, {"meeting:board": st("CALLING")}, "IDLE", "OPEN", [], False),
    ("open", OPEN_SPRINT, {"motion:sprint42": st("OPEN")}, "OPEN", "OPEN", [], True),
    (
        "second",
        {"roberts.motion_id": "sprint42"},
        {"motion:sprint42": st("OPEN")},
        "OPEN",
        "SECONDED",
        [],
        False,
    ),
    ("second", {"roberts.motion_id": "sprint42"}, {}, "IDLE", "IDLE", [], True),
    (
        "second",
        {"roberts.motion_id": "sprint42"},
        {"motion:sprint42": st("VOTING")},
        "VOTING",
        "VOTING",
        [],
        True,
    ),
    (
        "vote",
        {"roberts.motion_id": "sprint42", "roberts.voting_method": "voice"},
        {"motion:sprint42": st("SECONDED")},
        "SECONDED",
        "VOTING",
        [],
        False,
    ),
    (
        "vote",
        {"roberts.motion_id": "sprint42", "roberts.voting_method": "voice"},
        {"motion:sprint42": st("OPEN")},
        "OPEN",
        "OPEN",
        [],
        True,
    ),
    (
        "close",
        CLOSE,
        {"motion:sprint42": SPRINT_MOTION},
        "VOTING",
        "PASSED",
        [("swarmsh.scrum.plan", {"sprint": 42, "team": "alpha"})],
        False,
    ),
    (
        "close",
        {**CLOSE, "roberts.votes.yes": 2, "roberts.votes.no": 5, "roberts.result": "failed"},
        {"motion:sprint42": SPRINT_MOTION},
        "VOTING",
        "FAILED",
        [],
        False,
    ),
    # the agent counts the votes itself: a span claiming "passed" for 3-3 does not pass
    (
        "close",
        {**CLOSE, "roberts.votes.yes": 3, "roberts.votes.no": 3},
        {"motion:sprint42": SPRINT_MOTION},
        "VOTING",
        "FAILED",
        [],
        False,
    ),
    (
        "close",
        {**CLOSE, "roberts.votes.yes": 4, "roberts.votes.no": 2, "roberts.threshold": "two-thirds"},
        {"motion:sprint42": SPRINT_MOTION},
        "VOTING",
        "PASSED",
        [("swarmsh.scrum.plan", {"sprint": 42, "team": "alpha"})],
        False,
    ),
    (
        "close",
        CLOSE,
        {"motion:sprint42": st("VOTING", kind="general")},
        "VOTING",
        "PASSED",
        [],
        False,
    ),
    ("close", CLOSE, {}, "IDLE", "IDLE", [], True),
    ("close", CLOSE, {"motion:sprint42": st("SECONDED")}, "SECONDED", "SECONDED", [], True),
    ("close", CLOSE, {"motion:sprint42": st("PASSED")}, "PASSED", "PASSED", [], True),
    (
        "call-to-order",
        {"roberts.meeting_id": "board"},
        {},
        "NOT_IN_SESSION",
        "IN_SESSION",
        [],
        False,
    ),
    (
        "call-to-order",
        {"roberts.meeting_id": "board"},
        {"meeting:board": st("CALLING")},
        "CALLING",
        "IN_SESSION",
        [],
        False,
    ),
    (
        "call-to-order",
        {"roberts.meeting_id": "board"},
        {"meeting:board": st("IN_SESSION")},
        "IN_SESSION",
        "IN_SESSION",
        [],
        True,
    ),
    (
        "adjourn",
        {"roberts.meeting_id": "board"},
        {"meeting:board": st("IN_SESSION")},
        "IN_SESSION",
        "NOT_IN_SESSION",
        [],
        False,
    ),
    ("adjourn", {"roberts.meeting_id": "board"}, {}, "NOT_IN_SESSION", "NOT_IN_SESSION", [], True),
]

IDS = {"scrum.sprint_number": 42, "scrum.team_id": "alpha"}
REVIEW = {**IDS, "scrum.velocity": 45.0, "scrum.defect_rate": 5.2}
DEFECT_PROJECT = (
    "swarmsh.lean.define",
    {
        "project": "defect-alpha-42",
        "problem": "Sprint 42 of team alpha closed with a defect rate of 5.2% (threshold 3%) "
        "at velocity 45",
        "sponsor": "scrum",
    },
)
SCRUM = [
    ("plan", IDS, {}, "NEW", "PLANNING", [], False),
    ("plan", IDS, {"sprint:alpha:42": st("PLANNING")}, "PLANNING", "PLANNING", [], True),
    ("daily", IDS, {"sprint:alpha:42": st("PLANNING")}, "PLANNING", "EXECUTING", [], False),
    ("daily", IDS, {"sprint:alpha:42": st("EXECUTING")}, "EXECUTING", "EXECUTING", [], False),
    ("daily", IDS, {}, "NEW", "NEW", [], True),
    (
        "review",
        REVIEW,
        {"sprint:alpha:42": st("EXECUTING")},
        "EXECUTING",
        "REVIEW",
        [DEFECT_PROJECT],
        False,
    ),
    (
        "review",
        REVIEW,
        {"sprint:alpha:42": st("PLANNING")},
        "PLANNING",
        "REVIEW",
        [DEFECT_PROJECT],
        False,
    ),
    (
        "review",
        {**REVIEW, "scrum.defect_rate": 3.0},
        {"sprint:alpha:42": st("EXECUTING")},
        "EXECUTING",
        "REVIEW",
        [],
        False,
    ),
    ("review", REVIEW, {}, "NEW", "NEW", [], True),
    ("review", REVIEW, {"sprint:alpha:42": st("DONE")}, "DONE", "DONE", [], True),
    ("retro", IDS, {"sprint:alpha:42": st("REVIEW")}, "REVIEW", "DONE", [], False),
    ("retro", IDS, {"sprint:alpha:42": st("EXECUTING")}, "EXECUTING", "EXECUTING", [], True),
]

P = {"lean.project_id": "defect-alpha-42"}
RATIFY = (
    "swarmsh.roberts.open",
    {
        "motion": "ratify-defect-alpha-42",
        "kind": "process-change",
        "meeting": "board",
        "project": "defect-alpha-42",
        "text": "Ratify: pair review",
    },
)
KEY = "project:defect-alpha-42"
LEAN = [
    (
        "define",
        {**P, "lean.phase": "define", "lean.problem_statement": "x"},
        {},
        "NEW",
        "DEFINE",
        [],
        False,
    ),
    (
        "define",
        {**P, "lean.phase": "define", "lean.problem_statement": "x"},
        {KEY: st("DEFINE")},
        "DEFINE",
        "DEFINE",
        [],
        True,
    ),
    (
        "measure",
        {**P, "lean.phase": "measure"},
        {KEY: st("DEFINE")},
        "DEFINE",
        "MEASURE",
        [],
        False,
    ),
    ("measure", {**P, "lean.phase": "measure"}, {}, "NEW", "NEW", [], True),
    (
        "analyze",
        {**P, "lean.phase": "analyze"},
        {KEY: st("MEASURE")},
        "MEASURE",
        "ANALYZE",
        [],
        False,
    ),
    ("analyze", {**P, "lean.phase": "analyze"}, {KEY: st("DEFINE")}, "DEFINE", "DEFINE", [], True),
    (
        "improve",
        {**P, "lean.phase": "improve"},
        {KEY: st("ANALYZE")},
        "ANALYZE",
        "IMPROVE",
        [],
        False,
    ),
    (
        "improve",
        {**P, "lean.phase": "improve"},
        {KEY: st("MEASURE")},
        "MEASURE",
        "MEASURE",
        [],
        True,
    ),
    (
        "control",
        {**P, "lean.phase": "control", "lean.process_changes": ["pair review"]},
        {KEY: st("IMPROVE")},
        "IMPROVE",
        "CLOSED",
        [RATIFY],
        False,
    ),
    (
        "control",
        {**P, "lean.phase": "control"},
        {KEY: st("IMPROVE")},
        "IMPROVE",
        "CLOSED",
        [],
        False,
    ),
    (
        "control",
        {**P, "lean.phase": "control", "lean.process_changes": ["pair review"]},
        {KEY: st("ANALYZE")},
        "ANALYZE",
        "ANALYZE",
        [],
        True,
    ),
]

TABLE = (
    [(roberts.AGENT, *row) for row in ROBERTS]
    + [(scrum.AGENT, *row) for row in SCRUM]
    + [(lean.AGENT, *row) for row in LEAN]
)


@pytest.mark.parametrize(
    ("agent", "trigger", "attrs", "states", "from_", "to", "commands", "rejected"),
    TABLE,
    ids=[f"{a.name}-{t}-{i}" for i, (a, t, *_rest) in enumerate(TABLE)],
)
def test_rule(agent, trigger, attrs, states, from_, to, commands, rejected) -> None:  # type: ignore[no-untyped-def]
    outcome = apply(agent, trigger, attrs, states)
    assert (outcome.from_state, outcome.to_state) == (from_, to)
    assert [(c.command, dict(c.args)) for c in outcome.commands] == commands
    assert bool(outcome.rejected) is rejected
    if rejected:
        assert outcome.updates == {} and outcome.commands == ()
    else:
        primary = agent.keys[trigger](
            agent.models[trigger].model_validate(
                {"swarm.agent": agent.name, "swarm.trigger": trigger, **attrs}
            )
        )[0]
        assert outcome.updates[primary].state == to


def test_open_remembers_sprint_and_team_for_close() -> None:
    opened = apply(roberts.AGENT, "open", OPEN_SPRINT, {"meeting:board": st("IN_SESSION")})
    motion = opened.updates["motion:sprint42"]
    states = {"motion:sprint42": motion.with_state("VOTING")}
    closed = apply(roberts.AGENT, "close", CLOSE, states)
    assert [dict(c.args) for c in closed.commands] == [{"sprint": 42, "team": "alpha"}]


def test_threshold_is_a_setting() -> None:
    strict = Settings(defect_threshold=10.0)
    model = scrum.AGENT.models["review"].model_validate(
        {"swarm.agent": "scrum", "swarm.trigger": "review", **REVIEW}
    )
    outcome = scrum.AGENT.rules["review"](model, {"sprint:alpha:42": st("EXECUTING")}, strict)
    assert outcome.commands == ()


def test_rules_are_deterministic() -> None:
    a = apply(roberts.AGENT, "close", CLOSE, {"motion:sprint42": SPRINT_MOTION})
    b = apply(roberts.AGENT, "close", CLOSE, {"motion:sprint42": SPRINT_MOTION})
    assert a == b
