"""`StateStore`: one SQLite (WAL) database per daemon: checkpoint, entities, command ledger."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import msgspec
import orjson

from swarmsh.agents.base import EntityState
from swarmsh.errors import SwarmshError
from swarmsh.fsutil import open_file

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


def encode(value: Mapping[str, Any]) -> str:
    """What `commit` stores for an entity's data or a command's info; raises TypeError when
    a value cannot be stored (so a caller can check one entity before a batch depends on it)."""
    return orjson.dumps(dict(value)).decode()  # _text's work, one call less (once a span)


_NO_INFO: Mapping[str, Any] = MappingProxyType({})

# Errors that come and go with the disk (full, I/O error, locked by another process) are
# sqlite3.OperationalError: callers retry them. These two mean the file itself is damaged.
_CORRUPT = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


class StoreCorrupt(SwarmshError):
    """A state database is damaged: retrying cannot help, a person must move it aside."""

    def __init__(self, path: Path, error: sqlite3.DatabaseError) -> None:
        super().__init__(
            f"state database {path} is corrupt ({error}). Stop this process, move the file "
            f"aside with its journal (mv {path} {path}.corrupt; rm -f {path}-wal {path}-shm) "
            "and start it again: it starts afresh at the bus's end (use --from beginning to "
            "replay the bus instead; commands it re-emits keep their ids and never run twice)"
        )
        self.path = path


def _is_corrupt(error: sqlite3.DatabaseError) -> bool:
    name = getattr(error, "sqlite_errorname", "") or ""
    return name.startswith(_CORRUPT) or "not a database" in str(error)


class CommandEntry(msgspec.Struct, frozen=True, gc=False):
    """A command id with what this process knows of it (agents: emitted; executor: its ledger).
    A frozen Struct: an agent makes one per command, and a frozen dataclass's init with a
    default factory cost ≈ 2 µs."""

    id: str
    command: str
    status: str
    info: Mapping[str, Any] = _NO_INFO


class StateStore:
    """Checkpoint + entity states + command ids and statuses, committed in one transaction.

    A crash at any instant leaves either the old commit or the new one, never a
    mix, so a restart replays exactly the uncommitted tail.
    """

    def __init__(self, path: Path, *, durable: bool = True) -> None:
        os.close(open_file(path, os.O_RDWR | os.O_CREAT))  # created 0600, never via a symlink
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            with self._named_if_corrupt():
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
                self._db.executescript(_SCHEMA)
                self._db.execute("SELECT COUNT(*) FROM checkpoint").fetchone()
        except BaseException:
            self._db.close()
            raise

    @contextlib.contextmanager
    def _named_if_corrupt(self) -> Iterator[None]:
        """A damaged file becomes `StoreCorrupt` naming it; other errors pass unchanged."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if _is_corrupt(exc):
                raise StoreCorrupt(self.path, exc) from exc
            raise

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT. On failure, roll back only if a transaction is still
        open (SQLite ends it itself on a full disk or an I/O error), and never let the
        rollback's own failure hide the error that caused it."""
        db = self._db
        with self._named_if_corrupt():
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise

    def _rows(self, sql: str, parameters: Iterable[Any] = ()) -> list[Any]:
        """One query's rows; a damaged file is named (`StoreCorrupt`), not a bare error."""
        with self._named_if_corrupt():
            return self._db.execute(sql, tuple(parameters)).fetchall()

    def load_position(self, reader: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT position FROM checkpoint WHERE reader = ?", (reader,))
        return orjson.loads(rows[0][0]) if rows else None

    def get(self, keys: Iterable[str]) -> dict[str, EntityState]:
        """The stored states of those `keys` that have one."""
        keys = list(keys)
        found: dict[str, EntityState] = {}
        for i in range(0, len(keys), _MAX_PARAMETERS):
            part = keys[i : i + _MAX_PARAMETERS]
            marks = ",".join("?" * len(part))
            rows = self._rows(
                f"SELECT key, state, data FROM entities WHERE key IN ({marks})",  # noqa: S608
                part,
            )
            found.update((k, EntityState(s, MappingProxyType(orjson.loads(d)))) for k, s, d in rows)
        return found

    def command(self, command_id: str) -> CommandEntry | None:
        rows = self._rows("SELECT command, status, info FROM commands WHERE id = ?", (command_id,))
        if not rows:
            return None
        command, status, info = rows[0]
        return CommandEntry(command_id, command, status, orjson.loads(info))

    def commands_with_status(self, status: str) -> list[CommandEntry]:
        rows = self._rows(
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
        encoded: Mapping[str, str] | None = None,
    ) -> None:
        """Atomically record the new position, entity states, command entries and counters.
        `encoded` may give an update's data already encoded (`encode`), by key."""
        now = time.time() if now is None else now
        texts = encoded or {}
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO entities VALUES (?, ?, ?, ?, ?)",
                [
                    (k, s.state, texts.get(k) or _text(dict(s.data)), s.state in final_states, now)
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

    def prune(self, older_than: float) -> int:
        """Forget finished entities and settled command ids last touched before `older_than`."""
        with self._transaction() as db:
            n = db.execute(
                "DELETE FROM entities WHERE final = 1 AND updated_at < ?", (older_than,)
            ).rowcount
            db.execute(
                "DELETE FROM commands WHERE status != 'started' AND updated_at < ?", (older_than,)
            )
        return n

    def states_count(self) -> dict[str, int]:
        return dict(self._rows("SELECT state, COUNT(*) FROM entities GROUP BY state"))

    def entities(self) -> dict[str, EntityState]:
        rows = self._rows("SELECT key, state, data FROM entities")
        return {k: EntityState(s, MappingProxyType(orjson.loads(d))) for k, s, d in rows}

    def counters(self) -> dict[str, int]:
        return dict(self._rows("SELECT name, value FROM counters"))

    def command_ids(self) -> set[str]:
        return {row[0] for row in self._rows("SELECT id FROM commands")}

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
