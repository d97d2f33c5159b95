"""`GroupCommitter`: one writer thread appends the spans of every waiting request in one locked
write, and tells each request once its spans are durable; a span already written lately (a
sender's retry of a request whose answer it never got) is not written again."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from swarmsh.bus.writer import JsonlWriter
from swarmsh.errors import BusWriteError
from swarmsh.fsutil import open_file
from swarmsh.receiver.outcome import STOPPING, RequestError

_log = logging.getLogger(__name__)

DEDUP_WINDOW = 65_536  # span identities remembered (≈ 8 MB)
PRIME_TAIL_BYTES = 16 << 20  # read at start from the bus's end to remember what is there
MAX_GROUP_BYTES = 32 << 20
_IDS = re.compile(rb'"trace_id":"([0-9a-f]{32})","span_id":"([0-9a-f]{16})"')


@dataclass(slots=True)
class _Pending:
    lines: list[bytes]
    keys: list[str]
    size: int
    done: threading.Event = field(default_factory=threading.Event)
    written: int = 0
    error: Exception | None = None


def recent_keys(bus: Path, tail_bytes: int = PRIME_TAIL_BYTES) -> list[str]:
    """Identities (trace id + span id) of the spans in the last `tail_bytes` of `bus`."""
    try:
        with open(open_file(bus, os.O_RDONLY), "rb") as handle:  # never through a link
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - tail_bytes))
            tail = handle.read(tail_bytes)
    except FileNotFoundError:
        return []
    return [(t + s).decode("ascii") for t, s in _IDS.findall(tail)]


class LineWriter(Protocol):
    """Where the committer appends: the JSONL bus, or the spans stream (receiver.jetstream)."""

    def append(self, lines: list[bytes]) -> None: ...


class GroupCommitter:
    """Requests call `commit`; the writer thread appends all waiting ones with one `append`."""

    def __init__(self, writer: LineWriter | JsonlWriter, window: int = DEDUP_WINDOW) -> None:
        self._writer = writer
        self._window = window
        self._recent: set[str] = set()
        self._order: deque[str] = deque()
        self._waiting: list[_Pending] = []
        self._cond = threading.Condition()
        self._stopped = False
        self.duplicates = 0
        self._thread = threading.Thread(target=self._run, name="bus-commit", daemon=True)
        self._thread.start()

    def remember(self, keys: Iterable[str]) -> None:
        for key in keys:
            if key not in self._recent:
                self._recent.add(key)
                self._order.append(key)
        while len(self._order) > self._window:
            self._recent.discard(self._order.popleft())

    def commit(self, lines: list[bytes], keys: list[str]) -> int:
        """Append `lines` durably (with whatever else waits); the number newly written.
        Raises `BusWriteError` when the bus cannot be written, RequestError when stopping."""
        pending = _Pending(lines, keys, sum(map(len, lines)))
        with self._cond:
            if self._stopped:
                raise RequestError(STOPPING, "the receiver is stopping; retry")
            self._waiting.append(pending)
            self._cond.notify()
        pending.done.wait()
        if pending.error is not None:
            raise pending.error
        return pending.written

    def _take(self) -> list[_Pending] | None:
        with self._cond:
            while not self._waiting and not self._stopped:
                self._cond.wait()
            if not self._waiting:
                return None
            group: list[_Pending] = []
            size = 0
            while self._waiting and (not group or size + self._waiting[0].size <= MAX_GROUP_BYTES):
                size += self._waiting[0].size
                group.append(self._waiting.pop(0))
            return group

    def _run(self) -> None:
        while (group := self._take()) is not None:
            self._write(group)

    def _write(self, group: list[_Pending]) -> None:
        recent, seen = self._recent, set()
        out: list[bytes] = []
        for pending in group:
            before = len(out)
            for line, key in zip(pending.lines, pending.keys, strict=True):
                if key in recent or key in seen:
                    self.duplicates += 1
                    continue
                seen.add(key)
                out.append(line)
            pending.written = len(out) - before
        try:
            self._writer.append(out)
        except BusWriteError as exc:
            for pending in group:
                pending.error = exc
                pending.done.set()
            return
        except Exception as exc:  # never leave a request waiting for ever
            _log.exception("unexpected error writing the bus")
            for pending in group:
                pending.error = BusWriteError(f"cannot write the bus: {exc}")
                pending.done.set()
            return
        self.remember(seen)
        for pending in group:
            pending.done.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        """Write what waits, then stop the thread; later commits are refused. Idempotent."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout)
