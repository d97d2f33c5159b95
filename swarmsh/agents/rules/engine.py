"""A rule compiled into pure functions: which spans it sees, their group, and
(span, group state) -> (new state, firing), on the spans' own timestamps, never the clock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from itertools import pairwise
from types import MappingProxyType
from typing import Any

from swarmsh.agents.base import CommandRequest, EntityState, Outcome
from swarmsh.agents.rules.match import (
    HeadCheck,
    SpanCheck,
    compile_body,
    compile_head,
    field_value,
    literal_needle,
)
from swarmsh.agents.rules.model import Rule
from swarmsh.agents.rules.template import Template, check_action
from swarmsh.bus.records import SpanRecord
from swarmsh.semconv._generated import attributes as attr

MAX_LINKS = 32  # the spans that counted, linked from a firing's iteration span (the newest)
GROUP_CHARS = 200
KEY_CACHE = 4096
WATCHING, FIRED = "WATCHING", "FIRED"
STATES = (WATCHING, FIRED)

Entry = tuple[float, str, str]  # (timestamp, trace id, span id) of a span that counted


@dataclass(frozen=True, slots=True)
class Hit:
    """A span a rule matched: the rule, the span, its group (and state key), the steps it
    satisfies."""

    rule: CompiledRule
    record: SpanRecord
    group: str
    key: str
    values: tuple[tuple[str, str], ...]
    steps: tuple[int, ...] = ()


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _bounded(text: str) -> str:
    if len(text) <= GROUP_CHARS:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{text[: GROUP_CHARS - 17]}~{digest}"


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    heads: tuple[HeadCheck, ...]  # name, status, kind: one for `match`, or one per step
    bodies: tuple[SpanCheck, ...]  # duration, resource and attributes, likewise
    needles: tuple[str, ...] | None  # None: the rule must see every line
    template: dict[str, Template | Any]
    reason: Template
    _keys: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def name(self) -> str:
        return self.rule.name

    def head(self, name: str, status: str, kind: str) -> bool:
        return any(head(name, status, kind) for head in self.heads)

    def hit(self, record: SpanRecord, headed: bool = False) -> Hit | None:
        """The rule's view of a span: None if it does not match or lacks a group_by field.
        `headed`: the caller has checked `head` (name, status, kind) already."""
        key3 = (record.name, record.status, record.kind)
        if len(self.heads) == 1:
            if not ((headed or self.heads[0](*key3)) and self.bodies[0](record)):
                return None
            steps: tuple[int, ...] = ()
        else:
            steps = tuple(
                i
                for i, (head, body) in enumerate(zip(self.heads, self.bodies, strict=True))
                if head(*key3) and body(record)
            )
            if not steps:
                return None
        values = []
        for name in self.rule.group_by:
            value = field_value(record, name)
            if value is None or isinstance(value, list | dict):
                return None
            values.append((name, _bounded(_text(value))))
        group = ",".join(f"{k}={v}" for k, v in values)
        return Hit(self, record, group, self.key(group), tuple(values), steps)

    def key(self, group: str) -> str:
        """The group's entity key in the store (cached: groups repeat)."""
        key = self._keys.get(group)
        if key is None:
            if len(self._keys) >= KEY_CACHE:
                self._keys.clear()
            digest = hashlib.sha256(group.encode()).hexdigest()[:24]
            key = self._keys[group] = f"rule:{self.name}|{digest}"
        return key

    # -- the decision -----------------------------------------------------------------------

    def decide(self, hit: Hit, state: EntityState | None) -> Outcome:
        data = dict(state.data) if state else {}
        before = state.state if state else WATCHING
        record = hit.record
        entry: Entry = (record.timestamp, record.trace_id, record.span_id)
        newest = max(float(data.get("hi", entry[0])), entry[0])
        data["hi"] = newest
        if self.rule.correlate is not None:
            counted = self._correlate(hit, data, entry, newest)
        else:
            counted = self._window(data, entry, newest)
        key = hit.key
        if counted is None:
            return _quiet(before, key, data, "advanced")
        throttle, last = self.rule.throttle, data.get("t")
        if throttle and last is not None and abs(entry[0] - last) < throttle.once_within:
            return _quiet(before, key, data, "throttled")
        data["t"] = entry[0]
        return self._fire(hit, before, data, counted)

    def _window(self, data: dict[str, Any], entry: Entry, newest: float) -> list[Entry] | None:
        window = self.rule.window
        if window is None:
            return [entry]
        floor = newest - window.within
        if entry[0] < floor:  # later than its window: it counts for nothing
            return None
        entries = [tuple(e) for e in data.get("w", ()) if e[0] >= floor]
        entries.append(entry)
        entries.sort(key=lambda e: (e[0], e[2]))
        if len(entries) >= window.count:
            data["w"] = []
            return entries  # type: ignore[return-value]
        data["w"] = [list(e) for e in entries]
        return None

    def _correlate(
        self, hit: Hit, data: dict[str, Any], entry: Entry, newest: float
    ) -> list[Entry] | None:
        spec = self.rule.correlate
        assert spec is not None
        steps: list[Any] = list(data.get("c") or [None] * len(self.heads))
        # A span counts for one step: the first it matches that is empty, else the one whose
        # span is oldest (each step keeps its newest span).
        empty = [i for i in hit.steps if steps[i] is None]
        i = empty[0] if empty else min(hit.steps, key=lambda j: (steps[j][0], j))
        if steps[i] is None or steps[i][0] <= entry[0]:
            steps[i] = list(entry)
        floor = newest - spec.within
        steps = [s if s and s[0] >= floor else None for s in steps]
        complete = all(steps) and any(s[2] == entry[2] for s in steps)
        if complete and (not spec.ordered or all(a[0] <= b[0] for a, b in pairwise(steps))):
            data["c"] = [None] * len(steps)
            return [tuple(s) for s in steps]  # type: ignore[misc]
        data["c"] = steps
        return None

    def _fire(self, hit: Hit, before: str, data: dict[str, Any], counted: list[Entry]) -> Outcome:
        fields = dict(hit.values)
        fields.update(count=str(len(counted)), rule=self.name, group=hit.group)
        args = {
            k: v.render(hit.record, fields) if isinstance(v, Template) else v
            for k, v in self.template.items()
        }
        request = CommandRequest(
            rule=self.name,
            command=self.rule.then.command,
            args=args,
            reason=self.reason.render(hit.record, fields),
        )
        me = hit.record.span_id
        links = tuple((t, s) for _, t, s in counted if s != me)[-MAX_LINKS:]
        return Outcome(
            from_state=before,
            to_state=FIRED,
            updates={hit.key: EntityState(FIRED, MappingProxyType(data))},
            commands=(request,),
            links=links,
            attributes={
                attr.SWARM_RULE_NAME: self.name,
                attr.SWARM_RULE_GROUP: hit.group,
                attr.SWARM_RULE_COUNT: len(counted),
            },
        )


