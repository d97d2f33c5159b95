"""`swarmsh trace` on a NATS bus: the trace is looked for among the newest `--scan` spans of
the spans stream (JetStream has no index by trace id; a trace's spans are close together)."""

from __future__ import annotations

from swarmsh.bus.records import SpanRecord


class StreamLookup:
    """The two questions `trace` asks, answered from the spans stream, bounded by `scan`."""

    def __init__(self, scan: int) -> None:
        self.scan = scan

    def last_trace_id(self, name_prefix: str | None) -> str | None:
        from swarmsh.bus import backend
        from swarmsh.bus.jetstream.view import last_trace_id

        try:
            return last_trace_id(backend.connection("swarmsh-trace"), name_prefix, self.scan)
        finally:
            backend.close_connection()

    def spans(self, trace_id: str) -> list[SpanRecord]:
        from swarmsh.bus import backend
        from swarmsh.bus.jetstream.view import trace_spans

        try:
            return trace_spans(backend.connection("swarmsh-trace"), trace_id, self.scan)
        finally:
            backend.close_connection()
