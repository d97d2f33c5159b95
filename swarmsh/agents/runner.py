"""The one runner every agent shares: follow the bus, apply the rules, emit, then commit."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from opentelemetry.trace import Link, SpanContext, Status, StatusCode
from pydantic import ValidationError

from swarmsh import startmark
from swarmsh.agents.base import STATUSES, Agent, EntityState, Outcome, Settings
from swarmsh.agents.guard import AgentCodeFailed, check_outcome, what
from swarmsh.bus.deadletter import DeadLetterWriter
from swarmsh.bus.follower import Follower
from swarmsh.bus.position import Position
from swarmsh.bus.prefilter import name_prefix_filter
from swarmsh.bus.records import MAX_DEPTH, CommandSource, NextCommand, SpanRecord, dumps_line
from swarmsh.bus.writer import JsonlWriter
from swarmsh.config import ENV_DEFECT_THRESHOLD, Paths, env_float
from swarmsh.errors import MalformedRecord
from swarmsh.patience import INFRASTRUCTURE_ERRORS, NEVER, until_done
from swarmsh.semconv._generated import attributes as attr
from swarmsh.store import CommandEntry, StateStore
from swarmsh.telemetry import Telemetry

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

_log = logging.getLogger(__name__)

ENV_RETENTION = "SWARMSH_RETENTION_S"
DEFAULT_RETENTION_S = 7 * 24 * 3600.0
POLL_TIMEOUT_S = 1.0
SKIP_COMMIT_INTERVAL_S = 1.0  # how often a position past only others' lines is committed
ITERATION_SPAN = "swarm.loop.iteration"
_OK = Status(StatusCode.OK)
CACHE_ENTRIES = 4096  # bounded: the agent must stay small (see benchmarks: memory)
# Every span name the registry defines: an agent ignores the known ones it has no rule for
# and dead-letters names under its prefix that nobody defines.
KNOWN_SPANS = frozenset(v for k, v in vars(attr).items() if k.startswith("SPAN_"))


def _depth(record: SpanRecord, model: Any) -> int:
    """The hops behind a span: the model's, which the registry bounds (so that depth + 1 is a
    valid NextCommand); for a model without the field, the raw attribute if it is in bounds."""
    depth = getattr(model, "swarm_loop_depth", None)
    if type(depth) is int and 0 <= depth < MAX_DEPTH:  # the common case, checked first
        return depth
    if depth is None:
        depth = record.attributes.get(attr.SWARM_LOOP_DEPTH, 0)
    if isinstance(depth, int) and not isinstance(depth, bool) and 0 <= depth < MAX_DEPTH:
        return depth
    return 0


def _open_store(path: Path) -> StateStore:
    """The agent's store, once the disk lets us open it (a corrupt file raises StoreCorrupt).
    Nothing can ask us to stop yet: SIGTERM still ends the process at once."""
    opened: list[StateStore] = []

    def open_it() -> bool:
        opened.append(StateStore(path, durable=True))
        return True

    until_done(open_it, NEVER, what=f"open {path}")
    return opened[0]


def command_id(agent: str, source_span_id: str, rule: str) -> str:
    """Deterministic, so that a replay after a crash re-emits the very same ids."""
    return hashlib.sha256(f"{agent}|{source_span_id}|{rule}".encode()).hexdigest()[:32]


class Event(NamedTuple):
    """A span for this agent, read: its trigger, typed attributes and entity keys."""

    record: SpanRecord
    trigger: str
    model: Any
    keys: tuple[str, ...]
    position: Position


_event = tuple.__new__  # Event(...) without NamedTuple's Python-level __new__


class _Batch:
    """What handling one poll's worth of records produced, before it is made durable:
    entity states, queue lines with the ids and names of their commands, counters, and the
    transitions to add to the metric once per batch (not once per span)."""

    __slots__ = ("updates", "encoded", "commands", "lines", "counters", "transitions")

    def __init__(self) -> None:
        self.updates: dict[str, EntityState] = {}
        self.encoded: dict[str, str] = {}  # each update's data as the store writes it
        self.commands: list[tuple[str, str]] = []  # (id, command) of each queued line
        self.lines: list[bytes] = []
        self.counters: Counter[str] = Counter()
        self.transitions: Counter[tuple[str, str]] = Counter()


class AgentRunner:
    """Runs one `Agent` against a home: the only place agent I/O happens.

    Order per batch: write the NextCommands (one locked append, in a helper
    thread beside the next step when the queue fsyncs), flush the iteration
    spans to the bus, then, both durable, commit offset + entity states +
    emitted ids in one SQLite transaction. A crash before the commit replays the batch
    and re-emits the same command ids, which the executor deduplicates.
    """

    def __init__(
        self,
        agent: Agent,
        paths: Paths,
        telemetry: Telemetry,
        *,
        settings: Settings | None = None,
        start: str = "checkpoint",
        retention_s: float = DEFAULT_RETENTION_S,
    ) -> None:
        self.agent = agent
        self.paths = paths
        self.telemetry = telemetry
        self.settings = settings or Settings()
        self.retention_s = retention_s
        self.reader = agent.name
        self._helper: ThreadPoolExecutor | None = None  # appends to the queue (_start_append)
        self._last_prune = 0.0
        self._skip_committed_at = 0.0  # monotonic; see run()
        self._cache: dict[str, EntityState | None] = {}
        from swarmsh.bus import backend

        if backend.agent_io(self, paths, start):  # JetStream: store, queue, follower from there
            return
        self.store = _open_store(paths.state / f"{agent.name}.db")
        self.queue = JsonlWriter(paths.queue)
        saved = self.store.load_position(self.reader)
        begin = startmark.start_position(paths.state, saved, start)
        self.follower: Follower[SpanRecord] = Follower(
            paths.bus,
            reader=self.reader,
            parse=SpanRecord.from_json,
            deadletter=DeadLetterWriter(paths.deadletter_file(self.reader)),
            start=begin,
            accept=self.accept_filter(),
            on_malformed=self._count_malformed,
        )
        self._committed = self.follower.position
        if saved is None or start != "checkpoint":
            # Remember where we began at once: a crash before the first batch's commit
            # must resume here, not at whatever the bus's end is by then.
            position = self._committed.to_dict()

            def commit_start() -> bool:
                self.store.commit(self.reader, position)
                return True

            until_done(commit_start, NEVER, what="commit the start")

    def _prefetch(self, keys: set[str]) -> bool:
        """Load the entities a batch touches that the cache lacks: one query, not one a span."""
        missing = [key for key in keys if key not in self._cache]
        if not missing:
            return True
        if len(self._cache) + len(missing) > CACHE_ENTRIES:
            self._cache.clear()  # crude but bounded; the store has everything
            missing = list(keys)
        found = self.store.get(missing)
        for key in missing:
            self._cache[key] = found.get(key)  # None: known to be new
        return True

    def _states(self, keys: tuple[str, ...], batch: _Batch) -> dict[str, EntityState]:
        """The entities' states: this batch's updates, else the (prefetched) cache."""
        states: dict[str, EntityState] = {}
        for key in keys:
            state = batch.updates[key] if key in batch.updates else self._cache[key]
            if state is not None:
                states[key] = state
        return states

    def _count_malformed(self, reason: str) -> None:
        self.telemetry.instruments.malformed.add(1, {attr.SWARM_BUS_READER: self.reader})

    def accept_filter(self) -> Callable[[bytes], bool] | None:
        """The follower's byte prefilter: never drops a span this agent could act on."""
        return name_prefix_filter([self.agent.prefix])

    def before_poll(self) -> None:
        """Called between batches (a subclass may reload its configuration here)."""

    # -- one record -------------------------------------------------------------------------

    def events(self, record: SpanRecord, position: Position) -> list[Event]:
        """The events a span makes for this agent: none, or one per rule that sees it."""
        event = self.parse(record, position)
        return [] if event is None else [event]

    def parse(self, record: SpanRecord, position: Position) -> Event | None:
        """The span's typed model and entity keys; None for a known span without a rule, or
        whose status says the action failed (see `Agent.acted_on`)."""
        agent = self.agent
        trigger = record.name[len(agent.prefix) :]
        model_type = agent.models.get(trigger)
        if model_type is None:
            if record.name in KNOWN_SPANS:
                return None
            raise MalformedRecord(f"unknown span name {record.name[:200]!r} for agent {agent.name}")
        if record.status not in agent.acted_on:
            if record.status in STATUSES:
                return None
            raise MalformedRecord(
                f"status {record.status[:40]!r} is none of {', '.join(sorted(STATUSES))}"
            )
        try:
            model = model_type.model_validate(record.attributes)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise MalformedRecord(f"attributes do not fit {record.name}: {problems}") from None
        except Exception as exc:  # a model's own validator gone wrong: still this span only
            raise AgentCodeFailed(f"model of {record.name} raised {what(exc)}") from exc
        try:
            keys = tuple(agent.keys[trigger](model))
            for key in keys:  # a loop: a generator in all() costs more than the check
                if not isinstance(key, str):
                    raise TypeError("entity keys must be str")
        except Exception as exc:
            raise AgentCodeFailed(f"keys of {record.name} raised {what(exc)}") from exc
        return _event(Event, (record, trigger, model, keys, position))

    def _decide(
        self, event: Event, batch: _Batch
    ) -> tuple[Outcome, dict[str, Any], dict[str, str]]:
        """Run the agent's code for one span: its outcome, the iteration's domain attributes
        and the updated entities' data encoded for the store. Anything the code returns that
        the batch could not store or send is its failure too, caught here, for this span only."""
        agent, name = self.agent, event.record.name
        try:
            outcome = agent.rules[event.trigger](
                event.model, self._states(event.keys, batch), self.settings
            )
            described = dict(agent.describe(event.model))
        except Exception as exc:
            raise AgentCodeFailed(f"rule for {name} raised {what(exc)}") from exc
        try:
            encoded = check_outcome(outcome, described)
        except Exception as exc:
            raise AgentCodeFailed(f"rule for {name} returned what cannot be stored: {exc}") from exc
        return outcome, described, encoded

    def handle(self, event: Event, batch: _Batch, now: float) -> None:
        began_ns = time.time_ns()
        agent, record, trigger, model = self.agent, event.record, event.trigger, event.model
        outcome, described, encoded = self._decide(event, batch)
        depth = _depth(record, model)
        attributes: dict[str, Any] = {
            attr.SWARM_AGENT: agent.name,
            attr.SWARM_TRIGGER: trigger,
            attr.SWARM_STATE_FROM: outcome.from_state,
            attr.SWARM_STATE_TO: outcome.to_state,
            attr.SWARM_LOOP_DEPTH: depth,
            **described,
        }
        if outcome.silent:  # only state advanced: no span of its own (a busy stream), counted
            batch.updates.update(outcome.updates)
            batch.encoded.update(encoded)
            batch.counters[outcome.silent] += 1
            counter = self.telemetry.instruments.rule_matches
            if counter is not None:
                counter.add(
                    1, {attr.SWARM_AGENT: agent.name, attr.SWARM_RULE_OUTCOME: outcome.silent}
                )
            return
        if outcome.attributes:
            attributes.update(outcome.attributes)
        telemetry = self.telemetry
        if outcome.rejected:
            attributes[attr.SWARM_REJECTION_REASON] = outcome.rejected
            telemetry.record_child(
                ITERATION_SPAN,
                record.trace_id,
                record.span_id,
                record.sampled,
                attributes,
                Status(StatusCode.ERROR, outcome.rejected),
                began_ns,
            )
            batch.counters["rejected"] += 1
            return
        # (Empty tuples are the rule: a comprehension over one still costs a call.)
        ids = (
            [command_id(agent.name, record.span_id, r.rule) for r in outcome.commands]
            if outcome.commands
            else ()
        )
        if ids:  # one command per span in every built-in rule; with more, the last is named
            attributes[attr.SWARM_COMMAND] = outcome.commands[-1].command
            attributes[attr.SWARM_COMMAND_ID] = ids[-1]
        links = (
            [Link(SpanContext(int(t, 16), int(s, 16), True)) for t, s in outcome.links]
            if outcome.links
            else ()
        )
        span_id, sampled = telemetry.record_child(
            ITERATION_SPAN,
            record.trace_id,
            record.span_id,
            record.sampled,
            attributes,
            _OK,
            began_ns,
            links,
        )
        if ids:
            traceparent = f"00-{record.trace_id}-{span_id}-{'01' if sampled else '00'}"
            source = CommandSource(record.trace_id, record.span_id, record.end)
            for request, id_ in zip(outcome.commands, ids, strict=True):
                command = NextCommand(
                    id=id_,
                    command=request.command,
                    args=dict(request.args),
                    reason=request.reason,
                    agent=agent.name,
                    source=source,
                    traceparent=traceparent,
                    depth=depth + 1,
                    created_at=now,
                )
                batch.lines.append(dumps_line(command.to_dict()))
                batch.commands.append((id_, request.command))
        batch.updates.update(outcome.updates)
        batch.encoded.update(encoded)
        batch.counters["handled"] += 1
        if ids:
            batch.counters["commands"] += len(ids)
        batch.transitions[(outcome.from_state, outcome.to_state)] += 1

    # -- one batch --------------------------------------------------------------------------

    def _reject(
        self, batch: _Batch, record: SpanRecord, position: Position, exc: Exception
    ) -> None:
        """One span this agent cannot act on: dead-lettered with the reason, counted, and the
        batch goes on. A malformed span is the input's fault; a failure of the agent's code
        on valid input is counted apart (it is a bug to fix), but it too stops nothing."""
        reason = str(exc)
        self.follower.dead_letter(record, position, reason)
        self._count_malformed(reason)
        if isinstance(exc, MalformedRecord):
            batch.counters["malformed"] += 1
        else:
            _log.error("dead-lettered span %s: %s", record.span_id, reason)
            batch.counters["rule_failures"] += 1

    def process(self, items: list[tuple[SpanRecord, Position]], stop: threading.Event) -> bool:
        """Handle a batch and make it durable; False if stopped before it could be committed."""
        batch = _Batch()
        now = time.time()
        events: list[Event] = []
        agent = self.agent
        # One event a span unless a subclass says otherwise: then parse() is called directly,
        # without the list events() wraps its answer in.
        parse = self.parse if type(self).events is AgentRunner.events else None
        for record, position in items:
            if not record.name.startswith(agent.prefix):
                continue  # the byte prefilter lets a few other spans through; that is fine
            try:
                if parse is not None:
                    event = parse(record, position)
                    if event is not None:
                        events.append(event)
                        continue
                else:
                    found = self.events(record, position)
                    if found:
                        events.extend(found)
                        continue
            except (MalformedRecord, AgentCodeFailed) as exc:
                self._reject(batch, record, position, exc)
                continue
            if record.status not in agent.acted_on:  # ERROR: the action failed, nothing to do
                batch.counters["failed_actions"] += 1
        keys = {key for event in events for key in event.keys}
        if not until_done(lambda: self._prefetch(keys), stop, what="read entity states"):
            return False
        for event in events:
            try:
                self.handle(event, batch, now)
            except (MalformedRecord, AgentCodeFailed) as exc:
                self._reject(batch, event.record, event.position, exc)
        return self._make_durable(batch, self.follower.position, stop)

    def _start_append(self, lines: list[bytes]) -> Future[int]:
        """`queue.append(lines)` begun in the helper thread (made at first use)."""
        if self._helper is None:
            from concurrent.futures import ThreadPoolExecutor

            self._helper = ThreadPoolExecutor(1, thread_name_prefix=f"{self.reader}-queue")
        return self._helper.submit(self.queue.append, lines)

    def _make_durable(self, batch: _Batch, position: Position, stop: threading.Event) -> bool:
        queued = not batch.lines
        lines = batch.lines

        def write_and_commit() -> bool:
            nonlocal queued
            if not queued and getattr(self.queue, "waits_on_disk", False):
                # The queue's fsync in the helper thread, the bus's here: they overlap (fsync
                # lets go of the GIL), and both are durable before the commit below.
                appended = self._start_append(lines)
                try:
                    self.telemetry.flush_bus()
                finally:
                    queued = appended.exception() is None  # waits; a retry appends afresh
                appended.result()  # the queue's error, if only the queue failed
            if not queued:
                self.queue.append(lines)
                queued = True  # a retry must not append them again
            self.telemetry.flush_bus()
            self.store.commit(
                self.reader,
                position.to_dict(),
                batch.updates,
                self.agent.final_states,
                [CommandEntry(id_, command, "emitted") for id_, command in batch.commands],
                counters=batch.counters,
                encoded=batch.encoded,
            )
            return True

        if not until_done(write_and_commit, stop, what="make the batch durable"):
            return False
        self._committed = position
        self._cache.update(batch.updates)  # we are the store's only writer
        if batch.transitions:
            transitions, name = self.telemetry.instruments.transitions, self.agent.name
            for (before, after), count in batch.transitions.items():
                transitions.add(
                    count,
                    {
                        attr.SWARM_AGENT: name,
                        attr.SWARM_STATE_FROM: before,
                        attr.SWARM_STATE_TO: after,
                    },
                )
        return True

    def prune(self, now: float) -> None:
        if now - self._last_prune < 60:
            return
        self._last_prune = now
        try:
            removed = self.store.prune(now - self.retention_s)
        except INFRASTRUCTURE_ERRORS as exc:  # a full disk: try again at the next interval
            _log.warning("cannot prune the state store (%s); will try again", exc)
            return
        self._cache.clear()
        if removed:
            _log.info("pruned %d finished entities older than %.0fs", removed, self.retention_s)

    def run(self, stop: threading.Event) -> None:
        _log.info("agent %s following %s", self.agent.name, self.paths.bus)
        items: list[tuple[SpanRecord, Position]] | None = None

        def read() -> bool:  # the bus unreadable for a while (I/O error, permissions)
            nonlocal items
            items = self.follower.poll(POLL_TIMEOUT_S)
            return True

        while not stop.is_set():
            self.before_poll()
            if not until_done(read, stop, what=f"read {self.paths.bus}"):
                break
            if items:
                if not self.process(items, stop):
                    break
            elif self.follower.position != self._committed:
                # Only lines for other agents went by: remember that we are past them, at most
                # once a second. Each commit waits on the disk, and a busy bus of other
                # services' spans would otherwise cost a hundred a second, which the hops
                # beside them wait behind; a crash re-reads at most a second of skipped lines.
                now = time.monotonic()
                if now - self._skip_committed_at >= SKIP_COMMIT_INTERVAL_S:
                    self._make_durable(_Batch(), self.follower.position, stop)
                    self._skip_committed_at = now
            else:
                self.prune(time.time())

    def wakeup(self) -> None:
        """Interrupt a waiting poll (from a signal handler)."""
        self.follower.wakeup()

    def close(self) -> None:
        if self._helper is not None:
            self._helper.shutdown()
        self.follower.close()
        self.store.close()


def main(agent: Agent) -> None:
    """`python -m swarmsh.agents.<name>`: run one agent in the foreground until SIGTERM."""
    from swarmsh.daemon import run_daemon

    def make(paths: Paths, telemetry: Telemetry, start: str) -> AgentRunner:
        settings = Settings(defect_threshold=env_float(ENV_DEFECT_THRESHOLD, 3.0, minimum=0))
        retention = env_float(ENV_RETENTION, DEFAULT_RETENTION_S, minimum=0)
        return AgentRunner(
            agent, paths, telemetry, settings=settings, start=start, retention_s=retention
        )

    run_daemon(
        agent.name,
        make,
        start_help="the saved checkpoint (on first start: where `swarmsh up` marked the bus, "
        "else its end), the bus's first byte, or its end",
    )
