"""`swarmsh status` on a NATS bus (real CLI, real nats-server): each reader's lag is its
durable consumer's pending messages, exactly; the streams' state is shown; an unreachable
server is a problem (exit 5) with a message, not a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from swarmsh.bus.jetstream.state import entity_key
from swarmsh.bus.jetstream.streams import ensure_bucket
from swarmsh.bus.jetstream.subjects import COMMANDS_STREAM, SPANS_STREAM, spans_filter, state_bucket
from swarmsh.store import StateStore
from tests.conftest import run_cli as swarmsh
from tests.jetstream.servers import NatsServer
from tests.jetstream.streamread import connect

NO_SUPERVISOR = {"SWARMSH_SUPERVISOR_CONF": "/nonexistent"}


def status(home: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = swarmsh(home, NO_SUPERVISOR, "status", "--json", *args)
    text = swarmsh(home, NO_SUPERVISOR, "status", *args)
    return result.returncode, json.loads(result.stdout), text.stdout


def test_lag_is_each_consumers_pending_and_the_streams_are_shown(
    home: Path, nats_server: NatsServer, nats_env: dict[str, str]
) -> None:
    for motion in ("a", "b", "c", "d", "e"):
        assert swarmsh(home, {}, "roberts", "second", motion).returncode == 0
    assert swarmsh(home, {}, "scrum", "plan", "7", "--team", "t").returncode == 0
    conn = connect(nats_server.url)
    try:  # roberts' consumer as the agent makes it; two of its five handled and acked

        async def consume_two() -> None:
            from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

            config = ConsumerConfig(
                durable_name="roberts",
                filter_subject=spans_filter("swarmsh.roberts."),
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
            )
            sub = await conn.js.pull_subscribe(
                config.filter_subject, durable="roberts", stream=SPANS_STREAM, config=config
            )
            for msg in await sub.fetch(3, timeout=5):
                if msg.metadata.sequence.stream <= 2:
                    await msg.ack_sync()  # the third stays delivered, unacknowledged

        conn.run(consume_two())
        kv = ensure_bucket(conn, state_bucket("roberts"))  # the agent's entities, as it stores them
        for key, state in (
            ("motion:a", "SECONDED"),
            ("motion:b", "SECONDED"),
            ("meeting:g", "IN_SESSION"),
        ):
            conn.run(kv.put(entity_key(key), orjson.dumps({"state": state, "data": {}})))
        conn.run(kv.put("_journal", orjson.dumps({"seq": 2, "updates": {}})))
    finally:
        conn.close()

    code, report, text = status(home)
    assert code == 5  # no supervisord here
    roberts = report["agents"]["roberts"]
    assert (roberts["pending"], roberts["ack_pending"], roberts["lag_lines"]) == (2, 1, 3)
    assert roberts["checkpoint"] == 2  # acknowledged through stream sequence 2
    assert roberts["entities"] == {"SECONDED": 2, "IN_SESSION": 1}
    assert "entities IN_SESSION=1, SECONDED=2" in text
    assert "error" in report["agents"]["scrum"]  # never started: no consumer yet
    spans = report["bus"]["streams"][SPANS_STREAM]
    assert (spans["messages"], spans["first_seq"], spans["last_seq"]) == (6, 1, 6)
    assert spans["bytes"] > 0 and spans["replicas"] == 1 and spans["consumers"] == 1
    assert report["bus"]["streams"][COMMANDS_STREAM]["messages"] == 0
    assert "lag 3 messages (2 new, 1 unacked)" in text
    assert f"{SPANS_STREAM}    6 messages" in text
    assert "roberts lags" not in " ".join(report["problems"])
    code, report, _ = status(home, "--max-lag", "2")
    assert "roberts lags 3 lines behind (more than 2)" in report["problems"]


def test_an_unreachable_server_is_a_problem_not_a_traceback(
    home: Path, nats_server: NatsServer, nats_env: dict[str, str]
) -> None:
    state = home / "state"
    state.mkdir(parents=True, mode=0o700)
    StateStore(state / "shipper.db").close()  # a reader with local state, as the shipper has
    nats_server.kill()
    code, report, text = status(home)
    assert code == 5
    assert any(p.startswith("JetStream: ") for p in report["problems"])
    assert "bus: JetStream: " in text and "Traceback" not in text
    assert "shipper   position unknown (JetStream unreachable)" in text