def _quiet(before: str, key: str, data: dict[str, Any], why: str) -> Outcome:
    """A span that only advanced a window (or was throttled): new state, no span, no command;
    `why` names the counter it goes to."""
    state = EntityState(WATCHING, MappingProxyType(data))
    return Outcome(before, WATCHING, {key: state}, silent=why)


def compile_rule(rule: Rule) -> CompiledRule:
    matches = [rule.match] if rule.match is not None else list(rule.correlate.steps)  # type: ignore[union-attr]
    needles: list[str] | None = []
    for match in matches:
        names = [match.span] if isinstance(match.span, str) else list(match.span or [])
        found = [literal_needle(n) for n in names]
        if not names or any(len(n) < 3 for n in found):
            needles = None  # a step without a usable name constraint: every line
            break
        assert needles is not None
        needles += found
    template = check_action(rule.then)
    reason = Template.parse(rule.then.reason or f"rule {rule.name} fired for {{group}}")
    return CompiledRule(
        rule,
        tuple(compile_head(m) for m in matches),
        tuple(compile_body(m) for m in matches),
        None if needles is None else tuple(sorted(set(needles))),
        template,
        reason,
    )


class RuleSet:
    """The loaded rules, and which of them a (name, status, kind) can concern, cached: a span
    costs a dict lookup plus the remaining checks of the few rules that apply to it."""

    def __init__(self, rules: tuple[CompiledRule, ...]) -> None:
        self.rules = rules
        self._heads: dict[tuple[str, str, str], tuple[CompiledRule, ...]] = {}

    def hits(self, record: SpanRecord) -> list[Hit]:
        key3 = (record.name, record.status, record.kind)
        candidates = self._heads.get(key3)
        if candidates is None:
            if len(self._heads) >= KEY_CACHE:
                self._heads.clear()
            candidates = tuple(r for r in self.rules if r.head(*key3))
            self._heads[key3] = candidates
        found = []
        for rule in candidates:
            hit = rule.hit(record, headed=True)
            if hit is not None:
                found.append(hit)
        return found
