"""`Ingest`: what both transports share — the token, admission (requests and bytes in flight),
conversion, the durable write, dead letters for rejected spans, and the counts."""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from swarmsh.bus.deadletter import HEAD_BYTES
from swarmsh.bus.records import dumps_line
from swarmsh.bus.writer import JsonlWriter
from swarmsh.errors import BusWriteError
from swarmsh.receiver.commit import GroupCommitter
from swarmsh.receiver.convert import convert, rejection_message
from swarmsh.receiver.outcome import (
    SATURATED,
    UNAUTHENTICATED,
    UNAVAILABLE,
    Accepted,
    RequestError,
)
from swarmsh.receiver.settings import ReceiverSettings

_log = logging.getLogger(__name__)
READER = "receiver"  # the dead-letter file's name and `reader`
# A request finding every slot taken waits this long for one before it is refused: a burst (a
# Collector's ten exporter consumers at once) queues, a sustained overload is answered 429.
ADMIT_WAIT_S = 1.0


class Ingest:
    """One per receiver; thread-safe. Transports call `authorize`, `admit`, then `export`."""

    def __init__(
        self, settings: ReceiverSettings, committer: GroupCommitter, deadletter: Path
    ) -> None:
        self.settings = settings
        self._committer = committer
        self._deadletter = JsonlWriter(deadletter)
        self._token = settings.token.encode() if settings.token else None
        self._lock = threading.Condition()
        self._requests = 0
        self._bytes = 0
        self._logged: set[str] = set()

    def authorize(self, header: str | None) -> None:
        """A bearer token, when one is configured, compared in constant time."""
        if self._token is None:
            return
        presented = (header or "").encode("utf-8", "surrogateescape")
        scheme, _, token = presented.partition(b" ")
        ok = hmac.compare_digest(token.strip(), self._token) and scheme.lower() == b"bearer"
        if not ok:
            raise RequestError(UNAUTHENTICATED, "missing or wrong bearer token")

    @contextmanager
    def admit(self, size: int) -> Iterator[None]:
        """Hold one of the request slots and `size` bytes in flight; wait at most ADMIT_WAIT_S
        for them, then refuse with a retryable answer."""
        s = self.settings

        def free() -> bool:
            return self._requests < s.max_concurrency and self._bytes + size <= s.max_inflight_bytes

        with self._lock:
            if not self._lock.wait_for(free, ADMIT_WAIT_S):
                raise RequestError(
                    SATURATED, "the receiver is at its bound of requests or bytes in flight; retry"
                )
            self._requests += 1
            self._bytes += size
        try:
            yield
        finally:
            with self._lock:
                self._requests -= 1
                self._bytes -= size
                self._lock.notify_all()

    def export(self, request: ExportTraceServiceRequest, source: str) -> Accepted:
        """Write the request's spans to the bus; return once durable. Raises RequestError
        (retryable) when the bus cannot be written."""
        converted = convert(request, self.settings.max_line_bytes)
        if converted.rejected:
            self._dead_letters(converted.rejected, source)
        try:
            self._committer.commit(converted.lines, converted.keys)
        except BusWriteError as exc:
            self._log_once(str(exc))
            raise RequestError(
                UNAVAILABLE, f"the bus cannot be written now; retry ({exc})"
            ) from None
        rejected = len(converted.rejected)
        return Accepted(len(converted.lines), rejected, rejection_message(converted.rejected))

    def _dead_letters(self, rejected: list[tuple[str, str, str, str]], source: str) -> None:
        now = time.time()
        lines = []
        for reason, trace_id, span_id, name in rejected:
            head = dumps_line({"trace_id": trace_id, "span_id": span_id, "name": name})[:-1]
            record = {
                "time": now,
                "reader": READER,
                "file": source,
                "offset": None,
                "reason": reason,
                "line": head[:HEAD_BYTES].decode("utf-8", "backslashreplace"),
                "line_bytes": len(head),
            }
            lines.append(dumps_line(record))
        try:
            self._deadletter.append(lines)
        except BusWriteError as exc:
            self._log_once(f"cannot write dead letters: {exc}")

    def _log_once(self, message: str) -> None:
        if message not in self._logged and len(self._logged) < 100:
            self._logged.add(message)
            _log.error("%s (later identical errors are not logged)", message)
