"""`DeadLetterWriter`: where lines and commands that cannot be handled go, with the reason."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from swarmsh.bus.records import dumps_line
from swarmsh.bus.writer import JsonlWriter
from swarmsh.errors import BusWriteError

_log = logging.getLogger(__name__)
HEAD_BYTES = 4096


class DeadLetterWriter:
    """Appends dead letters to `deadletter/<reader>.jsonl`; never raises into the reader.

    A failure to write is logged once per distinct message, so a broken disk
    cannot flood the log while the reader goes on.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer = JsonlWriter(path)
        self._logged: set[str] = set()
        self.written = 0

    def write_line(
        self, reader: str, file: Path, offset: int | None, reason: str, line: bytes
    ) -> None:
        """A line a reader could not use: where it starts in `file` (None if unknown now)
        and its head as text, whether it failed to parse or was refused after parsing."""
        self.write_record(
            {
                "reader": reader,
                "file": str(file),
                "offset": offset,
                "reason": reason,
                "line": line[:HEAD_BYTES].decode("utf-8", errors="backslashreplace"),
                "line_bytes": len(line),
            }
        )

    def write_record(self, record: dict[str, Any]) -> None:
        try:
            self._writer.append([dumps_line({"time": time.time(), **record})])
            self.written += 1
        except BusWriteError as exc:
            message = str(exc)
            if message not in self._logged:
                self._logged.add(message)
                _log.error(
                    "cannot write dead letter (%s); later identical errors are not logged", message
                )
