"""What `swarmsh status` and `swarmsh up` read from JetStream: each stream's state, each
reader's durable consumer (its pending messages are its lag), and whether every reader's
consumer exists yet (its position is then kept by the server, whenever the daemon gets there).
Read-only: nothing here creates, changes or acknowledges anything.
"""

from __future__ import annotations

from typing import Any

from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.bus.jetstream.subjects import (
    COMMANDS_STREAM,
    EXECUTOR_CONSUMER,
    SPANS_STREAM,
    consumer_name,
    state_bucket,
)

AGENTS = ("roberts", "scrum", "lean", "rules")
MAX_ENTITIES = 100_000  # entities read at most per agent for `status`
# reader (as `swarmsh status` names it) -> (stream, durable consumer)
CONSUMERS: dict[str, tuple[str, str]] = {
    **{agent: (SPANS_STREAM, consumer_name(agent)) for agent in AGENTS},
    "executor": (COMMANDS_STREAM, EXECUTOR_CONSUMER),
    "shipper": (SPANS_STREAM, consumer_name("shipper")),
}


def _when(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def stream_state(conn: NatsConnection, stream: str) -> dict[str, Any]:
    """Messages, bytes, first/last sequence (and time), consumers, replicas, leader."""
    from nats.js.errors import NotFoundError

    try:
        info = await conn.js.stream_info(stream)
    except NotFoundError:
        return {"error": "no such stream yet (nothing published?)"}
    state, cluster = info.state, info.cluster
    return {
        "messages": state.messages,
        "bytes": state.bytes,
        "first_seq": state.first_seq,
        "last_seq": state.last_seq,
        "first_ts": _when(getattr(state, "first_ts", None)),
        "last_ts": _when(getattr(state, "last_ts", None)),
        "consumers": state.consumer_count,
        "replicas": info.config.num_replicas,
        "leader": cluster.leader if cluster is not None else None,
    }


async def consumer_state(conn: NatsConnection, stream: str, name: str) -> dict[str, Any]:
    """A durable consumer's lag: messages not yet delivered plus delivered but not acked."""
    from nats.js.errors import NotFoundError

    try:
        info = await conn.js.consumer_info(stream, name)
    except NotFoundError:
        return {"error": f"no consumer {name} on {stream} yet (never started?)"}
    return {
        "stream": stream,
        "consumer": name,
        "pending": info.num_pending,
        "ack_pending": info.num_ack_pending,
        "redelivered": info.num_redelivered,
        "ack_floor": info.ack_floor.stream_seq if info.ack_floor else 0,
        "delivered": info.delivered.stream_seq if info.delivered else 0,
        "lag_messages": (info.num_pending or 0) + (info.num_ack_pending or 0),
    }


def bus_state(conn: NatsConnection) -> dict[str, Any]:
    """{"streams": {name: state}, "consumers": {reader: state}} in one round of requests."""

    async def _all() -> dict[str, Any]:
        streams = {s: await stream_state(conn, s) for s in (SPANS_STREAM, COMMANDS_STREAM)}
        consumers = {r: await consumer_state(conn, s, c) for r, (s, c) in CONSUMERS.items()}
        return {"streams": streams, "consumers": consumers}

    return conn.run(_all(), timeout=conn.settings.timeout_s * 4)


def entity_states(conn: NatsConnection, agent: str, limit: int = MAX_ENTITIES) -> dict[str, int]:
    """How many of `agent`'s entities are in each state: its bucket keeps one value per key
    (history 1), so reading the bucket's stream once gives every entity's current state."""
    import orjson

    from swarmsh.bus.jetstream.scan import StreamReader

    bucket = state_bucket(agent)

    async def _exists() -> bool:
        from nats.js.errors import NotFoundError

        try:
            await conn.js.stream_info(f"KV_{bucket}")
        except NotFoundError:
            return False
        return True

    counts: dict[str, int] = {}
    if not conn.run(_exists()):
        return counts
    reader = StreamReader(conn, 1, subject=f"$KV.{bucket}.e.>", stream=f"KV_{bucket}")
    try:
        read = 0
        while read < limit and (batch := reader.poll(0.2)):
            read += len(batch)
            for _seq, data in batch:
                try:
                    state = str(orjson.loads(data)["state"])
                except (ValueError, KeyError, TypeError):
                    continue  # a deleted key, or not an entity: not counted
                counts[state] = counts.get(state, 0) + 1
            if reader.caught_up:
                break
    finally:
        reader.close()
    return counts


def missing_consumers(conn: NatsConnection, readers: tuple[str, ...]) -> list[str]:
    """The readers whose durable consumer does not exist yet."""
    state = bus_state(conn)["consumers"]
    return [r for r in readers if r in CONSUMERS and "error" in state[r]]
