"""The receiver's own metrics (named as the Collector names its receivers') and the status file
`swarmsh status` reads (`state/receiver.json`)."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from swarmsh.fsutil import write_atomic

_log = logging.getLogger(__name__)

STATUS_FILE = "receiver.json"
RECEIVER_NAME = "otlp"  # the `receiver` attribute, as a Collector names its otlp receiver
ACCEPTED = "otelcol_receiver_accepted_spans"
REFUSED = "otelcol_receiver_refused_spans"
FAILED = "otelcol_receiver_failed_spans"
GRPC_DURATION = "rpc.server.call.duration"
HTTP_DURATION = "http.server.request.duration"


class ReceiverStats:
    """Counts by transport: `accepted` (on the bus), `refused` (answered retryable: the sender
    keeps them), `failed` (rejected for good: unrepresentable spans of an accepted request),
    and `bad_requests` (answered 4xx / a permanent gRPC code; their spans are not counted)."""

    def __init__(self, meter: Any, addresses: dict[str, str | None]) -> None:
        self.addresses = addresses
        self.started_at = time.time()
        self._lock = threading.Lock()
        self.counts: dict[str, dict[str, int]] = {}
        self._accepted = meter.create_counter(
            ACCEPTED, unit="{spans}", description="Spans written to the bus"
        )
        self._refused = meter.create_counter(
            REFUSED, unit="{spans}", description="Spans answered with a retryable error"
        )
        self._failed = meter.create_counter(
            FAILED, unit="{spans}", description="Spans rejected for good (partial success)"
        )
        self._durations = {
            "grpc": meter.create_histogram(GRPC_DURATION, unit="s", description="gRPC Export"),
            "http": meter.create_histogram(HTTP_DURATION, unit="s", description="POST /v1/traces"),
        }

    def _add(self, transport: str, name: str, value: int) -> None:
        with self._lock:
            row = self.counts.setdefault(
                transport, {"accepted": 0, "refused": 0, "failed": 0, "bad_requests": 0}
            )
            row[name] += value

    def request(
        self, transport: str, seconds: float, *, accepted: int = 0, refused: int = 0,
        failed: int = 0, bad: bool = False,
    ) -> None:  # fmt: skip
        labels = {"receiver": RECEIVER_NAME, "transport": transport}
        if accepted:
            self._accepted.add(accepted, labels)
            self._add(transport, "accepted", accepted)
        if refused:
            self._refused.add(refused, labels)
            self._add(transport, "refused", refused)
        if failed:
            self._failed.add(failed, labels)
            self._add(transport, "failed", failed)
        if bad:
            self._add(transport, "bad_requests", 1)
        self._durations[transport].record(seconds, labels)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            counts = {k: dict(v) for k, v in self.counts.items()}
        return {
            "pid": os.getpid(),
            "started_at": self.started_at,
            "updated_at": time.time(),
            "addresses": self.addresses,
            "counts": counts,
        }

    def write(self, state_dir: Path) -> None:
        """Write the status file (atomically, owner-only); a failure is logged, not raised."""
        try:
            write_atomic(state_dir / STATUS_FILE, json.dumps(self.snapshot()).encode())
        except OSError as exc:
            _log.debug("cannot write %s: %s", state_dir / STATUS_FILE, exc)
