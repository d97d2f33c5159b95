"""`swarmsh demo` on a NATS bus: entity states from an agent's key-value bucket, reactions
watched on the spans stream, traces read back from it."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from swarmsh.bus.jetstream.view import NatsSpanWatcher
from swarmsh.bus.records import SpanRecord

TRACE_SCAN = 100_000  # the demo's traces are among the newest spans
MAX_KEYS = 100_000


def _conn() -> Any:
    from swarmsh.bus import backend

    return backend.connection("swarmsh-demo")  # shared with the steps the demo runs


def _entity(kv_key: str) -> str | None:
    """The entity key a bucket key stands for (`state.entity_key`'s inverse), None if not one."""
    if not kv_key.startswith("e."):
        return None
    raw = kv_key[2:]
    try:
        return base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def entity_states(agent: str, prefix: str) -> dict[str, str]:
    """{entity key: state} of `agent`'s entities whose key starts with `prefix`."""
    from swarmsh.bus.jetstream.subjects import state_bucket

    conn = _conn()

    async def _read() -> dict[str, str]:
        from nats.js.errors import BucketNotFoundError, NoKeysError

        try:
            kv = await conn.js.key_value(state_bucket(agent))
            keys = await kv.keys()
        except (BucketNotFoundError, NoKeysError):
            return {}
        found: dict[str, str] = {}
        for kv_key in keys[:MAX_KEYS]:
            entity = _entity(kv_key)
            if entity is None or not entity.startswith(prefix):
                continue
            entry = await kv.get(kv_key)
            if entry.value:
                found[entity] = str(orjson.loads(entry.value).get("state"))
        return found

    result: dict[str, str] = conn.run(_read(), timeout=conn.settings.timeout_s * 4)
    return result


def span_watcher() -> NatsSpanWatcher:
    return NatsSpanWatcher(_conn())


def trace_spans(trace_id: str) -> list[SpanRecord]:
    from swarmsh.bus.jetstream.view import trace_spans as spans_of

    return spans_of(_conn(), trace_id, TRACE_SCAN)
