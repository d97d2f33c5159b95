"""The agent's own code runs under guard: whatever it raises on one span, or returns that
could not be stored or sent, is that span's failure (dead-lettered), never the process's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swarmsh.agents.base import Outcome
from swarmsh.bus.records import dumps_line
from swarmsh.store import encode

_SCALARS = (str, bool, int, float)
_SCALAR_TYPES = frozenset(_SCALARS)


class AgentCodeFailed(Exception):
    """The agent's own code (model, keys, rule, describe) failed on one span."""


def what(exc: BaseException) -> str:
    """An exception, told briefly (bounded: it ends up in a dead letter)."""
    return f"{type(exc).__name__}: {exc}"[:500]


def is_attribute_value(value: Any) -> bool:
    """What an OTel attribute may hold: a scalar or a homogeneous-enough sequence of them."""
    if isinstance(value, list | tuple):
        return all(isinstance(v, _SCALARS) for v in value)
    return isinstance(value, _SCALARS)


def check_outcome(outcome: Outcome, described: Mapping[str, Any]) -> dict[str, str]:
    """Raise TypeError (or the encoder's error) if the batch could not store or send what a
    rule decided: states and keys that are not names, data or args JSON cannot hold, span
    attributes OTel cannot hold. Returns each updated entity's data as the store writes it
    (`store.encode`), so that the commit does not encode it again."""
    if not isinstance(outcome.from_state, str) or not isinstance(outcome.to_state, str):
        raise TypeError("states must be names (str)")
    encoded: dict[str, str] = {}
    for key, state in outcome.updates.items():
        if not isinstance(key, str) or not isinstance(state.state, str):
            raise TypeError(f"update {key!r}: keys and states must be str")
        encoded[key] = encode(state.data)
    for request in outcome.commands:
        if not isinstance(request.args, Mapping) or not isinstance(request.command, str):
            raise TypeError("a command is a name (str) and its args (a mapping)")
        dumps_line(request.args)
    attributes = {**described, **outcome.attributes} if outcome.attributes else described
    for key, value in attributes.items():
        # type() in a set: the common case (a plain scalar) without a call
        if type(value) not in _SCALAR_TYPES and not is_attribute_value(value):
            raise TypeError(f"describe gave {key} a {type(value).__name__}")
    return encoded
