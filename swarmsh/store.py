"""`StateStore`: one SQLite (WAL) database per daemon: checkpoint, entities, command ledger."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson

from swarmsh.agents.base import EntityState
from swarmsh.fsutil import FILE_MODE, ensure_dir

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoint (
    reader TEXT PRIMARY KEY, position TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS entities (
    key TEXT PRIMARY KEY, state TEXT NOT NULL, data TEXT NOT NULL,
    final INTEGER NOT NULL, updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS entities_final ON entities (final, updated_at);
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY, command TEXT NOT NULL, status TEXT NOT NULL, info TEXT NOT NULL,
    updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


_MAX_PARAMETERS = 999  # SQLite's limit on host parameters before 3.32


def _text(value: dict[str, Any]) -> str:
    return orjson.dumps(value).decode()


@dataclass(frozen=True)
class CommandEntry:
    """A command id with what this process knows of it (agents: emitted; executor: its ledger)."""

    id: str
    command: str
    status: str
    info: Mapping[str, Any] = field(default_factory=dict)


class StateStore:
    """Checkpoint + entity states + command ids and statuses, committed in one transaction.

    A crash at any instant leaves either the old commit or the new one, never a
    mix, so a restart replays exactly the uncommitted tail.
    """

    def __init__(self, path: Path, *, durable: bool = True) -> None:
        ensure_dir(path.parent)
        if not path.exists():
            path.touch(mode=FILE_MODE)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        self._db.executescript(_SCHEMA)

    def load_position(self, reader: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT position FROM checkpoint WHERE reader = ?", (reader,)
        ).fetchone()
        return orjson.loads(row[0]) if row else None

    def get(self, keys: Iterable[str]) -> dict[str, EntityState]:
        """The stored states of those `keys` that have one."""
        keys = list(keys)
        found: dict[str, EntityState] = {}
        for i in range(0, len(keys), _MAX_PARAMETERS):
            part = keys[i : i + _MAX_PARAMETERS]
            marks = ",".join("?" * len(part))
            rows = self._db.execute(
                f"SELECT key, state, data FROM entities WHERE key IN ({marks})",  # noqa: S608
                part,
            )
            found.update((k, EntityState(s, MappingProxyType(orjson.loads(d)))) for k, s, d in rows)
        return found

    def command(self, command_id: str) -> CommandEntry | None:
        row = self._db.execute(
            "SELECT command, status, info FROM commands WHERE id = ?", (command_id,)
        ).fetchone()
        return CommandEntry(command_id, row[0], row[1], orjson.loads(row[2])) if row else None

    def commands_with_status(self, status: str) -> list[CommandEntry]:
        rows = self._db.execute(
            "SELECT id, command, status, info FROM commands WHERE status = ?", (status,)
        )
        return [CommandEntry(i, c, s, orjson.loads(info)) for i, c, s, info in rows]

    def commit(
        self,
        reader: str,
        position: Mapping[str, Any],
        updates: Mapping[str, EntityState] | None = None,
        final_states: frozenset[str] = frozenset(),
        commands: Iterable[CommandEntry] = (),
        counters: Mapping[str, int] | None = None,
        now: float | None = None,
    ) -> None:
        """Atomically record the new position, entity states, command entries and counters."""
        now = time.time() if now is None else now
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT OR REPLACE INTO entities VALUES (?, ?, ?, ?, ?)",
                [
                    (k, s.state, _text(dict(s.data)), int(s.state in final_states), now)
                    for k, s in (updates or {}).items()
                ],
            )
            db.executemany(
                "INSERT OR REPLACE INTO commands VALUES (?, ?, ?, ?, ?)",
                [(c.id, c.command, c.status, _text(dict(c.info)), now) for c in commands],
            )
            for name, delta in (counters or {}).items():
                if not delta:
                    continue
                db.execute(
                    "INSERT INTO counters VALUES (?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
                    (name, delta),
                )
            db.execute(
                "INSERT OR REPLACE INTO checkpoint VALUES (?, ?, ?)",
                (reader, _text(dict(position)), now),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def prune(self, older_than: float) -> int:
        """Forget finished entities and settled command ids last touched before `older_than`."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            n = db.execute(
                "DELETE FROM entities WHERE final = 1 AND updated_at < ?", (older_than,)
            ).rowcount
            db.execute(
                "DELETE FROM commands WHERE status != 'started' AND updated_at < ?", (older_than,)
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return n

    def states_count(self) -> dict[str, int]:
        rows = self._db.execute("SELECT state, COUNT(*) FROM entities GROUP BY state")
        return dict(rows.fetchall())

    def entities(self) -> dict[str, EntityState]:
        rows = self._db.execute("SELECT key, state, data FROM entities")
        return {k: EntityState(s, MappingProxyType(orjson.loads(d))) for k, s, d in rows}

    def counters(self) -> dict[str, int]:
        return dict(self._db.execute("SELECT name, value FROM counters").fetchall())

    def command_ids(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT id FROM commands")}

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
