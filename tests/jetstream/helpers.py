"""Helpers for the JetStream tests: daemons as real processes, and reading streams and buckets."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from swarmsh.bus.jetstream.connection import NatsConnection, NatsUnavailable
from swarmsh.bus.jetstream.state import entity_key
from swarmsh.bus.jetstream.subjects import SPANS_STREAM, state_bucket
from tests.failpoint_launch import ENV_FAILPOINTS, launch_argv


def start(
    module: str, home: Path, log: Path, *failpoints: str, **env: str
) -> subprocess.Popen[bytes]:
    """`python -m module` (through the failpoint launcher) on `home`, with our environment
    (SWARMSH_BUS included) plus `env`; its output goes to `log`."""
    environ = {**os.environ, "SWARMSH_HOME": str(home), **env}
    environ[ENV_FAILPOINTS] = ",".join(failpoints)
    with log.open("ab") as out:
        return subprocess.Popen(launch_argv(module), env=environ, stdout=out, stderr=out)  # noqa: S603


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until true; a server that does not answer yet (a cluster electing
    leaders after a node was killed) counts as not yet, until the deadline."""
    deadline = time.monotonic() + timeout

    def holds() -> bool:
        try:
            return condition()
        except NatsUnavailable:
            if time.monotonic() > deadline:
                raise
            return False

    while not holds():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout}s")
        time.sleep(0.05)  # the streams are polled: a test has no subscription of its own


def stream_messages(conn: NatsConnection, stream: str = SPANS_STREAM) -> list[Any]:
    """Every message the stream still holds (a work queue drops acknowledged ones)."""

    async def _all() -> list[Any]:
        from nats.js.errors import NotFoundError

        info = await conn.js.stream_info(stream)
        found = []
        for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):
            try:
                found.append(await conn.js.get_msg(stream, seq))
            except NotFoundError:
                continue
        return found

    return conn.run(_all(), timeout=60)


def spans(conn: NatsConnection) -> list[dict[str, Any]]:
    return [orjson.loads(m.data) for m in stream_messages(conn)]


def stream_last_seq(conn: NatsConnection, stream: str) -> int:
    return int(conn.run(conn.js.stream_info(stream)).state.last_seq)


def entity(conn: NatsConnection, agent: str, key: str) -> dict[str, Any] | None:
    """An agent's stored state of one entity."""

    async def _get() -> dict[str, Any] | None:
        from nats.js.errors import KeyNotFoundError

        kv = await conn.js.key_value(state_bucket(agent))
        try:
            return dict(orjson.loads((await kv.get(entity_key(key))).value))
        except KeyNotFoundError:
            return None

    return conn.run(_get())


def commands_executed(all_spans: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """OK spans carrying a command id other than the agents' iterations, by id (each command
    that ran has exactly two: its CLI span and the execute span above it)."""
    by_id: dict[str, list[dict[str, Any]]] = {}
    for span in all_spans:
        cid = span["attributes"].get("swarm.command.id")
        if cid and span["status"] == "OK" and span["name"] != "swarm.loop.iteration":
            by_id.setdefault(cid, []).append(span)
    return by_id


def settled(conn: NatsConnection, consumer: str, stream: str = SPANS_STREAM) -> bool:
    """The durable consumer has nothing left to deliver and nothing unacknowledged."""
    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.errors import NotFoundError, ServiceUnavailableError

    try:
        info = conn.run(conn.js.consumer_info(stream, consumer))
    except NotFoundError:  # not created yet
        return False
    # a cluster that lost a node may not answer until it has elected new leaders: not yet
    except (NatsUnavailable, NatsTimeout, NoRespondersError, ServiceUnavailableError):
        return False
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)
