"""The lean agent: one DMAIC machine per improvement project (`python -m swarmsh.agents.lean`)."""

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

NEW, DEFINE, MEASURE, ANALYZE, IMPROVE, CONTROL, CLOSED = (
    "NEW",
    "DEFINE",
    "MEASURE",
    "ANALYZE",
    "IMPROVE",
    "CONTROL",
    "CLOSED",
)
RATIFYING_MEETING = "board"


def project_key(span: Any) -> tuple[str, ...]:
    return (f"project:{span.lean_project_id}",)


def _phase(expected: str, to: str):  # type: ignore[no-untyped-def]
    """DMAIC in order: each phase only from the one before it."""

    def rule(span: Any, states: States, settings: Settings) -> Outcome:
        key = project_key(span)[0]
        project = states.get(key) or EntityState(NEW)
        if project.state != expected:
            return Outcome.reject(
                project.state,
                f"project {span.lean_project_id}: {to} out of order "
                f"(it is {project.state}, expected {expected})",
            )
        return Outcome(expected, to, {key: project.with_state(to)})

    return rule


def control(span: m.SwarmshLeanControlAttributes, states: States, settings: Settings) -> Outcome:
    # `lean control` records the control plan: the project goes through CONTROL to CLOSED.
    outcome = _phase(IMPROVE, CLOSED)(span, states, settings)
    changes = tuple(span.lean_process_changes or ())
    if outcome.rejected or not changes:
        return outcome
    project = span.lean_project_id
    command = CommandRequest(
        rule="ratify-process-change",
        command="swarmsh.roberts.open",
        args={
            "motion": bounded_id(f"ratify-{project}"),
            "kind": "process-change",
            "meeting": RATIFYING_MEETING,
            "project": project,
            "text": bounded_text("Ratify: " + "; ".join(changes)),
        },
        reason=f"project {project} changes the process ({len(changes)} change(s))",
    )
    return Outcome(outcome.from_state, outcome.to_state, outcome.updates, (command,))


def _describe(span: Any) -> dict[str, Any]:
    return {"lean.project_id": span.lean_project_id}


AGENT = Agent(
    name="lean",
    prefix="swarmsh.lean.",
    initial_state=NEW,
    states=(NEW, DEFINE, MEASURE, ANALYZE, IMPROVE, CONTROL, CLOSED),
    final_states=frozenset({CLOSED}),
    models={
        "define": m.SwarmshLeanDefineAttributes,
        "measure": m.SwarmshLeanMeasureAttributes,
        "analyze": m.SwarmshLeanAnalyzeAttributes,
        "improve": m.SwarmshLeanImproveAttributes,
        "control": m.SwarmshLeanControlAttributes,
    },
    keys={t: project_key for t in ("define", "measure", "analyze", "improve", "control")},
    rules={
        "define": _phase(NEW, DEFINE),
        "measure": _phase(DEFINE, MEASURE),
        "analyze": _phase(MEASURE, ANALYZE),
        "improve": _phase(ANALYZE, IMPROVE),
        "control": control,
    },
    describe=_describe,
)

if __name__ == "__main__":
    from swarmsh.agents.runner import main

    main(AGENT)
