"""Matchers compiled once from a rule's `match`: plain functions of a span record."""

from __future__ import annotations

import fnmatch
import math
import re
from collections.abc import Callable
from typing import Any

from swarmsh.agents.rules.model import Condition, Match, Value
from swarmsh.bus.records import SpanRecord

MAX_REGEX_CHARS = 256
REGEX_SUBJECT_CHARS = 1024  # a regex sees at most the first 1,024 characters of a value
_GLOB = re.compile(r"[*?\[]")

Check = Callable[[Any], bool]
SpanCheck = Callable[[SpanRecord], bool]

try:  # the parser behind re.compile, to refuse patterns that backtrack catastrophically
    from re import _constants as _sre_constants  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants as _sre_constants  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

_REPEATS = (_sre_constants.MAX_REPEAT, _sre_constants.MIN_REPEAT)


MAX_UNBOUNDED = 2  # unbounded repeats per regex, an unanchored search's own scan counting as one


def _shape(items: Any, inside: bool) -> tuple[str | None, int]:
    """(why the pattern may backtrack catastrophically, or None; its unbounded repeats)."""
    count = 0
    for op, arg in items:
        parts: list[Any] = []
        nested = inside
        if op in _REPEATS:
            unbounded = arg[1] == _sre_constants.MAXREPEAT or arg[1] > 100
            if inside and unbounded:
                return "nests a repeat inside a repeat", count
            count += unbounded
            parts, nested = [arg[2]], inside or unbounded
        elif op is _sre_constants.SUBPATTERN:
            parts = [arg[-1]]
        elif op is _sre_constants.BRANCH:
            if inside:
                return "repeats an alternation", count
            parts = list(arg[1])
        elif op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
            parts = [arg[1]]
        for part in parts:
            why, more = _shape(part, nested)
            count += more
            if why:
                return why, count
    return None, count


_STARTS = {
    (_sre_constants.AT, _sre_constants.AT_BEGINNING),
    (_sre_constants.AT, _sre_constants.AT_BEGINNING_STRING),
}


def compile_regex(pattern: str) -> re.Pattern[str]:
    """A regex compiled now, refused when it could backtrack catastrophically: at most 256
    characters; no repeat or alternation inside an unbounded repeat (`(a+)+`, `(a|aa)*`); at
    most 2 unbounded repeats, an unanchored pattern's search counting as one (`^/a/.*/x+$` and
    `/orders/[0-9]+` pass, `.*a.*b` does not). The worst case is then quadratic in the 1,024
    characters a regex sees (≤ 4 ms measured)."""
    if len(pattern) > MAX_REGEX_CHARS:
        raise ValueError(f"regex longer than {MAX_REGEX_CHARS} characters")
    try:
        parsed = _sre_parse.parse(pattern)
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"regex {pattern!r} does not compile: {exc}") from None
    items = list(parsed)
    why, repeats = _shape(items, False)
    if why:
        raise ValueError(f"regex {pattern!r} {why} (catastrophic backtracking)")
    anchored = bool(items) and tuple(items[0]) in _STARTS
    if repeats + (not anchored) > MAX_UNBOUNDED:
        raise ValueError(
            f"regex {pattern!r} has {repeats} unbounded repeats"
            + ("" if anchored else " and no ^ anchor")
            + f": at most {MAX_UNBOUNDED}, an unanchored search counting as one"
        )
    return compiled


_NUMBERS = (int, float)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _same(a: Any, b: Any) -> bool:
    """Typed equality: a string never equals a number, a bool never equals 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _number(a) and _number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


def _equals(spec: Any) -> Check:
    """Typed equality, specialised for the spec's type (the hot path of most rules)."""
    if isinstance(spec, bool):
        return lambda v: v is spec
    if isinstance(spec, str):
        return lambda v: v.__class__ is str and v == spec
    return lambda v: v.__class__ in _NUMBERS and v == spec  # a bool is no number here


def all_of(checks: list[Any]) -> Any:
    """One function that holds when every check holds, without a generator per call."""
    if not checks:
        return lambda _r: True
    if len(checks) == 1:
        return checks[0]
    first, rest = checks[0], all_of(checks[1:])
    return lambda r: first(r) and rest(r)


