"""`attach`: give an `AgentRunner` its JetStream parts in the roles of its file ones.

The runner's pure parts (parse, events, handle, _decide) and its batch order stay as they
are: publish commands (acked) -> flush spans (acked) -> commit (journal, entity keys) ->
acknowledge the messages. Only the store, the queue writer and the follower differ.
"""

from __future__ import annotations

from typing import Any

from swarmsh.bus.deadletter import DeadLetterWriter
from swarmsh.bus.jetstream.consumer import CommandPublisher, SpanConsumer
from swarmsh.bus.jetstream.state import KvStateStore
from swarmsh.bus.jetstream.streams import ensure_bucket, ensure_streams
from swarmsh.bus.jetstream.subjects import consumer_name, spans_filter, state_bucket
from swarmsh.config import Paths


def attach(runner: Any, paths: Paths, start: str) -> None:
    from swarmsh.bus import backend

    agent = runner.agent
    conn = backend.connection(f"swarmsh-{agent.name}")
    ensure_streams(conn)
    follower = SpanConsumer(
        conn,
        consumer_name(agent.name),
        spans_filter(agent.prefix),
        DeadLetterWriter(paths.deadletter_file(agent.name)),
    )
    store = KvStateStore(conn, ensure_bucket(conn, state_bucket(agent.name)), follower.ack_through)
    follower.open(store.recover(), start)
    runner.store = store
    runner.queue = CommandPublisher(conn)
    runner.follower = follower
    runner._last_prune = 0.0
    runner._cache = {}
    runner._committed = follower.position
