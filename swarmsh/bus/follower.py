"""`Follower`: reads complete JSONL records from a byte offset, across rotation and truncation."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

from swarmsh.bus.deadletter import DeadLetterWriter
from swarmsh.bus.position import FINGERPRINT_BYTES, FileIdentity, Position
from swarmsh.bus.wakeup import FileWaker
from swarmsh.config import ENV_MAX_LINE, env_int
from swarmsh.errors import MalformedRecord

T = TypeVar("T")
_log = logging.getLogger(__name__)

DEFAULT_MAX_LINE = 1 << 20
DEFAULT_CHUNK = 1 << 20
DEFAULT_BATCH_RECORDS = 2048
Item = tuple[T, Position]


class NamePrefixFilter:
    """Lets through only lines that may be spans named with one of `prefixes`.

    It must never drop such a span, so besides lines containing a prefix it
    passes lines with a JSON `\\u` escape (which could spell one) and lines that
    do not look like one JSON object with a name (so the reader dead-letters them).
    `scan()` does the same for a whole region of lines at C speed.
    """

    def __init__(self, prefixes: Sequence[str]) -> None:
        self.prefixes = tuple(p.encode() for p in prefixes)
        self.needles = self.prefixes + (b"\\u",)

    def __call__(self, line: bytes) -> bool:
        if any(n in line for n in self.needles) or b'"name"' not in line:
            return True
        stripped = line.strip()
        return not (stripped.startswith(b"{") and stripped.endswith(b"}"))

    def scan(self, region: bytes) -> list[tuple[int, int]] | None:
        """(start, end) of each line of `region` (which ends with a newline) to look at,
        or None when the region has odd lines and must be checked line by line."""
        # Every line is '{"name":…}' (as our writer puts it) exactly when the region starts
        # so, ends with "}\n" and each of its other newlines sits in '}\n{"name":'.
        # Anything else (other writers, junk) is looked at line by line.
        if not (region.startswith(b'{"name":') and region.endswith(b"}\n")):
            return None
        if region.count(b'}\n{"name":') != region.count(b"\n") - 1:
            return None
        found: set[int] = set()
        spans: list[tuple[int, int]] = []
        # A backslash is rare in our records and one byte is cheap to count: only when
        # there is one can a \\u escape hide a prefix.
        needles = self.needles if region.count(b"\\") else self.prefixes
        for needle in needles:
            at = region.find(needle)
            while at != -1:
                start = region.rfind(b"\n", 0, at) + 1
                end = region.index(b"\n", at)
                if start not in found:
                    found.add(start)
                    spans.append((start, end))
                at = region.find(needle, end)
        spans.sort()
        return spans


def name_prefix_filter(prefixes: Sequence[str]) -> NamePrefixFilter:
    return NamePrefixFilter(prefixes)


class Follower(Generic[T]):
    """Follows one JSONL file like `tail -F`, yielding each parsed record with its Position.

    `poll(timeout)` returns a batch of (record, position just past its line),
    or None when nothing came within `timeout`. The caller checkpoints the
    position of the last record it has durably handled (or `self.position`,
    which also covers lines skipped after it) and resumes from it later.
    """

    def __init__(
        self,
        path: Path,
        *,
        reader: str,
        parse: Callable[[bytes], T],
        deadletter: DeadLetterWriter | None,
        start: Position | str | None = "end",
        accept: Callable[[bytes], bool] | None = None,
        max_line_bytes: int | None = None,
        chunk_size: int = DEFAULT_CHUNK,
        batch_records: int = DEFAULT_BATCH_RECORDS,
        on_malformed: Callable[[str], None] | None = None,
        use_inotify: bool | None = None,
    ) -> None:
        self.path = Path(path)
        self.reader = reader
        self.parse = parse
        self.deadletter = deadletter
        self.accept = accept
        self.max_line = max_line_bytes or env_int(ENV_MAX_LINE, DEFAULT_MAX_LINE, minimum=64)
        self.chunk_size = chunk_size
        self.batch_records = batch_records
        self.on_malformed = on_malformed
        self._waker = FileWaker(self.path, use_inotify=use_inotify)
        self._fd: int | None = None
        self._identity: FileIdentity | None = None
        self._offset = 0  # bytes consumed: up to the end of the last whole line
        self._buffer = b""  # bytes read past _offset, not yet a whole line
        self._skipping = False  # inside an over-long line, discarding until its newline
        self._closed = False
        self._open(start if start is not None else "end")

    # -- opening and switching files ---------------------------------------------------------

    def _open_path(self) -> int | None:
        try:
            return os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None

    def _set_file(self, fd: int, offset: int) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd, self._offset, self._buffer, self._skipping = fd, offset, b"", False
        self._identity = FileIdentity.of_fd(fd)

    def _open(self, start: Position | str) -> None:
        fd = self._open_path()
        if isinstance(start, Position) and start.identity.ino == 0:
            start = "beginning"  # checkpointed before the file existed: all of it is new
        if isinstance(start, Position):
            if fd is not None and start.identity.matches(fd):
                self._set_file(fd, min(start.offset, os.fstat(fd).st_size))
                return
            rotated = self._find_rotated(start.identity)
            if rotated is not None:
                _log.info(
                    "%s: draining rotated %s from offset %d", self.reader, rotated[1], start.offset
                )
                if fd is not None:
                    os.close(fd)
                self._set_file(rotated[0], start.offset)
                return
            _log.warning(
                "%s: checkpoint is for another file than %s; reading it from its start",
                self.reader,
                self.path,
            )
            start = "beginning"
        if fd is not None:
            self._set_file(fd, os.fstat(fd).st_size if start == "end" else 0)

    def _find_rotated(self, identity: FileIdentity) -> tuple[int, Path] | None:
        try:
            names = os.listdir(self.path.parent)
        except FileNotFoundError:
            return None
        for name in names:
            if not name.startswith(self.path.name) or name in (
                self.path.name,
                self.path.name + ".lock",
            ):
                continue
            candidate = self.path.parent / name
            try:
                fd = os.open(candidate, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                continue
            if identity.matches(fd):
                return fd, candidate
            os.close(fd)
        return None

    def _check_truncated(self) -> bool:
        """Cut shorter than what we read, or (if it has grown again since) rewritten with
        other first bytes: start again at 0. Cheap enough to ask before every read."""
        if self._fd is None or self._identity is None:
            return False
        size = os.fstat(self._fd).st_size
        if size >= self._offset + len(self._buffer) and self._identity.matches(self._fd):
            return False
        _log.warning(
            "%s: %s was truncated (size %d, offset %d); reading it again from 0",
            self.reader,
            self.path,
            size,
            self._offset,
        )
        self._offset, self._buffer, self._skipping = 0, b"", False
        self._identity = FileIdentity.of_fd(self._fd)
        return True

    def _check_file(self) -> bool:
        """At the end of our file: open it if it appeared, follow rotation. True if changed."""
        if self._fd is None:
            fd = self._open_path()
            if fd is None:
                return False
            self._set_file(fd, 0)
            return True
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False  # rotated away, new file not there yet: keep the old one
        current = os.fstat(self._fd)
        if (st.st_dev, st.st_ino) == (current.st_dev, current.st_ino):
            return False
        # Rotated: the old file is drained (we are at its end); an unfinished last line stays so.
        if self._buffer:
            self._dead_letter(self._offset, "incomplete last line of a rotated file", self._buffer)
        fd = self._open_path()
        if fd is None:
            return False
        _log.info("%s: %s was rotated; continuing with the new file", self.reader, self.path)
        self._set_file(fd, 0)
        return True

    # -- reading ----------------------------------------------------------------------------

    @property
    def position(self) -> Position:
        """Just past the last whole line consumed (handed out or skipped)."""
        if self._identity is None:
            return Position(FileIdentity(0, 0, 0, ""), 0)
        return Position(self._identity, self._offset)

    def poll(self, timeout: float | None = None) -> list[Item[T]] | None:
        """A batch of records; [] when only lines for others went by (so the caller can
        checkpoint `position`); None when nothing at all arrived within `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        began = self.position
        while not self._closed:
            self._check_truncated()
            items = self._read_batch()
            if items:
                return items
            if self._check_file():
                continue
            if self.position != began:
                return []
            left = 3600.0 if deadline is None else deadline - time.monotonic()
            if left <= 0 or not self._waker.wait(left):
                if deadline is not None and time.monotonic() >= deadline:
                    return None
            elif self._waker.woken:
                return None  # wakeup(): the caller wants to look at its stop flag
        return None

    def _read_batch(self) -> list[Item[T]]:
        """Records from the chunks at hand: one short read when we are live, several full
        chunks (up to `batch_records`) when behind, so a caller's per-batch cost (fsync,
        commit) is shared by many records while it catches up."""
        items: list[Item[T]] = []
        while self._fd is not None and len(items) < self.batch_records:
            chunk = os.pread(self._fd, self.chunk_size, self._offset + len(self._buffer))
            if not chunk:
                break
            self._consume(self._buffer + chunk, items)
            if len(chunk) < self.chunk_size and items:
                break  # at the end of what is written: hand these over now
        return items

    def _refresh_identity(self) -> None:
        # A young file's fingerprint covers fewer bytes; widen it once the file has grown.
        assert self._fd is not None and self._identity is not None
        if not self._identity.complete and self._offset >= FINGERPRINT_BYTES:
            self._identity = FileIdentity.of_fd(self._fd)

    def _consume(self, data: bytes, items: list[Item[T]]) -> None:
        last = data.rfind(b"\n")
        if last == -1:
            if len(data) > self.max_line:
                if not self._skipping:
                    self._dead_letter(self._offset, f"line longer than {self.max_line} bytes", data)
                self._skipping = True
                self._offset += len(data)  # discarded; only the newline that ends it is awaited
                self._buffer = b""
            else:
                self._buffer = data
            return
        region, self._buffer = data[: last + 1], data[last + 1 :]
        base = self._offset
        if self._skipping:
            end = region.index(b"\n")
            region, base, self._skipping = region[end + 1 :], base + end + 1, False
        scan = getattr(self.accept, "scan", None)
        spans = scan(region) if scan is not None else None
        if spans is None:
            spans = self._all_lines(region)
        for start, end in spans:
            line = region[start:end]
            self._handle(line, base + start, base + end + 1, items)
        self._offset = base + len(region)
        self._refresh_identity()

    def _all_lines(self, region: bytes) -> list[tuple[int, int]]:
        spans, start, accept = [], 0, self.accept
        for line in region.split(b"\n")[:-1]:
            end = start + len(line)
            if line.strip() and (accept is None or len(line) > self.max_line or accept(line)):
                spans.append((start, end))
            start = end + 1
        return spans

    def _handle(self, line: bytes, start: int, end: int, items: list[Item[T]]) -> None:
        if len(line) > self.max_line:
            self._dead_letter(start, f"line longer than {self.max_line} bytes", line)
            return
        try:
            record = self.parse(line)
        except MalformedRecord as exc:
            self._dead_letter(start, str(exc), line)
            return
        assert self._identity is not None
        items.append((record, Position(self._identity, end)))

    def _dead_letter(self, offset: int, reason: str, line: bytes) -> None:
        if self.deadletter is not None:
            self.deadletter.write_line(self.reader, self.path, offset, reason, line)
        if self.on_malformed is not None:
            self.on_malformed(reason)

    def dead_letter(self, line_or_record: object, position: Position, reason: str) -> None:
        """Dead-letter something a caller found wrong after parsing (e.g. unknown span name)."""
        to_dict = getattr(line_or_record, "to_dict", None)
        raw = repr(to_dict() if to_dict else line_or_record).encode()
        if self.deadletter is not None:
            self.deadletter.write_line(self.reader, self.path, position.offset, reason, raw)

    def wakeup(self) -> None:
        """Interrupt a waiting `poll()` (safe from a signal handler)."""
        self._waker.wake()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._waker.close()
