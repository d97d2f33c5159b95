"""`KvLedger`: the executors' command ledger in a JetStream key-value bucket.

One key per command id; every change is a compare-and-set on the key's revision, so of two
executors holding the same command (a redelivery after its ack wait), exactly one moves it
on. Entries (JSON):

- `started` {owner}: an executor claimed the command (`create`: fails if the key exists) or
  took it over from one that stopped acknowledging it; nothing of a run is on the bus yet;
- `recorded` {final, lines}: a run's spans (the CLI span and its execute span, or a refusal)
  are fixed here BEFORE they are published; whoever finds this entry publishes exactly these
  lines again (same `Nats-Msg-Id`s: the server keeps one copy) and finishes;
- `executed` / `refused` / `deadlettered`: final; a redelivered or re-emitted command with a
  final entry is acknowledged without running.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from swarmsh.bus.jetstream.connection import NatsConnection

if TYPE_CHECKING:
    from nats.js.kv import KeyValue

STARTED, RECORDED = "started", "recorded"
EXECUTED, REFUSED, DEADLETTERED = "executed", "refused", "deadlettered"
FINAL = frozenset({EXECUTED, REFUSED, DEADLETTERED})


class Entry(NamedTuple):
    value: dict[str, Any]
    revision: int

    @property
    def status(self) -> str:
        return str(self.value.get("status"))


def ledger_key(command_id: str) -> str:
    return "c." + base64.urlsafe_b64encode(command_id.encode()).decode().rstrip("=")


class KvLedger:
    def __init__(self, conn: NatsConnection, kv: KeyValue) -> None:
        self.conn = conn
        self.kv = kv

    def get(self, command_id: str) -> Entry | None:
        async def _get() -> Entry | None:
            from nats.js.errors import KeyNotFoundError

            try:
                entry = await self.kv.get(ledger_key(command_id))
            except KeyNotFoundError:
                return None
            if entry.value is None or entry.revision is None:
                return None
            return Entry(orjson.loads(entry.value), entry.revision)

        return self.conn.run(_get())

    def create(self, command_id: str, value: dict[str, Any]) -> Entry | None:
        """The new entry, or None when the key exists (another executor was first)."""

        async def _create() -> Entry | None:
            from nats.js.errors import KeyWrongLastSequenceError

            try:
                revision = await self.kv.create(ledger_key(command_id), orjson.dumps(value))
            except KeyWrongLastSequenceError:
                return None
            return Entry(value, revision)

        return self.conn.run(_create())

    def update(self, command_id: str, value: dict[str, Any], after: Entry) -> Entry | None:
        """The entry moved on from `after`, or None when someone else moved it first."""

        async def _update() -> Entry | None:
            from nats.js.errors import KeyWrongLastSequenceError

            try:
                revision = await self.kv.update(
                    ledger_key(command_id), orjson.dumps(value), last=after.revision
                )
            except KeyWrongLastSequenceError:
                return None
            return Entry(value, revision)

        return self.conn.run(_update())
