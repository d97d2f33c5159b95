"""The example plug-in, installed with pip, under a real supervisord started by `swarmsh up`:
its agent runs as a generated program, reacts to its command's span, and the executor runs
the command the plug-in declares and refuses the one it does not."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from swarmsh.bus.records import dumps_line
from swarmsh.bus.writer import JsonlWriter
from tests.conftest import read_jsonl
from tests.e2e.swarm import checkout

pytestmark = pytest.mark.e2e
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SOURCE = "00f067aa0ba902b7"


def purge_command() -> dict[str, object]:
    """What a (misbehaving) agent might ask for: a plug-in command not declared for it."""
    return {
        "id": "purge-by-agent",
        "command": "swarmsh.example.purge",
        "args": {"target": "t1"},
        "reason": "test",
        "agent": "echo",
        "source": {"trace_id": TRACE, "span_id": SOURCE, "end": time.time()},
        "traceparent": f"00-{TRACE}-{SOURCE}-01",
        "depth": 1,
        "created_at": time.time(),
    }


def test_the_example_plugin_runs_under_supervisord(example_site: Path) -> None:
    with checkout() as co:
        co.env["PYTHONPATH"] = str(example_site)
        co.plugin_daemons = ("echo",)
        up = co.run("up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "plug-in agents RUNNING: echo" in up.stdout
        assert "[program:echo]" in (co.var / "plugins.conf").read_text()
        status = co.run("status", "--json")
        assert json.loads(status.stdout)["processes"]["echo"]["state"] == "RUNNING"

        pinged = co.run("example", "ping", "t1")
        assert pinged.returncode == 0, pinged.stderr
        iteration = co.wait_for(
            lambda r: (
                r.name == "swarm.loop.iteration" and r.attributes.get("swarm.agent") == "echo"
            ),
            timeout=30,
            what="the echo agent's iteration for the ping",
        )
        assert iteration.attributes["swarm.command"] == "swarmsh.example.pong"
        assert iteration.attributes["swarm.state.to"] == "PINGED"
        command_id = iteration.attributes["swarm.command.id"]
        pong = co.wait_for(
            lambda r: r.name == "swarmsh.example.pong",
            timeout=30,
            what="the executor's run of the declared command",
        )
        assert pong.attributes["swarm.command.id"] == command_id
        assert pong.attributes["example.target"] == "t1"
        assert pong.status == "OK" and pong.trace_id == iteration.trace_id
        co.wait_for(
            lambda r: (
                r.name == "swarm.loop.iteration" and r.attributes.get("swarm.state.to") == "PONGED"
            ),
            timeout=30,
            what="the echo agent seeing the pong",
        )

        JsonlWriter(co.home / "commands.jsonl").append([dumps_line(purge_command())])
        refused = co.wait_for(
            lambda r: (
                r.name == "swarmsh.command.rejected"
                and r.attributes.get("swarm.command.id") == "purge-by-agent"
            ),
            timeout=30,
            what="the executor's refusal of the undeclared command",
        )
        assert refused.status == "ERROR"
        assert (
            "does not allow the executor to run 'purge'"
            in refused.attributes["swarm.rejection.reason"]
        )
        assert not [
            s for s in read_jsonl(co.home / "spans.jsonl") if s["name"] == "swarmsh.example.purge"
        ]
