"""`check_outcome`: what a rule returns is checked before a batch depends on it, and each
updated entity's data is encoded once, for the store."""

from __future__ import annotations

import enum
from types import MappingProxyType

import orjson
import pytest

from swarmsh.agents.base import CommandRequest, EntityState, Outcome
from swarmsh.agents.guard import check_outcome
from swarmsh.store import encode


class Colour(enum.StrEnum):  # a str subclass: an OTel attribute value like any str
    RED = "red"


def test_the_updates_data_comes_back_encoded_as_the_store_writes_it() -> None:
    data = MappingProxyType({"team": "x", "sprint": 3, "tags": ["a"]})
    outcome = Outcome("IDLE", "OPEN", {"m1": EntityState("OPEN", data), "m2": EntityState("OPEN")})
    encoded = check_outcome(outcome, {"roberts.motion_id": "m1"})
    assert encoded == {"m1": encode(data), "m2": "{}"}
    assert orjson.loads(encoded["m1"]) == dict(data)


@pytest.mark.parametrize(
    "value", ["s", True, 3, 2.5, ("a", "b"), [1, 2], Colour.RED, (), [True, 1.5]]
)
def test_attribute_values_otel_can_hold_pass(value: object) -> None:
    assert check_outcome(Outcome("A", "B"), {"k": value}) == {}
    assert check_outcome(Outcome("A", "B", attributes={"k": value}), {}) == {}


@pytest.mark.parametrize("value", [None, {"a": 1}, [{"a": 1}], b"x", object(), [None]])
def test_attribute_values_otel_cannot_hold_are_refused(value: object) -> None:
    with pytest.raises(TypeError, match="describe gave k a"):
        check_outcome(Outcome("A", "B"), {"k": value})
    with pytest.raises(TypeError, match="describe gave k a"):
        check_outcome(Outcome("A", "B", attributes={"k": value}), {"j": 1})


def test_an_outcome_attribute_replaces_the_described_one_it_is_checked_instead() -> None:
    # the iteration span carries the outcome's value, so only that one must be valid
    assert check_outcome(Outcome("A", "B", attributes={"k": "ok"}), {"k": None}) == {}


def test_data_or_args_json_cannot_hold_are_refused() -> None:
    with pytest.raises(TypeError):
        check_outcome(Outcome("A", "B", {"m": EntityState("B", {"x": object()})}), {})
    request = CommandRequest("r", "swarmsh.x.y", {"x": object()}, "why")
    with pytest.raises(TypeError):
        check_outcome(Outcome("A", "B", commands=(request,)), {})
