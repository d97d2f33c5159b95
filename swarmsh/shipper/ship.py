"""`Shipper`: a bus follower whose only side effect is the OTLP export; it commits its
position only once the collector has acknowledged everything before it."""

from __future__ import annotations

import logging
import threading

from swarmsh import startmark
from swarmsh.bus.deadletter import DeadLetterWriter
from swarmsh.bus.follower import Follower
from swarmsh.bus.position import Position
from swarmsh.config import Paths
from swarmsh.failpoints import failpoint
from swarmsh.patience import RETRY_MAX_S, compute_backoff, until_done
from swarmsh.shipper.encode import Encoded, encode_batch, encode_line
from swarmsh.shipper.settings import ShipperSettings
from swarmsh.shipper.transport import Sender, make_sender
from swarmsh.store import StateStore

READER = "shipper"
POLL_S = 1.0
RETRY_BASE_S = 0.2
# One request's spans stay under the 4 MiB a gRPC server (the Collector's default) accepts.
MAX_REQUEST_BYTES = 3 << 20
_log = logging.getLogger(__name__)


Item = tuple[Encoded, Position]


class Shipper:
    """Poll a batch, export its sampled spans until acknowledged, commit, repeat."""

    def __init__(
        self,
        paths: Paths,
        settings: ShipperSettings,
        start: str = "checkpoint",
        *,
        sender: Sender | None = None,
    ) -> None:
        self.paths, self.settings = paths, settings
        self.store = StateStore(paths.state / f"{READER}.db")
        saved = self.store.load_position(READER)
        begin = startmark.start_position(paths.state, saved, start)
        self.follower: Follower[Encoded | None] = Follower(
            paths.bus,
            reader=READER,
            parse=encode_line,  # a record OTLP cannot carry raises MalformedRecord: dead-lettered
            deadletter=DeadLetterWriter(paths.deadletter_file(READER)),
            start=begin,
            batch_records=settings.batch,
        )
        if sender is None and settings.url is not None:
            sender = make_sender(settings)
        self.sender = sender  # None: no collector configured
        self.exported = 0
        self._failures = 0

    def commit(self, stop: threading.Event, counters: dict[str, int]) -> bool:
        position = self.follower.position.to_dict()

        def step() -> bool:
            self.store.commit(READER, position, counters=counters)
            return True

        return until_done(step, stop, what="commit the shipper's position")

    def export(self, body: bytes, spans: int, stop: threading.Event) -> bool | None:
        """Send until the collector acknowledged (True) or refused the request for good
        (False); None when `stop` was set while waiting to retry."""
        assert self.sender is not None
        while True:
            outcome = self.sender.send(body)
            if outcome.ok:
                if self._failures:
                    _log.info("collector back after %d failed exports", self._failures)
                self._failures = 0
                return True
            if not outcome.retry:
                _log.error("collector refused %d spans for good (%s)", spans, outcome.why)
                return False
            self._failures += 1
            delay = compute_backoff(self._failures, base=RETRY_BASE_S, cap=RETRY_MAX_S)
            if self._failures == 1 or self._failures % 20 == 0:  # de-duplicated: no flood
                _log.warning(
                    "cannot export %d spans (%s; failure %d); retrying in %.1fs",
                    spans,
                    outcome.why,
                    self._failures,
                    delay,
                )
            if stop.wait(delay):
                return None

    def _ship(self, chunk: list[Item], counters: dict[str, int], stop: threading.Event) -> bool:
        """Export one request's worth; False if stopped before the collector took it."""
        done = self.export(encode_batch([item for item, _ in chunk]), len(chunk), stop)
        if done is None:
            return False
        if done:
            counters["exported"] += len(chunk)
            self.exported += len(chunk)
        else:  # the collector says no request holding these can ever succeed
            counters["refused"] += len(chunk)
            for item, position in chunk:
                self.follower.dead_letter(item, position, "refused by the collector")
        return True

    def step(self, stop: threading.Event) -> None:
        """One batch: poll, export in requests of at most `settings.batch` spans and
        MAX_REQUEST_BYTES (each retried until acknowledged), then commit. Stopped before that,
        nothing is committed: the batch is read and sent again at the next start (at least
        once: OTLP has no de-duplication)."""
        items = self.follower.poll(POLL_S)
        if items is None:
            return
        counters = {"unsampled": 0, "exported": 0, "refused": 0}
        chunk: list[Item] = []
        size = 0
        for item, position in items:
            if item is None:
                counters["unsampled"] += 1
                continue
            full = len(chunk) >= self.settings.batch  # a read of the bus may hold more
            if chunk and (full or size + len(item.span) > MAX_REQUEST_BYTES):
                if not self._ship(chunk, counters, stop):
                    return
                chunk, size = [], 0
            chunk.append((item, position))
            size += len(item.span)
        if chunk and not self._ship(chunk, counters, stop):
            return
        failpoint("shipper-after-export")  # acknowledged, not yet committed
        self.commit(stop, counters)

    def run(self, stop: threading.Event) -> None:
        self.commit(stop, {})  # where it starts (so `swarmsh up` knows it has started)
        if self.sender is None:
            _log.info("no OTLP endpoint configured (%s): idle", "OTEL_EXPORTER_OTLP_ENDPOINT")
            stop.wait()
            return
        url, protocol = self.settings.url, self.settings.protocol
        _log.info("shipping %s to %s (%s)", self.paths.bus, url, protocol)
        while not stop.is_set():
            self.step(stop)
        _log.info("%s stopped (%d spans exported)", READER, self.exported)

    def wakeup(self) -> None:
        self.follower.wakeup()

    def close(self) -> None:
        self.follower.close()
        if self.sender is not None:
            self.sender.close()
        self.store.close()
