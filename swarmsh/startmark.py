"""Where an agent without a checkpoint begins: the bus position `swarmsh up` recorded.

`up` records the bus's identity and size before it starts supervisord, so an agent's
first start never begins later than the moment `up` was asked, however long the agent
takes to initialise; `up` removes the mark once every agent has committed its start.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from swarmsh.bus.position import FileIdentity, Position
from swarmsh.fsutil import write_atomic

MARK_FILE = "start.json"


def mark_path(state_dir: Path) -> Path:
    return state_dir / MARK_FILE


def bus_position(bus: Path) -> Position:
    """The bus's identity and current end; a missing bus is inode 0 ("all of it is new")."""
    try:
        fd = os.open(bus, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return Position(FileIdentity(0, 0, 0, ""), 0)
    try:
        return Position(FileIdentity.of_fd(fd), os.fstat(fd).st_size)
    finally:
        os.close(fd)


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


def clear(state_dir: Path) -> None:
    try:
        os.unlink(mark_path(state_dir))
    except FileNotFoundError:
        pass
