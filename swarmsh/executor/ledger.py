"""The bus as the executor's ledger: which commands' own CLI spans landed on it.

A command's only effect is its CLI span (named as the command, e.g. `swarmsh.scrum.plan`),
which the executor writes in one `write()` together with its `swarmsh.command.execute`
parent. Other spans carry `swarm.command.id` too (the agent's `swarm.loop.iteration`, the
execute span of a failed attempt), so only that pair proves that a command ran.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from swarmsh.bus.position import FileIdentity, Position, end_of
from swarmsh.bus.records import SpanRecord
from swarmsh.bus.rotation import generations
from swarmsh.errors import MalformedRecord
from swarmsh.fsutil import UnsafePath, open_file

_log = logging.getLogger(__name__)

EXECUTE_SPAN = "swarmsh.command.execute"
COMMAND_ID = "swarm.command.id"
COMMAND = "swarm.command"
CHUNK = 1 << 20
MAX_CARRY = 4 << 20  # a longer unfinished line is no span of ours: skip it in bounded memory
# Unmatched halves kept: a pair is one write, so at most a few candidate lines apart; the
# agents' iteration spans (never matched) must not pile up over a long bus.
MAX_PENDING = 1024
_ANY_COMMAND = f'"{COMMAND_ID}":"'.encode()
_Half = tuple[str, str, str, str]


class RanCommands:
    """Fed the spans of the bus, recognises each command that ran: an OK span named as the
    command, carrying its id, whose parent is the execute span carrying the same id and
    command. Both halves of the pair land in the same write: in one file, side by side."""

    def __init__(self) -> None:
        self.ran: dict[str, str] = {}  # command id -> command name
        # the halves still unmatched, oldest first (a dict keeps insertion order)
        self._executes: dict[_Half, None] = {}  # trace, span, id, command
        self._children: dict[_Half, None] = {}  # trace, parent, id, name

    def feed(self, record: SpanRecord) -> None:
        command_id = record.attributes.get(COMMAND_ID)
        if not isinstance(command_id, str) or command_id in self.ran:
            return
        if record.name == EXECUTE_SPAN:
            command = record.attributes.get(COMMAND)
            if not isinstance(command, str):
                return
            pair = (record.trace_id, record.span_id, command_id, command)
            if pair in self._children:
                del self._children[pair]
                self.ran[command_id] = command
            else:
                _remember(self._executes, pair)
        elif record.status == "OK" and record.parent_span_id:
            pair = (record.trace_id, record.parent_span_id, command_id, record.name)
            if pair in self._executes:
                del self._executes[pair]
                self.ran[command_id] = record.name
            else:
                _remember(self._children, pair)

    def end_of_file(self) -> None:
        """A write never spans two files: halves still unmatched never will be."""
        self._executes.clear()
        self._children.clear()


def _remember(pending: dict[_Half, None], half: _Half) -> None:
    pending[half] = None
    if len(pending) > MAX_PENDING:
        del pending[next(iter(pending))]


def _open(path: Path) -> int | None:
    """A descriptor to read `path`, or None if it is missing or not a file we trust (a
    symlink, a FIFO, a directory: no span of ours can be in it)."""
    try:
        return open_file(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    except UnsafePath as exc:
        _log.warning("not searched for command spans: %s", exc)
        return None


def bus_position(bus: Path) -> Position | None:
    """The bus's identity and size now (None when there is no bus yet, or none we trust)."""
    try:
        return end_of(bus)
    except UnsafePath as exc:
        _log.warning("no bus position for the intent: %s", exc)
        return None


def command_ran(bus: Path, command_id: str, command: str, since: Position | None) -> bool:
    """Did `command` with `command_id` run since the bus stood at `since`?

    Looks in the file `since` names (found by identity among the bus's generations), from
    its offset, and in every later generation; without `since`, or when that file is gone,
    in every generation from its start (slower, never wrong).
    """
    ran = RanCommands()
    _scan(_regions(bus, since), command_id.encode(), ran)
    return ran.ran.get(command_id) == command


def commands_ran(bus: Path) -> dict[str, str]:
    """Every command (id -> name) whose own CLI span is in some generation of the bus."""
    ran = RanCommands()
    _scan(((path, 0) for path in generations(bus)), _ANY_COMMAND, ran)
    return ran.ran


def _regions(bus: Path, since: Position | None) -> list[tuple[Path, int]]:
    files = generations(bus)
    if since is not None:
        for i, path in enumerate(files):
            if _is(path, since.identity):
                return [(path, since.offset), *((later, 0) for later in files[i + 1 :])]
        _log.warning("the bus file of the recorded intent is gone; searching every generation")
    return [(path, 0) for path in files]


def _is(path: Path, identity: FileIdentity) -> bool:
    fd = _open(path)
    if fd is None:
        return False
    try:
        return identity.matches(fd)
    finally:
        os.close(fd)


def _scan(regions: Iterable[tuple[Path, int]], needle: bytes, ran: RanCommands) -> None:
    """Feed `ran` every whole line containing `needle`, each file from its start offset."""
    for path, start in regions:
        fd = _open(path)
        if fd is None:
            continue  # rotated away between the listing and now, or not ours
        try:
            _scan_file(fd, start, needle, ran)
        finally:
            os.close(fd)
            ran.end_of_file()


def _scan_file(fd: int, start: int, needle: bytes, ran: RanCommands) -> None:
    offset = start if 0 <= start <= os.fstat(fd).st_size else 0  # truncated since: all of it
    carry = b""
    skipping = False  # inside an over-long line, dropping bytes until its newline
    while chunk := os.pread(fd, CHUNK, offset):
        offset += len(chunk)
        if skipping:
            cut = chunk.find(b"\n")
            if cut == -1:
                continue
            chunk, skipping = chunk[cut + 1 :], False
        data = carry + chunk
        last = data.rfind(b"\n")
        carry = data[last + 1 :]
        if len(carry) > MAX_CARRY:
            carry, skipping = b"", True
        if last == -1:
            continue
        at = data.find(needle, 0, last)
        while at != -1:
            begin = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            try:
                ran.feed(SpanRecord.from_json(data[begin:end]))
            except MalformedRecord:
                pass  # not a span: the followers dead-letter it, here it proves nothing
            at = data.find(needle, end, last)
