"""`JsExecutor`: the executor on JetStream. Any number of them, on any hosts, pull from one
shared durable consumer on the work-queue stream SWARMSH_COMMANDS; each command has exactly
one effect (its CLI span on SWARMSH_SPANS) through kill -9 of any of them at any instant.

Per command: claim it in the ledger (`create`, or a compare-and-set take-over of a `started`
entry nobody acknowledged) -> run it in-process with its spans captured, not published ->
save those spans in the ledger (`recorded`, compare-and-set: a run that lost its claim
publishes nothing) -> publish them (`Nats-Msg-Id` from their ids: a re-publication is dropped)
-> ledger final -> acknowledge the message. See `ledger` for the states. Validation, refusals,
retries with backoff and dead letters are the file executor's (`swarmsh.executor`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path
from typing import Any

from swarmsh.bus.deadletter import DeadLetterWriter
from swarmsh.bus.jetstream import ledger as L
from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.bus.jetstream.ledger import Entry, KvLedger
from swarmsh.bus.jetstream.sink import NatsSpanExporter, publish, span_messages
from swarmsh.bus.jetstream.subjects import (
    COMMANDS_STREAM,
    COMMANDS_SUBJECT,
    EXECUTOR_CONSUMER,
    LEDGER_BUCKET,
    SPANS_STREAM,
)
from swarmsh.bus.records import NextCommand
from swarmsh.config import Paths
from swarmsh.errors import BusWriteError, CommandRejected, MalformedRecord
from swarmsh.executor.invoke import EXECUTED, REFUSED, record_refusal, run_command
from swarmsh.executor.validate import checked_argv
from swarmsh.failpoints import failpoint
from swarmsh.patience import compute_backoff
from swarmsh.semconv._generated import attributes as attr
from swarmsh.telemetry import Telemetry

_log = logging.getLogger(__name__)
READER = "executor"
POLL_TIMEOUT_S = 1.0


class JsExecutor:
    def __init__(
        self,
        paths: Paths,
        telemetry: Telemetry,
        conn: NatsConnection,
        *,
        max_depth: int,
        max_attempts: int,
        backoff_base: float,
    ) -> None:
        from swarmsh.bus.jetstream.streams import ensure_bucket, ensure_streams
        from swarmsh.cli import cli

        exporter = telemetry.bus.exporter
        if not isinstance(exporter, NatsSpanExporter):
            raise TypeError("the JetStream executor needs the JetStream span exporter")
        self.exporter = exporter
        self.root = cli
        self.paths = paths
        self.telemetry = telemetry
        self.conn = conn
        self.max_depth = max_depth
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.owner = f"{socket.gethostname()}:{os.getpid()}"
        self.deadletter = DeadLetterWriter(paths.deadletter_file(READER))
        from swarmsh.patience import NEVER, until_done

        def open_all() -> bool:  # JetStream may still be electing its leaders: retried
            ensure_streams(conn)
            self.ledger = KvLedger(conn, ensure_bucket(conn, LEDGER_BUCKET))
            self._sub = conn.run(self._subscribe(), conn.settings.timeout_s * 4)
            return True

        until_done(open_all, NEVER, what="open the streams, the ledger and the consumer")

    async def _subscribe(self) -> Any:
        from nats.js.api import AckPolicy, ConsumerConfig

        config = ConsumerConfig(
            durable_name=EXECUTOR_CONSUMER,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.conn.settings.ack_wait_s,  # then another executor gets it
        )
        return await self.conn.js.pull_subscribe(
            COMMANDS_SUBJECT, durable=EXECUTOR_CONSUMER, stream=COMMANDS_STREAM, config=config
        )

    async def _fetch(self) -> list[Any]:
        import nats.errors

        try:  # one at a time: executors share the queue fairly
            return list(await self._sub.fetch(1, timeout=POLL_TIMEOUT_S))
        except nats.errors.TimeoutError:
            return []

    # -- one command -----------------------------------------------------------------------

    def handle(self, msg: Any, stop: threading.Event) -> None:
        seq = msg.metadata.sequence.stream
        try:
            command = NextCommand.from_json(msg.data)
        except MalformedRecord as exc:
            self._dead_letter(seq, f"malformed command: {exc}", msg.data)
            self._ack(msg)
            return
        entry = self._claim(command)
        if entry is None:  # settled already (a duplicate), or another executor took it over
            self._ack(msg)
            return
        if entry.status == L.RECORDED:  # a run whose spans may not all be published yet
            self._finish(command, entry, msg)
            return
        try:
            self._run(command, entry, msg, stop)
        except (BusWriteError, OSError):
            raise  # not the command's fault: `run` retries the whole step
        except Exception as exc:  # a bug must not kill the loop; the command is parked
            _log.exception("internal error on command %s", command.id)
            self._dead_letter(seq, f"internal error: {exc!r}", msg.data)
            self._record(command, entry, msg, L.DEADLETTERED, [], error=repr(exc))

    def _claim(self, command: NextCommand) -> Entry | None:
        """Our `started` entry, a `recorded` one to finish, or None when it is settled."""
        mine = {"status": L.STARTED, "owner": self.owner, "command": command.command}
        while True:
            entry = self.ledger.get(command.id)
            if entry is None:
                created = self.ledger.create(command.id, mine)
                if created is not None:
                    return created
                continue  # another executor created it between our get and create
            if entry.status in L.FINAL:
                self._count(command, "duplicate")
                return None
            if entry.status == L.RECORDED:
                return entry
            # `started` by someone who did not acknowledge in time (killed, or stuck): ours now
            taken = self.ledger.update(command.id, mine, entry)
            if taken is not None:
                _log.info("taking over command %s from %s", command.id, entry.value.get("owner"))
                return taken

    def _run(self, command: NextCommand, claim: Entry, msg: Any, stop: threading.Event) -> None:
        try:
            argv = checked_argv(self.root, command, self.max_depth)
        except CommandRejected as exc:
            self._refuse(command, claim, msg, str(exc), [])
            return
        failpoint("executor-after-intent")
        error = ""
        for attempt in range(1, self.max_attempts + 1):
            self.conn.run(msg.in_progress())  # still ours: restart the ack wait
            with self.exporter.capture() as lines:
                run = run_command(
                    self.root, self.telemetry, str(self.paths.home), command, argv, attempt
                )
                self.telemetry.flush_bus(keep_on_error=False)
            failpoint("executor-before-flush")
            if run.outcome == EXECUTED:
                self._record(command, claim, msg, L.EXECUTED, lines, attempts=attempt)
                if run.cli_span_end is not None:
                    self.telemetry.instruments.loop_duration.record(
                        max((run.cli_span_end - command.source.end) * 1000.0, 0.0),
                        {attr.SWARM_COMMAND: command.command, attr.SWARM_AGENT: command.agent},
                    )
                return
            if run.outcome == REFUSED:
                self._refuse(command, claim, msg, run.error, lines)
                return
            error = run.error
            _log.warning("command %s attempt %d failed: %s", command.id, attempt, error)
            self._publish(lines)  # the failed attempt's execute span, for the record
            if attempt < self.max_attempts and stop.wait(
                compute_backoff(attempt, base=self.backoff_base)
            ):
                return  # stopping: unacknowledged, it is redelivered (and taken over)
        reason = f"failed {self.max_attempts} times: {error}"
        self._dead_letter(msg.metadata.sequence.stream, reason, msg.data)
        self._record(command, claim, msg, L.DEADLETTERED, [], error=error)

    def _refuse(
        self, command: NextCommand, claim: Entry, msg: Any, reason: str, lines: list[bytes]
    ) -> None:
        _log.warning("refused command %s (%s): %s", command.id, command.command, reason)
        with self.exporter.capture() as refusal:
            record_refusal(self.telemetry, command, reason)
            self.telemetry.flush_bus(keep_on_error=False)
        self._dead_letter(msg.metadata.sequence.stream, f"refused: {reason}", msg.data)
        self._record(command, claim, msg, L.REFUSED, [*lines, *refusal], reason=reason)

    def _record(
        self,
        command: NextCommand,
        claim: Entry,
        msg: Any,
        final: str,
        lines: list[bytes],
        **info: Any,
    ) -> None:
        """Fix the run's spans in the ledger, then publish them and finish."""
        value = {
            "status": L.RECORDED,
            "final": final,
            "owner": self.owner,
            "lines": [line.decode() for line in lines],
            **info,
        }
        recorded = self.ledger.update(command.id, value, claim)
        if recorded is None:  # taken over while we ran: the new owner's run is the one
            _log.warning("command %s was taken over; dropping this run", command.id)
            return
        failpoint("executor-after-flush")
        self._finish(command, recorded, msg)

    def _finish(self, command: NextCommand, recorded: Entry, msg: Any) -> None:
        lines = [str(line).encode() for line in recorded.value.get("lines", ())]
        self._publish(lines)
        failpoint("executor-after-publish")
        final = str(recorded.value.get("final", L.EXECUTED))
        done = {k: v for k, v in recorded.value.items() if k != "lines"}
        if self.ledger.update(command.id, {**done, "status": final}, recorded) is not None:
            self._count(command, final)
        failpoint("executor-before-ack")
        self._ack(msg)

    # -- I/O -------------------------------------------------------------------------------

    def _publish(self, lines: list[bytes]) -> None:
        if lines:
            publish(span_messages(lines), SPANS_STREAM)

    def _ack(self, msg: Any) -> None:
        async def _ack() -> None:
            from nats.errors import MsgAlreadyAckdError

            try:
                await msg.ack()
            except MsgAlreadyAckdError:  # a retry after the flush timed out: sent once already
                pass
            await self.conn.nc.flush()

        self.conn.run(_ack())

    def _dead_letter(self, seq: int, reason: str, data: bytes) -> None:
        self.deadletter.write_line(READER, Path(f"nats:{COMMANDS_STREAM}"), seq, reason, data)

    def _count(self, command: NextCommand, outcome: str) -> None:
        self.telemetry.instruments.commands_total.add(
            1, {attr.SWARM_COMMAND: command.command, attr.SWARM_COMMAND_OUTCOME: outcome}
        )

    # -- the loop --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        from swarmsh.patience import until_done

        _log.info("executor %s pulling %s", self.owner, COMMANDS_STREAM)
        msgs: list[Any] = []

        def read() -> bool:
            msgs[:] = self.conn.run(self._fetch(), POLL_TIMEOUT_S + self.conn.settings.timeout_s)
            return True

        while not stop.is_set():
            if not until_done(read, stop, what=f"pull {COMMANDS_STREAM}"):
                return
            for msg in msgs:

                def step(msg: Any = msg) -> bool:
                    self.handle(msg, stop)
                    return True

                if not until_done(step, stop, what="settle a command"):
                    return

    def wakeup(self) -> None:
        """A waiting fetch ends within its poll timeout (one second)."""

    def close(self) -> None:
        try:
            self.conn.run(self._sub.unsubscribe(), 2.0)
        except Exception as exc:  # closing: the server forgets the subscription anyway
            _log.debug("unsubscribe: %s", exc)