def condition(spec: Value) -> Check:
    """A check of one value (None: the attribute is missing)."""
    if isinstance(spec, list):
        options = [_equals(o) for o in spec]
        return lambda v: any(o(v) for o in options)
    if not isinstance(spec, Condition):
        return _equals(spec)
    checks: list[Check] = []
    if spec.exists is not None:
        want = spec.exists
        checks.append(lambda v: (v is not None) is want)
    if spec.eq is not None:
        checks.append(condition(spec.eq))
    if spec.ne is not None:
        eq = condition(spec.ne)
        checks.append(lambda v: v is not None and not eq(v))
    if spec.in_ is not None:
        checks.append(condition(spec.in_))
    if spec.not_in is not None:
        within = condition(spec.not_in)
        checks.append(lambda v: v is not None and not within(v))
    for op, bound in (("gt", spec.gt), ("gte", spec.gte), ("lt", spec.lt), ("lte", spec.lte)):
        if bound is not None:
            checks.append(_compare(op, bound))
    if spec.regex is not None:
        pattern = compile_regex(spec.regex)
        checks.append(
            lambda v: isinstance(v, str) and pattern.search(v[:REGEX_SUBJECT_CHARS]) is not None
        )
    return all_of(checks)


def _compare(op: str, bound: float) -> Check:
    if op == "gt":
        return lambda v: _number(v) and v > bound
    if op == "gte":
        return lambda v: _number(v) and v >= bound
    if op == "lt":
        return lambda v: _number(v) and v < bound
    return lambda v: _number(v) and v <= bound


def name_check(names: list[str]) -> Callable[[str], bool]:
    exact = frozenset(n for n in names if not _GLOB.search(n))
    globs = [re.compile(fnmatch.translate(n)) for n in names if _GLOB.search(n)]
    if not globs:
        return lambda name: name in exact
    return lambda name: name in exact or any(g.match(name) for g in globs)


def _listed(value: str | list[str] | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


HeadCheck = Callable[[str, str, str], bool]


def compile_head(match: Match) -> HeadCheck:
    """The cheap part of `match`: (name, status, kind), which the rule set caches per triple."""
    names = name_check(_listed(match.span)) if match.span is not None else None
    statuses = frozenset(_listed(match.status)) if match.status is not None else None
    kinds = frozenset(_listed(match.kind)) if match.kind is not None else None

    def head(name: str, status: str, kind: str) -> bool:
        return (
            (statuses is None or status in statuses)
            and (kinds is None or kind in kinds)
            and (names is None or names(name))
        )

    return head


def compile_body(match: Match) -> SpanCheck:
    """The rest of `match`: duration, resource and span attributes."""
    checks: list[SpanCheck] = []
    if match.duration_ms is not None:
        duration = condition(match.duration_ms)
        checks.append(lambda r: duration(r.duration_ms))
    for key, spec in match.resource.items():
        checks.append(_keyed("resource", key, condition(spec)))
    for key, spec in match.attributes.items():
        checks.append(_keyed("attributes", key, condition(spec)))
    return all_of(checks)  # type: ignore[no-any-return]


def _keyed(where: str, key: str, check: Check) -> SpanCheck:
    if where == "resource":
        return lambda r: check(r.resource.get(key))
    return lambda r: check(r.attributes.get(key))


def literal_needle(pattern: str) -> str:
    """The longest run of a name or glob that every matching name contains as it stands in a
    JSON line: no glob characters, nothing JSON may escape (quote, backslash, slash, controls).
    Non-ASCII may be \\u-escaped, but the prefilter passes every line with a \\u escape."""
    runs = re.split(r"[*?\[\]\"\\/\x00-\x1f\x7f]", pattern)
    return max(runs, key=len)


def field_value(record: SpanRecord, name: str) -> Any:
    """A field for group_by and substitution: `resource.X` or `attributes.X` explicitly, else
    the span's attribute X, else its resource attribute X; None when missing."""
    if name.startswith("resource."):
        return record.resource.get(name[9:])
    if name.startswith("attributes."):
        return record.attributes.get(name[11:])
    value = record.attributes.get(name)
    return record.resource.get(name) if value is None else value
