"""`Executor`: follows commands.jsonl and runs each NextCommand once through the CLI."""

from __future__ import annotations

import functools
import logging
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from swarmsh.bus.deadletter import DeadLetterWriter
from swarmsh.bus.follower import Follower
from swarmsh.bus.position import Position
from swarmsh.bus.records import NextCommand
from swarmsh.config import ENV_MAX_DEPTH, Paths, env_float, env_int
from swarmsh.errors import BusWriteError, CommandRejected
from swarmsh.executor.invoke import EXECUTED, REFUSED, record_refusal, run_command
from swarmsh.executor.ledger import bus_position, command_ran, commands_ran
from swarmsh.executor.validate import checked_argv
from swarmsh.failpoints import failpoint
from swarmsh.patience import INFRASTRUCTURE_ERRORS, compute_backoff, until_done
from swarmsh.semconv._generated import attributes as attr
from swarmsh.store import CommandEntry, StateStore, StoreCorrupt
from swarmsh.telemetry import Telemetry

_log = logging.getLogger(__name__)

READER = "executor"
ENV_MAX_ATTEMPTS = "SWARMSH_MAX_ATTEMPTS"
ENV_BACKOFF_BASE = "SWARMSH_BACKOFF_BASE_S"
DEFAULT_MAX_DEPTH = 16
DEFAULT_MAX_ATTEMPTS = 4
POLL_TIMEOUT_S = 1.0

# Ledger statuses: `started` is the intent recorded before running; the rest (executed and
# refused, as the run's outcome, and deadlettered) are final.
STARTED, DEADLETTERED = "started", "deadlettered"
_REFUSAL, _DEAD_LETTER = "refusal", "dead letter"


