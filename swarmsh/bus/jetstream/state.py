"""`KvStateStore`: an agent's entity states in a JetStream key-value bucket.

It plays the role of `swarmsh.store.StateStore` for `AgentRunner` (`get`, `commit`, `prune`,
`close`). A commit is made atomic by a journal: ONE write of the `_journal` key holds the
batch's stream sequence and all its entity updates; then each entity's key is written, then
the batch's messages are acknowledged (through `on_commit`). After a crash anywhere, `recover`
re-applies the journal (idempotent puts) and says up to which sequence the state already
includes: a redelivered message at or below it is acknowledged without being handled again,
so a state change is applied at most once.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import orjson

from swarmsh.agents.base import EntityState
from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.failpoints import failpoint

if TYPE_CHECKING:
    from nats.js.kv import KeyValue

JOURNAL = "_journal"


def entity_key(key: str) -> str:
    """A key-value key for any entity key (KV keys allow only `[-/_=.A-Za-z0-9]`)."""
    return "e." + base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _encode(state: EntityState, final_at: float | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"state": state.state, "data": dict(state.data)}
    if final_at is not None:  # a finished entity, forgotten after the retention (`prune`)
        value["final_at"] = final_at
    return value


def _decode(value: Mapping[str, Any]) -> EntityState:
    return EntityState(str(value["state"]), MappingProxyType(dict(value.get("data") or {})))


class KvStateStore:
    def __init__(
        self, conn: NatsConnection, kv: KeyValue, on_commit: Callable[[int], None]
    ) -> None:
        self.conn = conn
        self.kv = kv
        self.on_commit = on_commit  # acknowledge the messages up to this stream sequence

    async def _get(self, key: str) -> bytes | None:
        from nats.js.errors import KeyNotFoundError

        try:
            entry = await self.kv.get(key)
        except KeyNotFoundError:
            return None
        return entry.value

    def get(self, keys: Iterable[str]) -> dict[str, EntityState]:
        import asyncio

        wanted = list(keys)

        async def _all() -> list[bytes | None]:
            return list(await asyncio.gather(*(self._get(entity_key(k)) for k in wanted)))

        values = self.conn.run(_all())
        return {k: _decode(orjson.loads(v)) for k, v in zip(wanted, values, strict=True) if v}

    def _put_all(self, updates: Mapping[str, Any]) -> None:
        import asyncio

        async def _all() -> None:
            await asyncio.gather(
                *(self.kv.put(entity_key(k), orjson.dumps(v)) for k, v in updates.items())
            )

        self.conn.run(_all(), timeout=self.conn.settings.timeout_s * 2 + 1)

    def recover(self) -> int:
        """Finish a commit a crash interrupted; the sequence the state includes (0: none)."""
        raw = self.conn.run(self._get(JOURNAL))
        if raw is None:
            return 0
        journal = orjson.loads(raw)
        self._put_all(journal["updates"])
        return int(journal["seq"])

    def commit(
        self,
        reader: str,
        position: Mapping[str, Any],
        updates: Mapping[str, EntityState] = MappingProxyType({}),
        final_states: Iterable[str] = (),
        commands: Iterable[Any] = (),
        counters: Mapping[str, int] | None = None,
        now: float | None = None,
        encoded: Mapping[str, str] | None = None,
    ) -> None:
        """Journal, entity keys, then acknowledge (see the module's docstring). The commands
        were published (and de-duplicate by id) before: there is no emitted-ids table. The
        signature is `StateStore.commit`'s; `encoded` (SQLite's text form) is not used here."""
        seq = int(position["seq"])
        now = time.time() if now is None else now
        final = frozenset(final_states)
        values = {k: _encode(s, now if s.state in final else None) for k, s in updates.items()}
        journal = orjson.dumps({"seq": seq, "updates": values})
        failpoint("agent-before-journal")  # commands and spans are out, the state is not
        self.conn.run(self.kv.put(JOURNAL, journal))
        failpoint("agent-after-journal")
        if values:
            self._put_all(values)
        failpoint("agent-before-ack")
        self.on_commit(seq)

    def prune(self, older_than: float) -> int:
        """Forget entities that reached a final state before `older_than` (one pass over the
        bucket's keys: the runner calls this once a minute when idle)."""

        async def _prune() -> int:
            from nats.js.errors import KeyNotFoundError, NoKeysError

            try:
                keys = await self.kv.keys()
            except NoKeysError:
                return 0
            removed = 0
            for key in keys:
                if not key.startswith("e."):
                    continue
                try:
                    entry = await self.kv.get(key)
                except KeyNotFoundError:
                    continue
                final_at = orjson.loads(entry.value or b"{}").get("final_at")
                if isinstance(final_at, int | float) and final_at < older_than:
                    await self.kv.purge(key)
                    removed += 1
            return removed

        return self.conn.run(_prune(), timeout=self.conn.settings.timeout_s * 20 + 10)

    def close(self) -> None:
        pass
