"""`Follower`: reads complete JSONL records from a byte offset, across rotation and truncation."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from swarmsh.bus.deadletter import DeadLetterWriter
from swarmsh.bus.position import FINGERPRINT_BYTES, FileIdentity, Position
from swarmsh.bus.records import dumps_line
from swarmsh.bus.rotation import Generation, list_generations
from swarmsh.bus.wakeup import FileWaker
from swarmsh.bus.writer import WRITERS_WAIT_S, wait_for_writers
from swarmsh.config import ENV_MAX_LINE, env_int
from swarmsh.errors import MalformedRecord
from swarmsh.fsutil import UnsafePath, open_file

T = TypeVar("T")
_log = logging.getLogger(__name__)

DEFAULT_MAX_LINE = 1 << 20
DEFAULT_CHUNK = 1 << 20
DEFAULT_BATCH_RECORDS = 2048
_FIND_TRIES = 100  # listings of the generations while they are being renamed (bounded)
Item = tuple[T, Position]


def _open_generation(generation: Generation) -> int | None:
    """The listed file, opened; None if its name no longer leads to it (renamed since)."""
    try:
        fd = open_file(generation.path, os.O_RDONLY)  # never through a symlink; no FIFO
    except FileNotFoundError:
        return None
    if generation.is_file(os.fstat(fd)):
        return fd
    os.close(fd)
    return None


def _last_write(generation: Generation) -> int:
    if generation.mtime_ns is not None:
        return generation.mtime_ns
    try:
        return os.stat(generation.path).st_mtime_ns
    except OSError:
        return 0


def _line_ending_at(fd: int, end: int, max_line: int) -> tuple[int, bytes] | None:
    """(start, bytes) of the line whose newline is the byte before `end`, looking back at
    most `max_line` bytes (no longer line is ever handed out); None if there is none."""
    if end <= 0:
        return None
    newline_at = end - 1
    window = min(newline_at, max_line)
    data = os.pread(fd, window + 1, newline_at - window)
    if len(data) != window + 1 or not data.endswith(b"\n"):
        return None
    head = data[:-1]
    previous = head.rfind(b"\n")
    if previous == -1 and newline_at > window:
        return None  # longer than any line we hand out
    return newline_at - window + previous + 1, head[previous + 1 :]


class Follower(Generic[T]):
    """Follows one JSONL file like `tail -F`, yielding each parsed record with its Position.

    `poll(timeout)` returns a batch of (record, position just past its line),
    or None when nothing came within `timeout`. The caller checkpoints the
    position of the last record it has durably handled (or `self.position`,
    which also covers lines skipped after it) and resumes from it later.

    Rotation is followed along the whole chain of generations (`bus.rotation`):
    when the file it reads is no longer the live one, the follower waits for
    writers still appending to it, reads it to its end, then goes on with the
    next generation by identity, however many renames happened in between.
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
        writers_wait: float = WRITERS_WAIT_S,
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
        self.writers_wait = writers_wait
        self._waker = FileWaker(self.path, use_inotify=use_inotify)
        self._fd: int | None = None
        self._file = self.path  # the name the current file was opened by (for dead letters)
        self._identity: FileIdentity | None = None
        self._offset = 0  # bytes consumed: up to the end of the last whole line
        self._skipped = 0  # bytes of an over-long line dropped past _offset, awaiting its newline
        self._buffer = b""  # bytes read past _offset + _skipped, not yet a whole line
        self._sealed = False  # no longer the live file, and its writers are done with it
        self._closed = False
        self._open(start if start is not None else "end")

    # -- opening and switching files ---------------------------------------------------------

    def _set_file(self, fd: int, offset: int, name: Path) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd, self._file, self._offset = fd, name, offset
        self._skipped, self._buffer, self._sealed = 0, b"", False
        self._identity = FileIdentity.of_fd(fd)

    def _open(self, start: Position | str) -> None:
        if isinstance(start, Position) and start.identity.ino == 0:
            # Checkpointed when no generation existed: every file there now came later.
            self._open_first()
            return
        if isinstance(start, Position):
            found = self._find(start.identity)
            if found is not None:
                fd, name = found
                if name != self.path:
                    _log.info(
                        "%s: draining rotated %s from offset %d", self.reader, name, start.offset
                    )
                # A tail cut off while we were down: everything up to the new end was read.
                self._set_file(fd, min(start.offset, os.fstat(fd).st_size), name)
                return
            _log.warning(
                "%s: checkpoint is for another file than %s; reading it from its start",
                self.reader,
                self.path,
            )
            start = "beginning"
        chain = list_generations(self.path)
        if not chain:
            return  # nothing yet: the first file to appear is read from its start
        newest = chain[-1]
        opened = _open_generation(newest)
        if opened is None:
            self._open(start)  # renamed under us: look again
            return
        at_end = start == "end" or newest.path != self.path
        # Without a live file, "beginning" means the next live file's: the rotated ones are past.
        self._set_file(opened, os.fstat(opened).st_size if at_end else 0, newest.path)

    def _open_first(self) -> bool:
        """No file yet: start at the oldest generation there now (all came after us)."""
        for generation in list_generations(self.path):
            fd = self._try_open(generation)
            if fd is not None:
                self._set_file(fd, 0, generation.path)
                return True
        return False

    def _try_open(self, generation: Generation) -> int | None:
        """Open a generation; one we may not read is passed over (with a warning)."""
        try:
            return _open_generation(generation)
        except (OSError, UnsafePath) as exc:
            _log.warning("%s: cannot read %s (%s); skipped", self.reader, generation.path, exc)
            return None

    def _find(self, identity: FileIdentity) -> tuple[int, Path] | None:
        """The generation that is the identified file, opened; the live one first."""
        for _ in range(_FIND_TRIES):
            moved = False
            for generation in reversed(list_generations(self.path)):
                if (generation.dev, generation.ino) != (identity.dev, identity.ino):
                    continue
                try:
                    fd = _open_generation(generation)
                except (OSError, UnsafePath) as exc:
                    _log.warning("%s: cannot read %s (%s)", self.reader, generation.path, exc)
                    continue
                if fd is None:
                    moved = True  # renamed since it was listed: list again
                    continue
                if identity.matches(fd):
                    return fd, generation.path
                os.close(fd)
            if not moved:
                break
        return None

    def _check_shrunk(self) -> None:
        """Notice a file cut below what we consumed, or given other first bytes. Once per
        read, never per line.

        An unfinished last line that vanished (a writer's short write, disk full or
        file-size limit, cut back) is nothing: it is read afresh each time anyway. Whole
        lines cut off while the start stays are not a truncation either: we carry on from
        the new end. Only a file cut to nothing, or rewritten with other first bytes, is
        read again from 0.
        """
        if self._fd is None or self._identity is None:
            return
        size = os.fstat(self._fd).st_size
        intact = self._identity.matches(self._fd)
        if size >= self._offset + self._skipped and intact:
            return
        if intact and size > 0:
            # Everything up to the new end was consumed already: go on from there.
            resume = min(size, self._offset)
            _log.warning(
                "%s: %s lost its tail (size %d, offset %d: a write cut short?); continuing at %d",
                self.reader,
                self._file,
                size,
                self._offset,
                resume,
            )
            self._offset, self._skipped, self._buffer = resume, 0, b""
            return
        _log.warning(
            "%s: %s was truncated (size %d, offset %d); reading it again from 0",
            self.reader,
            self._file,
            size,
            self._offset,
        )
        self._offset, self._skipped, self._buffer = 0, 0, b""
        self._identity = FileIdentity.of_fd(self._fd)

    def _check_file(self) -> bool:
        """At the end of our file: open a file that appeared, follow rotation. True if there is
        more to read (the same file once more, or the next one)."""
        if self._fd is None:
            return self._open_first()
        if not self._sealed:
            if self._is_live():
                return False
            # Rotated (or removed): a writer may still be appending to it. Once none holds the
            # lock, every later one opens the new file: read this one to its end once more.
            if not wait_for_writers(self.path, self.writers_wait):
                _log.warning(
                    "%s: %s.lock kept taken for %.1f s (or unreadable); leaving the rotated "
                    "file anyway: a line a writer still appends to it would be missed",
                    self.reader,
                    self.path,
                    self.writers_wait,
                )
            self._sealed = True
            return True
        return self._switch_to_next()

    def _is_live(self) -> bool:
        assert self._fd is not None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        current = os.fstat(self._fd)
        return (st.st_dev, st.st_ino) == (current.st_dev, current.st_ino)

    def _switch_to_next(self) -> bool:
        """Go on with the generation after ours (by identity, else by age), if there is one."""
        assert self._fd is not None
        current = os.fstat(self._fd)
        chain = list_generations(self.path)
        here = [i for i, g in enumerate(chain) if g.is_file(current)]
        if here:
            newer = chain[here[0] + 1 :]
        else:  # ours was removed: what was written after its last write comes after it
            newer = [g for g in chain if _last_write(g) >= current.st_mtime_ns]
        for generation in newer:
            try:
                fd = _open_generation(generation)
            except (OSError, UnsafePath) as exc:
                _log.warning("%s: cannot read %s (%s); skipped", self.reader, generation.path, exc)
                continue
            if fd is None:
                return True  # renamed under us: list again
            if self._buffer:
                # Nobody will finish an unfinished last line in a file no one writes any more.
                reason = "incomplete last line of a rotated file"
                self._dead_letter(self._offset, reason, self._buffer)
            _log.info(
                "%s: %s was rotated; continuing with %s", self.reader, self.path, generation.path
            )
            self._set_file(fd, 0, generation.path)
            return True
        return False

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
            self._check_shrunk()
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
        # An unfinished last line is read afresh each time: bytes of it held from a former
        # read may since have been cut back (a write cut short) and replaced.
        self._buffer = b""
        while self._fd is not None and len(items) < self.batch_records:
            if len(self._buffer) < self.chunk_size:
                # Read the unfinished line again with the next chunk rather than join the two:
                # a copy of the whole chunk for the sake of a few hundred bytes.
                self._buffer = b""
            at = self._offset + self._skipped + len(self._buffer)
            chunk = os.pread(self._fd, self.chunk_size, at)
            if not chunk:
                break
            self._consume(self._buffer + chunk if self._buffer else chunk, items)
            if len(chunk) < self.chunk_size:
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
                if not self._skipped:
                    self._dead_letter(self._offset, f"line longer than {self.max_line} bytes", data)
                self._skipped += len(data)  # discarded; only the newline that ends it is awaited
                self._buffer = b""
            else:
                self._buffer = data
            return
        self._buffer = data[last + 1 :]
        base = self._offset + self._skipped
        begin = 0  # where the region's first whole line starts in `data`
        if self._skipped:
            begin = data.index(b"\n") + 1  # the end of the over-long line we skipped
            base, self._skipped = base + begin, 0
        # The region is data[begin:last + 1]; only a line at a time is ever copied out of it.
        scan = getattr(self.accept, "scan", None)
        spans = None
        if scan is not None and begin == 0:
            spans = scan(data, last + 1)
        if spans is None:
            spans = self._all_lines(data[begin : last + 1])
            data = data[begin:]
        for start, end in spans:
            self._handle(data[start:end], base + start, base + end + 1, items)
        self._offset = base + last + 1 - begin
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
            self.deadletter.write_line(self.reader, self._file, offset, reason, line)
        if self.on_malformed is not None:
            self.on_malformed(reason)

    def dead_letter(self, item: object, position: Position, reason: str) -> None:
        """Dead-letter a record a caller found wrong after parsing (an unknown span name, a
        refused command).

        `position` is the one handed out with it (the end of its line); the letter has the
        same form as a parse failure's: the line's start offset and its head, read back from
        the file the record came from.
        """
        if self.deadletter is None:
            return
        found = self._line_ending_at(position)
        if found is None:  # its file is gone: the record's own JSON, as text, at no offset
            to_dict = getattr(item, "to_dict", None)
            line = dumps_line(to_dict()).rstrip(b"\n") if to_dict else str(item).encode()
            self.deadletter.write_line(self.reader, self._file, None, reason, line)
            return
        name, start, line = found
        self.deadletter.write_line(self.reader, name, start, reason, line)

    def _line_ending_at(self, position: Position) -> tuple[Path, int, bytes] | None:
        """(file, start, bytes) of the line that ends (with its newline) at `position`: in the
        current file (a caller handles a batch before the next poll), else in the generation
        that is its file; None if that is gone."""
        here, there = self._identity, position.identity
        if (
            self._fd is not None
            and here is not None
            and (here.dev, here.ino)
            == (
                there.dev,
                there.ino,
            )
        ):
            found = _line_ending_at(self._fd, position.offset, self.max_line)
            return None if found is None else (self._file, *found)
        try:
            elsewhere = self._find(there)
        except OSError:  # unreadable now: the letter says so with its null offset
            return None
        if elsewhere is None:
            return None
        fd, name = elsewhere
        try:
            found = _line_ending_at(fd, position.offset, self.max_line)
        finally:
            os.close(fd)
        return None if found is None else (name, *found)

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