class Executor:
    """Runs NextCommands exactly once.

    The ledger (SQLite, one transaction per step) records an intent before a
    command runs and its outcome with the queue offset after. The command's
    only effect is its CLI span on the bus, written in one `write()` together
    with the `swarmsh.command.execute` span, so after a crash between intent
    and outcome the bus itself says whether the command ran.
    """

    def __init__(
        self,
        paths: Paths,
        telemetry: Telemetry,
        *,
        start: str = "checkpoint",
        max_depth: int = DEFAULT_MAX_DEPTH,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        backoff_base: float = 0.2,
    ) -> None:
        from swarmsh.cli import cli

        self.root = cli
        self.paths = paths
        self.telemetry = telemetry
        self.max_depth = max_depth
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.deadletter = DeadLetterWriter(paths.deadletter_file(READER))
        self._start = start
        self._store: StateStore | None = None
        self._follower: Follower[NextCommand] | None = None
        self._committed: Position | None = None
        self._open_pending = True
        # What was already reported of the command in hand, so that a retry after an
        # infrastructure failure does not report it twice: its refusal span, its dead
        # letter, or (id -> error) that it failed all its attempts.
        self._reported: set[tuple[str, str]] = set()
        self._gave_up: dict[str, str] = {}
        try:
            self._open()
        except INFRASTRUCTURE_ERRORS as exc:  # a full disk at start-up: `run` retries
            _log.error("cannot open the ledger yet (%s); retrying", exc)
            self._forget_broken_store(exc)

    @property
    def store(self) -> StateStore:
        assert self._store is not None, "the ledger is open once `_open` succeeded"
        return self._store

    @property
    def follower(self) -> Follower[NextCommand]:
        assert self._follower is not None, "the queue is open once `_open` succeeded"
        return self._follower

    def _open(self) -> bool:
        """Open the ledger and the queue and commit the start position; each step once, so
        a retry after a failure (a full disk) resumes where the last try stopped."""
        saved = self._open_store().load_position(READER)
        if self._follower is None:
            begin: Position | str = self._start
            if self._start == "checkpoint":
                # the first start reads the whole queue: every command in it is still to run
                begin = Position.from_dict(saved) if saved else "beginning"
            self._follower = Follower(
                self.paths.queue,
                reader=READER,
                parse=NextCommand.from_json,
                deadletter=self.deadletter,
                start=begin,
                on_malformed=self._count_malformed,
            )
        if self._open_pending:
            if saved is None or self._start != "checkpoint":
                # a crash before the first command resumes here
                self.store.commit(
                    READER, self.follower.position.to_dict(), commands=self._ran_on_bus(saved)
                )
            self._committed = self.follower.position
            self._open_pending = False
        return True

    def _open_store(self) -> StateStore:
        if self._store is None:
            self._store = StateStore(self.paths.state / f"{READER}.db", durable=True)
        return self._store

    def _ran_on_bus(self, saved: dict[str, Any] | None) -> list[CommandEntry]:
        """A fresh ledger (first start, or state/executor.db lost) learns from the bus which
        commands already ran, so none of those still in the queue runs again."""
        if saved is not None:
            return []
        ran = commands_ran(self.paths.bus)
        if ran:
            _log.info("a fresh ledger: %d commands already ran according to the bus", len(ran))
        return [CommandEntry(i, name, EXECUTED, {"recovered": "bus"}) for i, name in ran.items()]

    def _count_malformed(self, reason: str) -> None:
        self.telemetry.instruments.malformed.add(1, {attr.SWARM_BUS_READER: READER})

    def _commit(self, position: Position, entry: CommandEntry | None, **counters: int) -> None:
        self.store.commit(
            READER,
            position.to_dict(),
            commands=[entry] if entry else (),
            counters=counters,
        )
        self._committed = position

    def _commit_position(self, position: Position) -> bool:
        self._commit(position, None)
        return True

    # -- one command -----------------------------------------------------------------------

    def handle(self, command: NextCommand, position: Position, stop: threading.Event) -> bool:
        """Settle one command; False when stopped before its outcome could be recorded."""
        entry = self.store.command(command.id)
        if entry is not None and entry.status != STARTED:
            self._commit(position, None, duplicates=1)  # re-emitted after an agent's replay
            return True
        if entry is not None and self._ran_since_intent(command, entry):
            _log.info("command %s already ran before a restart; not running it again", command.id)
            self._settle(command, position, EXECUTED, {"recovered": True}, executed=1)
            return True
        if command.id in self._gave_up:  # an infrastructure failure came after its last attempt
            return self._give_up(command, position, self._gave_up[command.id])
        try:
            argv = checked_argv(self.root, command, self.max_depth)
        except CommandRejected as exc:
            self._reject(command, position, str(exc))
            return True
        bus = bus_position(self.paths.bus)
        intent = CommandEntry(
            command.id, command.command, STARTED, {"bus": bus.to_dict() if bus else None}
        )
        self._commit(self.committed, intent)
        failpoint("executor-after-intent")
        return self._run_with_retries(command, argv, position, stop)

    def _ran_since_intent(self, command: NextCommand, intent: CommandEntry) -> bool:
        """After a crash (or an infrastructure failure) between intent and outcome, the bus
        says whether the command ran: its own CLI span landed after the intent, in the bus
        file the intent names or a later generation."""
        raw = intent.info.get("bus")
        since = Position.from_dict(raw) if isinstance(raw, dict) else None
        return command_ran(self.paths.bus, command.id, command.command, since)

    @property
    def committed(self) -> Position:
        assert self._committed is not None, "set once `_open` succeeded"
        return self._committed

    def _run_with_retries(
        self, command: NextCommand, argv: list[str], position: Position, stop: threading.Event
    ) -> bool:
        error = ""
        for attempt in range(1, self.max_attempts + 1):
            outcome, error = self._run_once(command, argv, attempt)
            if outcome == EXECUTED:
                self._settle(
                    command,
                    position,
                    EXECUTED,
                    {"attempts": attempt},
                    executed=1,
                    failed=attempt - 1,
                )
                return True
            if outcome == REFUSED:
                self._reject(command, position, error)
                return True
            _log.warning(
                "command %s attempt %d/%d failed: %s", command.id, attempt, self.max_attempts, error
            )
            if attempt < self.max_attempts and stop.wait(
                compute_backoff(attempt, base=self.backoff_base)
            ):
                return False  # stopping: the intent stays, the next start resumes it
        self._gave_up[command.id] = error
        return self._give_up(command, position, error)

    def _give_up(self, command: NextCommand, position: Position, error: str) -> bool:
        self._dead_letter(command, position, f"failed {self.max_attempts} times: {error}")
        self._settle(
            command,
            position,
            DEADLETTERED,
            {"error": error},
            deadlettered=1,
            failed=self.max_attempts,
        )
        self._count(command, DEADLETTERED)
        return True

    def _run_once(self, command: NextCommand, argv: list[str], attempt: int) -> tuple[str, str]:
        run = run_command(self.root, self.telemetry, str(self.paths.home), command, argv, attempt)
        failpoint("executor-before-flush")
        # CLI span + execute span: one write. If it fails (BusWriteError), nothing of this
        # run was recorded, so it did not happen: the caller retries it, as no attempt.
        self.telemetry.flush_bus(keep_on_error=False)
        failpoint("executor-after-flush")
        if run.outcome == EXECUTED:
            self._count(command, EXECUTED)
            if run.cli_span_end is not None:
                duration_ms = (run.cli_span_end - command.source.end) * 1000.0
                self.telemetry.instruments.loop_duration.record(
                    max(duration_ms, 0.0),
                    {attr.SWARM_COMMAND: command.command, attr.SWARM_AGENT: command.agent},
                )
        return run.outcome, run.error

    def _settle(
        self,
        command: NextCommand,
        position: Position,
        status: str,
        info: dict[str, Any],
        **counters: int,
    ) -> None:
        self._commit(position, CommandEntry(command.id, command.command, status, info), **counters)
        self._reported -= {(command.id, _REFUSAL), (command.id, _DEAD_LETTER)}
        self._gave_up.pop(command.id, None)

    def _reject(self, command: NextCommand, position: Position, reason: str) -> None:
        if (command.id, _REFUSAL) not in self._reported:
            self._report_refusal(command, reason)
            self._reported.add((command.id, _REFUSAL))
        self._dead_letter(command, position, f"refused: {reason}")
        self._settle(command, position, REFUSED, {"reason": reason}, refused=1)
        self._count(command, REFUSED)

    def _report_refusal(self, command: NextCommand, reason: str) -> None:
        _log.warning("refused command %s (%s): %s", command.id, command.command, reason)
        record_refusal(self.telemetry, command, reason)
        # Unrecorded, the refusal did not happen: a failure is retried like any other step.
        self.telemetry.flush_bus(keep_on_error=False)

    def _dead_letter(self, command: NextCommand, position: Position, reason: str) -> None:
        """Dead-letter a command; an unwritten dead letter is an infrastructure failure, or a
        full disk would lose the only record of why the command did not run."""
        if (command.id, _DEAD_LETTER) in self._reported:
            return
        before = self.deadletter.written
        self.follower.dead_letter(command, position, reason)
        if self.deadletter.written == before:
            raise BusWriteError(f"cannot write the dead letter of command {command.id}")
        self._reported.add((command.id, _DEAD_LETTER))

    def _count(self, command: NextCommand, outcome: str) -> None:
        self.telemetry.instruments.commands_total.add(
            1, {attr.SWARM_COMMAND: command.command, attr.SWARM_COMMAND_OUTCOME: outcome}
        )

    # -- the loop --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        if self._open_pending and not self._retrying(self._open, stop, "open the ledger"):
            return
        _log.info("executor following %s", self.paths.queue)
        items: list[tuple[NextCommand, Position]] = []

        def read() -> bool:  # an I/O error reading the queue is ridden out too
            items[:] = self.follower.poll(POLL_TIMEOUT_S) or ()
            return True

        while not stop.is_set():
            if not self._retrying(read, stop, f"read {self.paths.queue}"):
                return
            for command, position in items:
                step = functools.partial(self._handle_parking_bugs, command, position, stop)
                if not self._retrying(step, stop, f"settle command {command.id}"):
                    return  # stopping: the uncommitted commands are read again at the next start
            if self.follower.position != self._committed:
                # also covers skipped lines
                commit = functools.partial(self._commit_position, self.follower.position)
                if not self._retrying(commit, stop, "commit the queue position"):
                    return

    def _handle_parking_bugs(
        self, command: NextCommand, position: Position, stop: threading.Event
    ) -> bool:
        try:
            return self.handle(command, position, stop)
        except (*INFRASTRUCTURE_ERRORS, StoreCorrupt):
            raise  # not the command's fault: retried, or the ledger needs a person
        except Exception as exc:  # a bug must not kill the loop; the command is parked
            _log.exception("internal error on command %s", command.id)
            self._dead_letter(command, position, f"internal error: {exc!r}")
            self._settle(command, position, DEADLETTERED, {"error": repr(exc)}, deadlettered=1)
            return True

    def _retrying(self, step: Callable[[], bool], stop: threading.Event, what: str) -> bool:
        """`until_done`, with the ledger reopened before each try if an error dropped it."""

        def step_on_an_open_ledger() -> bool:
            self._open_store()
            return step()

        return until_done(
            step_on_an_open_ledger,
            stop,
            what=what,
            base=self.backoff_base,
            on_failure=self._forget_broken_store,
        )

    def _forget_broken_store(self, exc: BaseException) -> None:
        """After a SQLite error the connection may hold a half-done transaction: drop it
        (closing rolls back) and open a fresh one at the next try."""
        if isinstance(exc, sqlite3.Error) and self._store is not None:
            store, self._store = self._store, None
            try:
                store.close()
            except sqlite3.Error:
                pass

    def wakeup(self) -> None:
        """Interrupt a waiting poll (from a signal handler)."""
        self.follower.wakeup()

    def close(self) -> None:
        if self._follower is not None:
            self._follower.close()
        if self._store is not None:
            self._store.close()


def main() -> None:
    """`python -m swarmsh.executor`: run the executor in the foreground until SIGTERM."""
    from swarmsh.bus import backend
    from swarmsh.daemon import run_daemon

    if backend.is_nats():  # JetStream: any number of executors share the commands stream
        from swarmsh.bus.jetstream.executor_main import main as jetstream_main

        jetstream_main()
        return

    def make(paths: Paths, telemetry: Telemetry, start: str) -> Executor:
        return Executor(
            paths,
            telemetry,
            start=start,
            max_depth=env_int(ENV_MAX_DEPTH, DEFAULT_MAX_DEPTH, minimum=0),
            max_attempts=env_int(ENV_MAX_ATTEMPTS, DEFAULT_MAX_ATTEMPTS, minimum=1),
            backoff_base=env_float(ENV_BACKOFF_BASE, 0.2, minimum=0),
        )

    run_daemon(
        READER, make, start_help="the saved checkpoint (the queue's beginning on first start)"
    )
