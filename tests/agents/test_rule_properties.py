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


def fold(agent: Agent, spans: list[tuple[str, dict[str, Any]]]) -> int:
    """Apply the spans in order, checking every outcome; the number of commands emitted."""
    states: dict[str, EntityState] = {}
    emitted = 0
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
            emitted += 1
        states.update(outcome.updates)
        assert all(s.state in agent.states for s in states.values())
    return emitted


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


# -- derived values stay valid for the longest valid input (issue 10, item 18) --------------

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
LONG_IDS = st.builds(
    lambda first, rest: (first + rest).replace("..", ".a"),
    st.sampled_from(_ALNUM),
    st.text(_ALNUM + "._:@-", min_size=100, max_size=127),
).filter(lambda s: ".." not in s)
BIG_SPRINTS = st.integers(min_value=1, max_value=2**63 - 1)  # what the model accepts
ANY_TEXTS = st.text(min_size=1, max_size=1000)  # whatever the model accepts: controls included


@settings(max_examples=100, deadline=None)
@given(LONG_IDS, LONG_IDS, LONG_IDS, BIG_SPRINTS)
def test_roberts_commands_stay_valid_for_the_longest_ids(motion, meeting, team, sprint) -> None:  # type: ignore[no-untyped-def]
    opened = {
        "roberts.motion_id": motion,
        "roberts.meeting_id": meeting,
        "roberts.motion.kind": "sprint",
        "scrum.sprint_number": sprint,
        "scrum.team_id": team,
    }
    close = {
        "roberts.motion_id": motion,
        "roberts.votes.yes": 2**63 - 1,
        "roberts.votes.no": 0,
        "roberts.votes.abstain": 0,
        "roberts.threshold": "two-thirds",
        "roberts.result": "passed",
    }
    voted = {"roberts.motion_id": motion, "roberts.voting_method": "voice"}
    fold(
        roberts.AGENT,
        [
            ("open", opened),
            ("second", {"roberts.motion_id": motion}),
            ("vote", voted),
            ("close", close),
        ],
    )


@settings(max_examples=100, deadline=None)
@given(LONG_IDS, BIG_SPRINTS, st.floats(3.01, 100), st.floats(0, 1e300))
def test_scrum_commands_stay_valid_for_the_longest_ids(team, sprint, rate, velocity) -> None:  # type: ignore[no-untyped-def]
    ids = {"scrum.sprint_number": sprint, "scrum.team_id": team}
    review = {**ids, "scrum.velocity": velocity, "scrum.defect_rate": rate}
    assert fold(scrum.AGENT, [("plan", ids), ("review", review)]) == 1


@settings(max_examples=100, deadline=None)
@given(LONG_IDS, st.lists(ANY_TEXTS, min_size=1, max_size=8))
def test_lean_commands_stay_valid_for_the_longest_ids_and_texts(project, changes) -> None:  # type: ignore[no-untyped-def]
    spans = [
        ("define", {"lean.project_id": project, "lean.phase": "define"}),
        ("measure", {"lean.project_id": project, "lean.phase": "measure"}),
        ("analyze", {"lean.project_id": project, "lean.phase": "analyze"}),
        ("improve", {"lean.project_id": project, "lean.phase": "improve"}),
        (
            "control",
            {"lean.project_id": project, "lean.phase": "control", "lean.process_changes": changes},
        ),
    ]
    spans[0][1]["lean.problem_statement"] = "x"
    assert fold(lean.AGENT, spans) == 1


def test_a_bounded_id_keeps_distinct_ids_distinct_and_a_readable_prefix() -> None:
    from swarmsh.agents.base import MAX_ID_CHARS, bounded_id

    a, b = "defect-" + "a" * 200 + "-1", "defect-" + "a" * 200 + "-2"
    assert len(bounded_id(a)) == len(bounded_id(b)) == MAX_ID_CHARS
    assert bounded_id(a) != bounded_id(b) and bounded_id(a).startswith("defect-aaa")
    assert bounded_id(a) == bounded_id(a)  # a replay derives the same id
    assert bounded_id("defect-t-1") == "defect-t-1"


@settings(max_examples=50, deadline=None)
@given(LONG_IDS, BIG_SPRINTS)
def test_the_ping_examples_commands_stay_valid_for_the_longest_ids(team, sprint) -> None:  # type: ignore[no-untyped-def]
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "ping_agent", Path(__file__).parents[2] / "examples" / "ping_agent.py"
    )
    ping = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(ping)  # type: ignore[union-attr]
    daily = {"scrum.sprint_number": sprint, "scrum.team_id": team, "scrum.blockers": ["ci"]}
    assert fold(ping.AGENT, [("daily", daily)]) == 1
