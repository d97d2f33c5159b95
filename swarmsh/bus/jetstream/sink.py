"""`NatsSpanExporter`: the telemetry bus exporter on JetStream.

Each span record is published, as the very bytes of its bus line without the newline, on
`swarmsh.spans.<escaped span name>` (stream SWARMSH_SPANS), and `write_lines` returns only
when the server acknowledged every one; otherwise it raises `BusWriteError` (the CLI then
exits 3, EXIT_BUS_UNWRITABLE, as when the JSONL file cannot be written).

`Nats-Msg-Id`, so that a re-publication inside the duplicate window is dropped by the server:
- an agent's `swarm.loop.iteration` span: a hash of what decides it (trace, source span,
  attributes), so the replay of an unacknowledged message re-publishes the same id;
- every other span: its trace and span id, so a retried flush (or the executor re-publishing
  the lines saved in its ledger) is not stored twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from opentelemetry.sdk.trace.export import SpanExporter

from swarmsh.bus.jetstream.subjects import SPANS_STREAM, span_subject
from swarmsh.errors import BusWriteError
from swarmsh.telemetry.bus import BusSpanExporter

ITERATION_SPAN = "swarm.loop.iteration"
Message = tuple[str, bytes, str | None]


def split_lines(chunks: Sequence[bytes | bytearray]) -> Iterator[bytes]:
    for chunk in chunks:
        for line in bytes(chunk).split(b"\n"):
            if line.strip():
                yield line


def message_id(record: dict[str, Any]) -> str:
    """The span's `Nats-Msg-Id` (see the module's docstring)."""
    trace, span = str(record.get("trace_id", "")), str(record.get("span_id", ""))
    if record.get("name") == ITERATION_SPAN:
        decided = orjson.dumps(
            [trace, record.get("parent_span_id"), record.get("status"), record.get("attributes")],
            option=orjson.OPT_SORT_KEYS,
        )
        return "it-" + hashlib.sha256(decided).hexdigest()[:40]
    return f"sp-{trace}-{span}"


def span_messages(chunks: Sequence[bytes | bytearray]) -> list[Message]:
    """`(subject, payload, msg id)` for every bus line in `chunks`."""
    messages: list[Message] = []
    for line in split_lines(chunks):
        record = orjson.loads(line)
        messages.append((span_subject(str(record["name"])), line, message_id(record)))
    return messages


class NatsSpanExporter(BusSpanExporter):
    """`BusSpanExporter` whose `write_lines` publishes to JetStream with acknowledgements."""

    def __init__(self) -> None:  # no JSONL writer: nothing of the file bus is opened
        from swarmsh.bus.jetstream.settings import BusSettings

        BusSettings.from_env()  # a bad SWARMSH_BUS is refused at start (exit 2), not at a write
        SpanExporter.__init__(self)
        self.last_error: BusWriteError | None = None
        self._shutdown = False
        self._captured: list[bytes] | None = None

    @contextmanager
    def capture(self) -> Iterator[list[bytes]]:
        """Within: written lines are kept in the yielded list instead of published (the
        executor saves a run's spans in its ledger before it publishes them)."""
        captured: list[bytes] = []
        self._captured = captured
        try:
            yield captured
        finally:
            self._captured = None

    def write_lines(self, lines: Sequence[bytes | bytearray]) -> None:
        if self._shutdown:
            raise BusWriteError("the bus exporter is shut down")
        if self._captured is not None:
            self._captured.extend(split_lines(lines))
            return
        messages = span_messages(lines)
        if messages:
            publish(messages, SPANS_STREAM)


def publish(messages: Sequence[Message], stream: str) -> None:
    """Publish and wait for every acknowledgement; the streams are created on the first
    refusal (a fresh server), then the publication is tried once more."""
    from swarmsh.bus import backend

    quick = backend.quick_settings()
    if quick is not None:  # a CLI without credentials: no nats-py, no asyncio
        from swarmsh.bus.jetstream.quickpub import NoStream, quick_publish

        try:
            quick_publish(quick, messages, stream)
            return
        except NoStream:
            pass  # a fresh server: nats-py creates the streams below, then publishes

    from swarmsh.bus.jetstream.connection import NatsUnavailable
    from swarmsh.bus.jetstream.streams import ensure_streams

    try:
        conn = backend.connection()
    except RuntimeError as exc:  # SWARMSH_BUS changed under us (a test's environment)
        raise BusWriteError(str(exc)) from None
    try:
        conn.publish_all(messages, stream=stream)
    except NatsUnavailable:
        try:
            ensure_streams(conn)
        except Exception:  # the server is gone rather than the stream: report the first error
            raise BusWriteError(
                f"JetStream did not acknowledge {len(messages)} message(s)"
            ) from None
        conn.publish_all(messages, stream=stream)
