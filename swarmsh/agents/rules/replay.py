"""Rules over a sequence of spans in memory, nothing written: `swarmsh rules test` and the
tables of the tests. The same decisions, in the same order, as the running agent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from swarmsh.agents.base import EntityState
from swarmsh.agents.rules.agent import NAME
from swarmsh.agents.rules.engine import CompiledRule, RuleSet
from swarmsh.agents.rules.template import MissingField
from swarmsh.agents.runner import command_id
from swarmsh.bus.records import SpanRecord
from swarmsh.semconv._generated import attributes as attr


@dataclass(frozen=True)
class Firing:
    """What the agent would do: one NextCommand, in the trace of `record`."""

    rule: str
    group: str
    count: int
    record: SpanRecord
    command: str
    args: dict[str, Any]
    reason: str
    links: tuple[tuple[str, str], ...]

    @property
    def id(self) -> str:
        return command_id(NAME, self.record.span_id, self.rule)


@dataclass
class Replay:
    """Rule state across calls (as the agent's store holds it) and what was counted."""

    rules: Sequence[CompiledRule]
    states: dict[str, EntityState]
    counters: Counter[str]

    @classmethod
    def of(cls, rules: Sequence[CompiledRule]) -> Replay:
        return cls(rules, {}, Counter())

    def feed(self, records: Iterable[SpanRecord]) -> Iterator[Firing]:
        ruleset = RuleSet(tuple(self.rules))
        for record in records:
            for hit in ruleset.hits(record):
                rule = hit.rule
                try:
                    outcome = rule.decide(hit, self.states.get(hit.key))
                except MissingField:
                    self.counters["malformed"] += 1  # the agent dead-letters the span
                    continue
                self.states.update(outcome.updates)
                if outcome.silent:
                    self.counters[outcome.silent] += 1
                    continue
                self.counters["fired"] += 1
                for request in outcome.commands:
                    yield Firing(
                        rule=rule.name,
                        group=hit.group,
                        count=int(outcome.attributes[attr.SWARM_RULE_COUNT]),
                        record=record,
                        command=request.command,
                        args=dict(request.args),
                        reason=request.reason,
                        links=outcome.links,
                    )
