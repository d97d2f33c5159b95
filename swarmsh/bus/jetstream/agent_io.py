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
from swarmsh.patience import NEVER, until_done


def attach(runner: Any, paths: Paths, start: str) -> None:
    from swarmsh.bus import backend

    agent = runner.agent
    conn = backend.connection(f"swarmsh-{agent.name}")
    follower = SpanConsumer(
        conn,
        consumer_name(agent.name),
        spans_filter(agent.prefix),
        DeadLetterWriter(paths.deadletter_file(agent.name)),
    )
    stores: list[KvStateStore] = []

    def open_all() -> bool:  # JetStream may still be electing its leaders: retried
        ensure_streams(conn)
        bucket = ensure_bucket(conn, state_bucket(agent.name))
        stores[:] = [KvStateStore(conn, bucket, follower.ack_through)]
        follower.open(stores[0].recover(), start)
        return True

    until_done(open_all, NEVER, what="open the streams, the state bucket and the consumer")
    store = stores[0]
    runner.store = store
    runner.queue = CommandPublisher(conn)
    runner.follower = follower
    runner._committed = follower.position
