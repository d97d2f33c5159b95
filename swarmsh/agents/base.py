"""What an agent is: its span prefix, entity keys, states and pure rules (no I/O here)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import msgspec
from pydantic import BaseModel

from swarmsh.safetext import escape

_EMPTY: Mapping[str, Any] = MappingProxyType({})

# What a span's status means to an agent. OK and UNSET (OTel's default: nothing said it
# failed) record an action that happened; ERROR one that failed, so nothing changed and
# there is nothing to react to; any other value is not an OTel status: the span is malformed.
STATUSES = frozenset({"OK", "UNSET", "ERROR"})
ACTED_ON = frozenset({"OK", "UNSET"})

# The executor's limits on what a command may carry (the CLI's ids and free text).
MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 1000
_HASH_CHARS = 12


def bounded_id(text: str) -> str:
    """An id derived from others (`defect-<team>-<sprint>`) within the id length limit.

    Short enough: unchanged. Too long: a readable prefix, then a hash of the whole, so that
    distinct long ids stay distinct and the same input always gives the same id.
    """
    if len(text) <= MAX_ID_CHARS:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:_HASH_CHARS]
    return f"{text[: MAX_ID_CHARS - _HASH_CHARS - 1]}-{digest}"


def bounded_text(text: str) -> str:
    """Free text derived from spans, made fit for a command: what is not safe text (controls,
    bidirectional overrides, ...) is escaped, visibly, and it ends within the length limit."""
    safe = escape(text)
    if len(safe) <= MAX_TEXT_CHARS:
        return safe
    return safe[: MAX_TEXT_CHARS - 1] + "…"


# The values rules make per span are frozen msgspec Structs: immutable and hashable like
# frozen dataclasses, with an init in C (a frozen dataclass's costs ≈ 1-2 µs a span each).
# None is tracked by the cycle collector (gc=False): a frozen value that only holds names
# and mappings of data cannot be part of a cycle, and thousands a batch made it collect
# more often.


class EntityState(msgspec.Struct, frozen=True, gc=False):
    """One entity's state name plus the facts a later rule needs (e.g. a motion's team)."""

    state: str
    data: Mapping[str, Any] = _EMPTY

    def with_state(self, state: str, **data: Any) -> EntityState:
        return EntityState(state, MappingProxyType({**self.data, **data}))


class CommandRequest(msgspec.Struct, frozen=True, gc=False):
    """A command a rule asks for; the runner turns it into a NextCommand (id, trace, depth)."""

    rule: str  # part of the deterministic id: one command per (agent, source span, rule)
    command: str  # CLI path, e.g. "swarmsh.scrum.plan"
    args: Mapping[str, Any]
    reason: str


class Outcome(msgspec.Struct, frozen=True, gc=False):
    """What a rule decided for one span.

    `updates` maps entity keys to their new states; `from_state`/`to_state`
    describe the primary entity's transition for the loop-iteration span; a
    non-empty `rejected` makes the iteration an ERROR and changes nothing.
    """

    from_state: str
    to_state: str
    updates: Mapping[str, EntityState] = _EMPTY
    commands: tuple[CommandRequest, ...] = ()
    rejected: str | None = None
    # (trace id, span id) of spans the iteration span links to (e.g. those a window counted)
    links: tuple[tuple[str, str], ...] = ()
    # more attributes for the iteration span (valid OTel attribute values)
    attributes: Mapping[str, Any] = _EMPTY
    # a span that only advanced state: no iteration span, no command; counted under this name
    silent: str | None = None

    @classmethod
    def reject(cls, state: str, reason: str) -> Outcome:
        return cls(from_state=state, to_state=state, rejected=reason)


@dataclass(frozen=True)
class Settings:
    """Tunables rules may read (passed in, never read from the environment by a rule)."""

    defect_threshold: float = 3.0


States = Mapping[str, EntityState]

# A rule: (typed span attributes, states of the span's entities, settings) -> Outcome.
Rule = Callable[[Any, Mapping[str, EntityState], Settings], Outcome]


@dataclass(frozen=True)
class Agent:
    """An agent declaration; `swarmsh.agents.runner` runs any of them."""

    name: str
    prefix: str  # span names this agent follows, e.g. "swarmsh.roberts."
    initial_state: str
    states: tuple[str, ...]
    final_states: frozenset[str]
    # trigger (the span name after the prefix) -> typed model of that span's attributes
    models: Mapping[str, type[BaseModel]]
    # trigger -> the entity keys a span touches, primary entity first
    keys: Mapping[str, Callable[[Any], tuple[str, ...]]]
    rules: Mapping[str, Rule]
    # trigger -> the domain attributes copied onto the loop-iteration span
    describe: Callable[[Any], Mapping[str, Any]] = field(default=lambda _m: _EMPTY)
    # the span statuses whose action the rules react to (see STATUSES)
    acted_on: frozenset[str] = ACTED_ON

    def __post_init__(self) -> None:
        missing = set(self.rules) ^ set(self.models) | set(self.rules) ^ set(self.keys)
        if missing:
            raise ValueError(f"agent {self.name}: triggers without model/keys/rule: {missing}")

    def state_of(self, states: Mapping[str, EntityState], key: str) -> EntityState:
        return states.get(key) or EntityState(self.initial_state)
