"""`Executor`: follows commands.jsonl and runs each NextCommand once through the CLI."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import click
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from swarmsh.bus.deadletter import DeadLetterWriter
from swarmsh.bus.follower import Follower
from swarmsh.bus.position import Position
from swarmsh.bus.records import NextCommand
from swarmsh.config import ENV_MAX_DEPTH, Paths, env_float, env_int
from swarmsh.errors import BusWriteError, CommandRejected
from swarmsh.executor.backoff import compute_backoff
from swarmsh.executor.ledger import find_command_span
from swarmsh.executor.validate import build_argv
from swarmsh.failpoints import failpoint
from swarmsh.semconv._generated import attributes as attr
from swarmsh.store import CommandEntry, StateStore
from swarmsh.telemetry import Telemetry

_log = logging.getLogger(__name__)

READER = "executor"
ENV_MAX_ATTEMPTS = "SWARMSH_MAX_ATTEMPTS"
ENV_BACKOFF_BASE = "SWARMSH_BACKOFF_BASE_S"
DEFAULT_MAX_DEPTH = 16
DEFAULT_MAX_ATTEMPTS = 4
POLL_TIMEOUT_S = 1.0

# Ledger statuses: `started` is the intent recorded before running; the rest are final.
STARTED, EXECUTED, REFUSED, DEADLETTERED = "started", "executed", "refused", "deadlettered"
_propagator = TraceContextTextMapPropagator()


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
        self.store = StateStore(paths.state / f"{READER}.db", durable=True)
        self.deadletter = DeadLetterWriter(paths.deadletter_file(READER))
        saved = self.store.load_position(READER)
        begin: Position | str = start
        if start == "checkpoint":
            # the first start reads the whole queue: every command in it is still to run
            begin = Position.from_dict(saved) if saved else "beginning"
        self.follower: Follower[NextCommand] = Follower(
            paths.queue,
            reader=READER,
            parse=NextCommand.from_json,
            deadletter=self.deadletter,
            start=begin,
            on_malformed=self._count_malformed,
        )
        self._committed: Position = self.follower.position
        if saved is None or start != "checkpoint":
            self._commit(self._committed, None)  # a crash before the first command resumes here

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

    # -- one command -----------------------------------------------------------------------

    def handle(self, command: NextCommand, position: Position, stop: threading.Event) -> bool:
        """Settle one command; False when stopped before its outcome could be recorded."""
        entry = self.store.command(command.id)
        if entry is not None and entry.status != STARTED:
            self._commit(position, None, duplicates=1)  # re-emitted after an agent's replay
            return True
        if entry is not None:
            # We crashed between intent and outcome: the bus says whether it ran.
            if find_command_span(self.paths.bus, command.id, int(entry.info.get("bus_offset", 0))):
                _log.info(
                    "command %s already ran before a restart; not running it again", command.id
                )
                self._settle(command, position, EXECUTED, {"recovered": True}, executed=1)
                return True
        try:
            if command.depth > self.max_depth:
                raise CommandRejected(
                    f"depth {command.depth} exceeds SWARMSH_MAX_DEPTH={self.max_depth} (a loop?)"
                )
            argv = build_argv(self.root, command.command, command.args)
        except CommandRejected as exc:
            self._reject(command, position, str(exc))
            return True
        intent = CommandEntry(
            command.id, command.command, STARTED, {"bus_offset": _size(self.paths.bus)}
        )
        self._commit(self._committed, intent)
        failpoint("executor-after-intent")
        return self._run_with_retries(command, argv, position, stop)

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
        self.deadletter.write_record(
            {"reason": f"failed {self.max_attempts} times: {error}", "command": command.to_dict()}
        )
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
        from swarmsh.cli.context import CliState

        tracer = self.telemetry.tracer
        parent = _propagator.extract({"traceparent": command.traceparent})
        attributes: dict[str, Any] = {
            attr.SWARM_AGENT: command.agent,
            attr.SWARM_COMMAND: command.command,
            attr.SWARM_COMMAND_ID: command.id,
            attr.SWARM_LOOP_DEPTH: command.depth,
            attr.SWARM_COMMAND_ATTEMPT: attempt,
        }
        state = CliState.for_executor(
            self.telemetry, str(self.paths.home), command.id, command.depth
        )
        outcome, error = EXECUTED, ""
        with tracer.start_as_current_span(
            "swarmsh.command.execute",
            context=parent,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                self.root.main(args=argv, prog_name="swarmsh", standalone_mode=False, obj=state)
            except click.UsageError as exc:
                outcome, error = REFUSED, f"{command.command}: {exc.format_message()}"
            except Exception as exc:  # the command failed: retried, then dead-lettered
                outcome, error = "failed", f"{type(exc).__name__}: {exc}"
                span.record_exception(exc)
            span.set_attribute(attr.SWARM_COMMAND_OUTCOME, outcome)
            if outcome == EXECUTED:
                span.set_status(Status(StatusCode.OK))
            else:
                span.set_status(Status(StatusCode.ERROR, error))
        failpoint("executor-before-flush")
        try:
            self.telemetry.flush_bus(keep_on_error=False)  # CLI span + execute span: one write
        except BusWriteError as exc:
            return "failed", str(exc)
        failpoint("executor-after-flush")
        if outcome == EXECUTED:
            self._count(command, EXECUTED)
            if state.last_span_end is not None:
                duration_ms = (state.last_span_end - command.source.end) * 1000.0
                self.telemetry.instruments.loop_duration.record(
                    max(duration_ms, 0.0),
                    {attr.SWARM_COMMAND: command.command, attr.SWARM_AGENT: command.agent},
                )
        return outcome, error

    def _settle(
        self,
        command: NextCommand,
        position: Position,
        status: str,
        info: dict[str, Any],
        **counters: int,
    ) -> None:
        self._commit(position, CommandEntry(command.id, command.command, status, info), **counters)

    def _reject(self, command: NextCommand, position: Position, reason: str) -> None:
        _log.warning("refused command %s (%s): %s", command.id, command.command, reason)
        parent = _propagator.extract({"traceparent": command.traceparent})
        with self.telemetry.tracer.start_as_current_span(
            "swarmsh.command.rejected",
            context=parent,
            attributes={
                attr.SWARM_AGENT: command.agent,
                attr.SWARM_COMMAND: command.command,
                attr.SWARM_COMMAND_ID: command.id,
                attr.SWARM_LOOP_DEPTH: command.depth,
                attr.SWARM_REJECTION_REASON: reason,
            },
        ) as rejected:
            rejected.set_status(Status(StatusCode.ERROR, reason))
        try:
            self.telemetry.flush_bus()
        except BusWriteError as exc:
            _log.error("could not record the refusal on the bus: %s", exc)
        self.deadletter.write_record({"reason": f"refused: {reason}", "command": command.to_dict()})
        self._settle(command, position, REFUSED, {"reason": reason}, refused=1)
        self._count(command, REFUSED)

    def _count(self, command: NextCommand, outcome: str) -> None:
        self.telemetry.instruments.commands_total.add(
            1, {attr.SWARM_COMMAND: command.command, attr.SWARM_COMMAND_OUTCOME: outcome}
        )

    # -- the loop --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        _log.info("executor following %s", self.paths.queue)
        while not stop.is_set():
            items = self.follower.poll(POLL_TIMEOUT_S)
            for command, position in items or ():
                try:
                    if not self.handle(command, position, stop):
                        return
                except Exception as exc:  # a bug must not kill the loop; the command is parked
                    _log.exception("internal error on command %s", command.id)
                    self.deadletter.write_record(
                        {"reason": f"internal error: {exc!r}", "command": command.to_dict()}
                    )
                    self._settle(
                        command, position, DEADLETTERED, {"error": repr(exc)}, deadlettered=1
                    )
            if self.follower.position != self._committed:
                self._commit(self.follower.position, None)  # also covers skipped lines

    def wakeup(self) -> None:
        """Interrupt a waiting poll (from a signal handler)."""
        self.follower.wakeup()

    def close(self) -> None:
        self.follower.close()
        self.store.close()


def _size(path: os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def main() -> None:
    """`python -m swarmsh.executor`: run the executor in the foreground until SIGTERM."""
    from swarmsh.daemon import run_daemon

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
