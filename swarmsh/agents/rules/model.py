"""The rulebook format: pydantic models of one YAML file, validated with messages that name
the file, the rule and the field."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_RULES = 200  # per rulebook
MAX_COUNT = 1000  # a window's count: a group's state holds at most count - 1 spans
MAX_STEPS = 8  # a correlation's steps
MAX_DURATION_S = 86_400.0  # windows, correlations and throttles: at most one day
MAX_GROUP_BY = 4
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}")
FIELD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@/-]{0,127}")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
STATUSES = ("UNSET", "OK", "ERROR")
KINDS = ("INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")

Scalar = str | bool | int | float


def seconds(value: Any) -> float:
    """`500ms`, `60s`, `10m`, `1h` or a number of seconds: > 0 and at most a day."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text such as 60s, 10m, 1h")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and (found := _DURATION.fullmatch(value.strip())):
        number = float(found.group(1)) * _UNITS[found.group(2)]
    else:
        raise ValueError(f"{value!r} is not a duration (such as 500ms, 60s, 10m, 1h)")
    if not 0 < number <= MAX_DURATION_S:
        raise ValueError(f"{value!r} is not between 0 and 24h")
    return number


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(_Strict):
    """Operators on one value, all of which must hold (`{gte: 500, lt: 600}`)."""

    eq: Scalar | None = None
    ne: Scalar | None = None
    in_: list[Scalar] | None = Field(default=None, alias="in")
    not_in: list[Scalar] | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    regex: str | None = None
    exists: bool | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not self.model_fields_set:
            raise ValueError("a condition needs at least one operator")
        return self


# A value: a scalar (equality), a list (membership) or a Condition.
Value = Scalar | list[Scalar] | Condition


class Match(_Strict):
    """What a span must look like; every given part must hold."""

    span: str | list[str] | None = None  # exact names or globs (*, ?, [..])
    status: str | list[str] | None = None
    kind: str | list[str] | None = None
    duration_ms: Value | None = None
    resource: dict[str, Value] = {}
    attributes: dict[str, Value] = {}

    @field_validator("span")
    @classmethod
    def _names(cls, value: str | list[str] | None) -> str | list[str] | None:
        for name in [value] if isinstance(value, str) else value or []:
            if not name or len(name) > 256:
                raise ValueError("a span name or glob is 1 to 256 characters")
        return value

    @field_validator("status")
    @classmethod
    def _status(cls, value: str | list[str] | None) -> str | list[str] | None:
        for one in [value] if isinstance(value, str) else value or []:
            if one not in STATUSES:
                raise ValueError(f"{one!r} is no span status ({', '.join(STATUSES)})")
        return value

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str | list[str] | None) -> str | list[str] | None:
        for one in [value] if isinstance(value, str) else value or []:
            if one not in KINDS:
                raise ValueError(f"{one!r} is no span kind ({', '.join(KINDS)})")
        return value


def _fields(value: list[str]) -> list[str]:
    for name in value:
        if not FIELD.fullmatch(name):
            raise ValueError(f"{name!r} is not a field name")
    return value


class Window(_Strict):
    count: int = Field(ge=1, le=MAX_COUNT)
    within: float
    group_by: list[str] | None = None  # the spelling; the rule's group_by is preferred

    _within = field_validator("within", mode="before")(classmethod(lambda cls, v: seconds(v)))


class Correlate(_Strict):
    within: float
    ordered: bool = False
    steps: list[Match] = Field(min_length=2, max_length=MAX_STEPS)

    _within = field_validator("within", mode="before")(classmethod(lambda cls, v: seconds(v)))


class Throttle(_Strict):
    once_within: float

    _once = field_validator("once_within", mode="before")(classmethod(lambda cls, v: seconds(v)))


class Action(_Strict):
    command: str = Field(pattern=r"^swarmsh\.[a-z]+\.[a-z-]+$")
    args: dict[str, Scalar | list[str]] = {}
    reason: str | None = None


class Rule(_Strict):
    name: str
    description: str | None = None
    match: Match | None = None
    window: Window | None = None
    correlate: Correlate | None = None
    group_by: list[str] = Field(default=[], max_length=MAX_GROUP_BY)
    throttle: Throttle | None = None
    then: Action

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.fullmatch(value):
            raise ValueError("a rule name is 1-64 letters, digits and . _ : @ -")
        return value

    _group_by = field_validator("group_by")(classmethod(lambda cls, v: _fields(v)))

    @model_validator(mode="after")
    def _shape(self) -> Rule:
        if (self.match is None) == (self.correlate is None):
            raise ValueError("a rule has either `match` (with an optional window) or `correlate`")
        if self.window is not None and self.correlate is not None:
            raise ValueError("`window` applies to `match`; a correlation has its own `within`")
        if self.window is not None and self.window.group_by is not None:
            if self.group_by:
                raise ValueError("group_by is given twice (in the rule and in its window)")
            object.__setattr__(self, "group_by", _fields(self.window.group_by))
        return self


class Rulebook(_Strict):
    rules: list[Rule] = Field(max_length=MAX_RULES)
    version: Literal[1] = 1
