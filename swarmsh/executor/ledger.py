"""The bus as the executor's ledger: did a command's CLI span already land?"""

from __future__ import annotations

import os
from pathlib import Path

from swarmsh.bus.records import SpanRecord
from swarmsh.errors import MalformedRecord

CHUNK = 1 << 20


def find_command_span(bus: Path, command_id: str, start: int = 0) -> SpanRecord | None:
    """The OK CLI span carrying `swarm.command.id == command_id`, scanning from byte `start`.

    Used only after a crash, for commands whose intent was recorded but whose
    outcome was not, so it scans just the bus written since that intent.
    """
    needle = command_id.encode()
    try:
        fd = os.open(bus, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        size = os.fstat(fd).st_size
        offset = start if 0 <= start <= size else 0
        tail = b""
        while True:
            chunk = os.pread(fd, CHUNK, offset)
            if not chunk:
                return None
            offset += len(chunk)
            lines = (tail + chunk).split(b"\n")
            tail = lines.pop()
            for line in lines:
                if needle not in line:
                    continue
                try:
                    record = SpanRecord.from_json(line)
                except MalformedRecord:
                    continue
                if (
                    record.attributes.get("swarm.command.id") == command_id
                    and not record.name.startswith("swarmsh.command.")
                    and record.status == "OK"
                ):
                    return record
    finally:
        os.close(fd)
