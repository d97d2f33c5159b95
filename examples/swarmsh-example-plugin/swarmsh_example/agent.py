"""The agent `echo`: answers each `swarmsh example ping TARGET` with a NextCommand for
`swarmsh example pong TARGET`. Rules are pure: (span, states, settings) -> Outcome."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from swarmsh.agents.base import Agent, CommandRequest, EntityState, Outcome, Settings, States

IDLE, PINGED, PONGED, PURGED = "IDLE", "PINGED", "PONGED", "PURGED"


class TargetSpan(BaseModel):
    """The attributes of every `swarmsh.example.*` span this agent reads."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    target: str = Field(alias="example.target", min_length=1, max_length=128)
    swarm_loop_depth: int | None = Field(default=None, alias="swarm.loop.depth", ge=0)


def target_key(span: Any) -> tuple[str, ...]:
    return (f"target:{span.target}",)


def _target(states: States, span: TargetSpan) -> EntityState:
    return states.get(target_key(span)[0]) or EntityState(IDLE)


def ping(span: TargetSpan, states: States, settings: Settings) -> Outcome:
    target = _target(states, span)
    answer = CommandRequest(
        rule="answer-ping",
        command="swarmsh.example.pong",
        args={"target": span.target},
        reason=f"{span.target} was pinged",
    )
    updates = {target_key(span)[0]: target.with_state(PINGED)}
    return Outcome(target.state, PINGED, updates, (answer,))


def _becomes(state: str) -> Any:
    def rule(span: TargetSpan, states: States, settings: Settings) -> Outcome:
        target = _target(states, span)
        return Outcome(target.state, state, {target_key(span)[0]: target.with_state(state)})

    return rule


AGENT = Agent(
    name="echo",
    prefix="swarmsh.example.",
    initial_state=IDLE,
    states=(IDLE, PINGED, PONGED, PURGED),
    final_states=frozenset({PURGED}),
    models={"ping": TargetSpan, "pong": TargetSpan, "purge": TargetSpan},
    keys={"ping": target_key, "pong": target_key, "purge": target_key},
    rules={"ping": ping, "pong": _becomes(PONGED), "purge": _becomes(PURGED)},
    describe=lambda span: {"example.target": span.target},
)
