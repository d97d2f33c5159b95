"""The two streams, created or brought up to date from the settings (idempotent).

`ensure_streams(conn)` makes sure SWARMSH_SPANS (subjects `swarmsh.spans.>`, limits retention
by age and bytes) and SWARMSH_COMMANDS (subject `swarmsh.commands`, work-queue retention: a
command leaves the stream when an executor acknowledges it) exist with the configured
replicas and duplicate window. Every producer and consumer calls it once at start, so no
process depends on another having run first. `ensure_bucket(conn, name)` does the same for a
key-value bucket (history 1: the current value and its revision are what we compare-and-set).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.bus.jetstream.subjects import (
    COMMANDS_STREAM,
    COMMANDS_SUBJECT,
    SPANS_ROOT,
    SPANS_STREAM,
)

if TYPE_CHECKING:
    from nats.js.kv import KeyValue


def stream_configs(conn: NatsConnection) -> list[Any]:
    from nats.js.api import RetentionPolicy, StorageType, StreamConfig

    s = conn.settings
    spans = StreamConfig(
        name=SPANS_STREAM,
        subjects=[SPANS_ROOT + ".>"],
        retention=RetentionPolicy.LIMITS,
        max_age=s.max_age_s or None,
        max_bytes=s.max_bytes,
        storage=StorageType.FILE,
        num_replicas=s.replicas,
        duplicate_window=s.duplicate_window_s,
    )
    commands = StreamConfig(
        name=COMMANDS_STREAM,
        subjects=[COMMANDS_SUBJECT],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        num_replicas=s.replicas,
        duplicate_window=s.duplicate_window_s,
    )
    return [spans, commands]


def ensure_streams(conn: NatsConnection) -> None:
    """Create both streams, or update them when the settings changed."""

    async def _ensure() -> None:
        from nats.js.errors import BadRequestError

        for config in stream_configs(conn):
            try:
                await conn.js.add_stream(config)
            except BadRequestError:  # exists with another configuration: bring it up to date
                await conn.js.update_stream(config)

    conn.run(_ensure(), timeout=conn.settings.timeout_s * 4)


def ensure_bucket(conn: NatsConnection, bucket: str) -> KeyValue:
    """The key-value bucket `bucket`, created when missing."""

    async def _bucket() -> KeyValue:
        from nats.js.api import KeyValueConfig, StorageType
        from nats.js.errors import BucketNotFoundError

        try:
            return await conn.js.key_value(bucket)
        except BucketNotFoundError:
            config = KeyValueConfig(
                bucket=bucket,
                history=1,
                storage=StorageType.FILE,
                replicas=conn.settings.replicas,
            )
            return await conn.js.create_key_value(config)

    return conn.run(_bucket(), timeout=conn.settings.timeout_s * 4)
