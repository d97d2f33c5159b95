"""Where an agent without a checkpoint begins: the bus position `swarmsh up` recorded.

`up` records the bus's identity and size before it starts supervisord, so an agent's
first start never begins later than the moment `up` was asked, however long the agent
takes to initialise; `up` removes the mark once every daemon has committed its start.
A supervisord started otherwise (systemd) does the same with `python -m swarmsh.startmark
mark` before it and `... settle` after it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from swarmsh.bus.position import FileIdentity, Position, end_of
from swarmsh.bus.rotation import generations
from swarmsh.config import Paths
from swarmsh.fsutil import write_atomic
from swarmsh.supervisor import READERS

MARK_FILE = "start.json"


def mark_path(state_dir: Path) -> Path:
    return state_dir / MARK_FILE


def bus_position(bus: Path) -> Position:
    """Where the bus ends now. With no live file, the end of its newest rotated generation
    (a first start must not read those again); with no file at all, inode 0 ("all of it is
    new")."""
    for path in reversed(generations(bus)):
        position = end_of(path)
        if position is not None:
            return position
    return Position(FileIdentity(0, 0, 0, ""), 0)


def record(state_dir: Path, bus: Path) -> Position:
    """Write the mark (atomically, owner-only) at the bus's current end."""
    position = bus_position(bus)
    write_atomic(mark_path(state_dir), json.dumps(position.to_dict()).encode())
    return position


def recorded(state_dir: Path) -> Position | None:
    """The mark, or None when there is none (or it cannot be read: begin at the bus's end)."""
    try:
        return Position.from_dict(json.loads(mark_path(state_dir).read_bytes()))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def start_position(state_dir: Path, saved: dict[str, Any] | None, start: str) -> Position | str:
    """Where a bus reader begins: `--from beginning|end` as asked; else its checkpoint, or on a
    first start where `swarmsh up` marked the bus (never after `up` was asked), or, started by
    hand, the bus's end."""
    if start != "checkpoint":
        return start
    if saved:
        return Position.from_dict(saved)
    return recorded(state_dir) or "end"


def clear(state_dir: Path) -> None:
    try:
        os.unlink(mark_path(state_dir))
    except FileNotFoundError:
        pass


def committed(state_dir: Path, reader: str) -> bool:
    """Whether the reader's state store holds a checkpoint (where it starts, or got to)."""
    db = state_dir / f"{reader}.db"
    if not db.exists():
        return False
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            row = conn.execute("SELECT 1 FROM checkpoint WHERE reader = ?", (reader,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return False  # being created: not yet
    return row is not None


def settle(state_dir: Path, readers: tuple[str, ...], timeout: float) -> list[str]:
    """Wait until every reader has committed, then clear the mark; the readers still
    waiting at the deadline (the mark then stays: a late first start still begins there)."""
    deadline = time.monotonic() + timeout
    while waiting := [r for r in readers if not committed(state_dir, r)]:
        if time.monotonic() > deadline:
            return waiting
        time.sleep(0.05)  # another process's commit gives us no event
    clear(state_dir)
    return []


USAGE = "usage: python -m swarmsh.startmark mark | settle [TIMEOUT_S]  (home: SWARMSH_HOME)"


def main(argv: list[str]) -> int:
    """For a supervisord started without `swarmsh up` (systemd's ExecStartPre/ExecStartPost)."""
    paths = Paths.from_home()
    if argv[:1] == ["mark"] and len(argv) == 1:
        position = record(paths.state, paths.bus)
        print(f"first starts begin at {paths.bus} offset {position.offset}")
        return 0
    if argv[:1] == ["settle"] and len(argv) <= 2:
        try:
            timeout = float(argv[1]) if len(argv) == 2 else 60.0
        except ValueError:
            print(USAGE, file=sys.stderr)
            return 2
        if waiting := settle(paths.state, READERS, timeout):
            late = ", ".join(waiting)
            print(f"no start committed yet by {late}; the mark stays", file=sys.stderr)
        return 0
    print(USAGE, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
