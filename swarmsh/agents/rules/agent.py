"""The rules agent: the shared runner, fed by rulebooks instead of Python rules; SIGHUP reloads."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from swarmsh.agents.base import STATUSES, Agent, Outcome, Settings, States
from swarmsh.agents.guard import AgentCodeFailed
from swarmsh.agents.rules.engine import STATES, CompiledRule, Hit, RuleSet
from swarmsh.agents.rules.load import RulebookError, load_rules
from swarmsh.agents.rules.template import MissingField
from swarmsh.agents.runner import AgentRunner, Event
from swarmsh.bus.position import Position
from swarmsh.bus.prefilter import NamePrefixFilter
from swarmsh.bus.records import SpanRecord
from swarmsh.config import Paths
from swarmsh.errors import MalformedRecord
from swarmsh.telemetry import Telemetry

_log = logging.getLogger(__name__)
NAME = "rules"


def needles_of(rules: Sequence[CompiledRule]) -> tuple[str, ...] | None:
    """The prefilter's needles: every rule's name literals; None if a rule reads every line."""
    needles: set[str] = set()
    for rule in rules:
        if rule.needles is None:
            return None
        needles.update(rule.needles)
    return tuple(sorted(needles))


def _decide(hit: Hit, states: States, settings: Settings) -> Outcome:
    return hit.rule.decide(hit, states.get(hit.key))


def _describe(hit: Hit) -> dict[str, Any]:
    return {}


def make_agent(rules: Sequence[CompiledRule]) -> Agent:
    """An `Agent` whose triggers are the rule names (the runner needs nothing else)."""
    names = [rule.name for rule in rules]
    return Agent(
        name=NAME,
        prefix="",
        initial_state=STATES[0],
        states=STATES,
        final_states=frozenset(STATES),  # groups untouched for the retention are pruned
        models=dict.fromkeys(names, BaseModel),  # unused: events() matches the raw records
        keys={name: (lambda hit: (hit.key,)) for name in names},
        rules=dict.fromkeys(names, _decide),
        describe=_describe,
        acted_on=STATUSES,  # rules match failed actions too (status: ERROR)
    )


class RulesRunner(AgentRunner):
    """Matches each span against every rule before any model is built; one event per rule
    that sees it, so each firing is its own iteration span and command."""

    def __init__(
        self, rules_paths: Sequence[Path], paths: Paths, telemetry: Telemetry, **kwargs: Any
    ) -> None:
        self.rules_paths = tuple(rules_paths)
        self.rules = load_rules(self.rules_paths)
        self._reload = threading.Event()
        super().__init__(make_agent(self.rules), paths, telemetry, **kwargs)
        self._index()

    def run(self, stop: threading.Event) -> None:
        # logged once the SIGHUP handler is in place (run_daemon installs it before run)
        paths = ", ".join(map(str, self.rules_paths))
        _log.info("loaded %d rules from %s; SIGHUP reloads them", len(self.rules), paths)
        super().run(stop)

    def _index(self) -> None:
        self.agent = make_agent(self.rules)
        self.ruleset = RuleSet(self.rules)
        self.follower.accept = self.accept_filter()

    def accept_filter(self) -> Callable[[bytes], bool] | None:
        needles = needles_of(self.rules)
        return None if needles is None else NamePrefixFilter(needles)

    # -- reload ---------------------------------------------------------------------------

    def request_reload(self) -> None:
        """From the SIGHUP handler: reload before the next batch."""
        self._reload.set()
        self.wakeup()

    def before_poll(self) -> None:
        if self._reload.is_set():
            self._reload.clear()
            self.reload()

    def reload(self) -> bool:
        """Load the rulebooks again; a broken one keeps the rules we have, and says why."""
        try:
            rules = load_rules(self.rules_paths)
        except RulebookError as exc:
            _log.error("reload refused, keeping the %d rules loaded: %s", len(self.rules), exc)
            return False
        self.rules = rules
        self._index()
        _log.info("reloaded: %d rules", len(rules))
        return True

    # -- one record -----------------------------------------------------------------------

    def events(self, record: SpanRecord, position: Position) -> list[Event]:
        if record.status not in STATUSES:
            raise MalformedRecord(
                f"status {record.status[:40]!r} is none of {', '.join(sorted(STATUSES))}"
            )
        return [
            Event(record, hit.rule.name, hit, (hit.key,), position)
            for hit in self.ruleset.hits(record)
        ]

    def handle(self, event: Event, batch: Any, now: float) -> None:
        try:
            super().handle(event, batch, now)
        except AgentCodeFailed as exc:  # a field the action needs is missing: the span's fault
            if isinstance(exc.__cause__, MissingField):
                raise MalformedRecord(f"rule {event.trigger}: {exc.__cause__}") from None
            raise


def main() -> None:
    """`python -m swarmsh.agents.rules`: run the rules agent until SIGTERM; SIGHUP reloads."""
    from swarmsh.agents.rules.load import default_rules_dir
    from swarmsh.agents.runner import DEFAULT_RETENTION_S, ENV_RETENTION
    from swarmsh.config import env_float
    from swarmsh.daemon import run_daemon

    def make(paths: Paths, telemetry: Telemetry, start: str) -> RulesRunner:
        retention = env_float(ENV_RETENTION, DEFAULT_RETENTION_S, minimum=0)
        return RulesRunner(
            [default_rules_dir()], paths, telemetry, start=start, retention_s=retention
        )

    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # until run_daemon installs the reload
    run_daemon(
        NAME,
        make,
        start_help="the saved checkpoint (on first start: where `swarmsh up` marked the bus, "
        "else its end), the bus's first byte, or its end",
    )
