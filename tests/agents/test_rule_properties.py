"""No sequence of well-formed spans crashes an agent or leaves its state machine (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from swarmsh.agents import lean, roberts, scrum
from swarmsh.agents.base import Agent, EntityState, Settings
from swarmsh.cli import cli
from swarmsh.executor.validate import build_argv

IDS = st.sampled_from(["a", "b"])
SPRINTS = st.integers(min_value=1, max_value=2)
TEXTS = st.lists(st.sampled_from(["x", "pair review"]), max_size=2)

ROBERTS_SPANS = st.one_of(
    st.builds(lambda m, mt: ("call-to-order", {"roberts.meeting_id": mt}), IDS, IDS),
    st.builds(lambda m, mt: ("adjourn", {"roberts.meeting_id": mt}), IDS, IDS),
    st.builds(
        lambda m, mt, kind, s, t: (
            "open",
            {
                "roberts.motion_id": m,
                "roberts.meeting_id": mt,
                "roberts.motion.kind": kind,
                **({"scrum.sprint_number": s, "scrum.team_id": t} if kind == "sprint" else {}),
            },
        ),
        IDS,
        IDS,
        st.sampled_from(["general", "sprint", "process-change"]),
        SPRINTS,
        IDS,
    ),
    st.builds(lambda m: ("second", {"roberts.motion_id": m}), IDS),
    st.builds(lambda m: ("vote", {"roberts.motion_id": m, "roberts.voting_method": "voice"}), IDS),
    st.builds(
        lambda m, y, n, th: (
            "close",
            {
                "roberts.motion_id": m,
                "roberts.votes.yes": y,
                "roberts.votes.no": n,
                "roberts.votes.abstain": 0,
                "roberts.threshold": th,
                "roberts.result": "passed",
            },
        ),
        IDS,
        st.integers(0, 9),
        st.integers(0, 9),
        st.sampled_from(["majority", "two-thirds"]),
    ),
)
SCRUM_SPANS = st.builds(
    lambda trig, s, t, rate: (
        trig,
        {
            "scrum.sprint_number": s,
            "scrum.team_id": t,
            **({"scrum.velocity": 10.0, "scrum.defect_rate": rate} if trig == "review" else {}),
        },
    ),
    st.sampled_from(["plan", "daily", "review", "retro"]),
    SPRINTS,
    IDS,
    st.floats(0, 100),
)
LEAN_SPANS = st.builds(
    lambda trig, p, changes: (
        trig,
        {
            "lean.project_id": p,
            "lean.phase": trig,
            **({"lean.problem_statement": "x"} if trig == "define" else {}),
            **({"lean.process_changes": changes} if trig == "control" and changes else {}),
        },
    ),
    st.sampled_from(["define", "measure", "analyze", "improve", "control"]),
    IDS,
    TEXTS,
)


def fold(agent: Agent, spans: list[tuple[str, dict[str, Any]]]) -> None:
    states: dict[str, EntityState] = {}
    for trigger, attrs in spans:
        model = agent.models[trigger].model_validate(
            {"swarm.agent": agent.name, "swarm.trigger": trigger, **attrs}
        )
        keys = agent.keys[trigger](model)
        outcome = agent.rules[trigger](
            model, {k: states[k] for k in keys if k in states}, Settings()
        )
        assert outcome.from_state in agent.states and outcome.to_state in agent.states
        if outcome.rejected:
            assert not outcome.updates and not outcome.commands
            continue
        assert set(outcome.updates) <= set(keys)
        assert outcome.updates[keys[0]].state == outcome.to_state
        before = states.get(keys[0])
        assert outcome.from_state == (before.state if before else outcome.from_state)
        for command in outcome.commands:
            build_argv(cli, command.command, command.args)  # every emitted command is runnable
        states.update(outcome.updates)
        assert all(s.state in agent.states for s in states.values())


@settings(max_examples=300, deadline=None)
@given(st.lists(ROBERTS_SPANS, max_size=25))
def test_roberts_never_crashes_or_leaves_its_machine(spans) -> None:  # type: ignore[no-untyped-def]
    fold(roberts.AGENT, spans)


@settings(max_examples=300, deadline=None)
@given(st.lists(SCRUM_SPANS, max_size=25))
def test_scrum_never_crashes_or_leaves_its_machine(spans) -> None:  # type: ignore[no-untyped-def]
    fold(scrum.AGENT, spans)


@settings(max_examples=300, deadline=None)
@given(st.lists(LEAN_SPANS, max_size=25))
def test_lean_never_crashes_or_leaves_its_machine(spans) -> None:  # type: ignore[no-untyped-def]
    fold(lean.AGENT, spans)
