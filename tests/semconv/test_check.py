"""`swarmsh semconv check`: every span swarmsh emits passes; crafted bad spans do not."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from click.testing import CliRunner

from swarmsh.agents import lean, roberts, scrum
from swarmsh.cli import cli
from swarmsh.config import Paths
from swarmsh.executor.runner import Executor
from swarmsh.telemetry import setup_telemetry
from tests.agents.test_runner import drain, make_runner
from tests.cli.test_commands import CASES


def test_everything_swarmsh_emits_passes(home: Path) -> None:
    runner = CliRunner()
    for argv, *_ in CASES:
        assert runner.invoke(cli, argv).exit_code == 0
    runner.invoke(cli, ["scrum", "plan", "7", "--team", "t"])
    for agent in (roberts.AGENT, scrum.AGENT, lean.AGENT):
        drain(make_runner(home, agent))  # iteration spans, OK and rejected, with commands
    paths = Paths(home)
    executor = Executor(paths, setup_telemetry("swarmsh-executor", paths.bus, otlp=False))
    with open(paths.queue, "a") as fh:  # one command that is refused, to get that span too
        bad = json.loads(paths.queue.read_text().splitlines()[0])
        fh.write(json.dumps({**bad, "id": "refuse-me", "command": "swarmsh.nope"}) + "\n")
    while items := executor.follower.poll(0.05):
        for command, position in items:
            executor.handle(command, position, threading.Event())
    names = {json.loads(line)["name"] for line in paths.bus.read_text().splitlines()}
    assert {"swarm.loop.iteration", "swarmsh.command.execute", "swarmsh.command.rejected"} <= names
    result = runner.invoke(cli, ["semconv", "check", str(paths.bus)])
    assert result.exit_code == 0, result.output
    assert result.output.endswith(" problems\n") and ", 0 problems" in result.output


def test_bad_spans_are_reported(tmp_path: Path) -> None:
    good = {
        "name": "swarmsh.roberts.second",
        "trace_id": "a" * 32,
        "span_id": "b" * 16,
        "timestamp": 1.0,
        "attributes": {
            "swarm.agent": "roberts",
            "swarm.trigger": "second",
            "roberts.motion_id": "m",
        },
    }
    lines = [
        good,
        {**good, "name": "swarmsh.roberts.impeach"},
        {**good, "attributes": {"swarm.agent": "roberts", "swarm.trigger": "second"}},
        {**good, "attributes": {**good["attributes"], "roberts.motion_id": 42}},
        {
            **good,
            "name": "swarmsh.roberts.vote",
            "attributes": {**good["attributes"], "roberts.voting_method": "telepathy"},
        },
        {
            **good,
            "attributes": {**good["attributes"], "roberts.mood": "grumpy", "http.method": "GET"},
        },
        {**good, "attributes": {**good["attributes"], "scrum.velocity": 3.0}},
    ]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    result = CliRunner().invoke(cli, ["semconv", "check", str(path)])
    assert result.exit_code == 1
    out = result.output.splitlines()
    out[6] = out[6][: out[6].index("not JSON") + len("not JSON")]  # orjson's wording varies
    assert out == [
        f"{path}:2 span swarmsh.roberts.impeach: unknown span name 'swarmsh.roberts.impeach'",
        f"{path}:3 span swarmsh.roberts.second: missing required attribute roberts.motion_id",
        f"{path}:4 span swarmsh.roberts.second: attribute roberts.motion_id should be string, not int 42",
        f"{path}:5 span swarmsh.roberts.vote: attribute roberts.voting_method is 'telepathy', "
        "not one of voice, ballot, roll-call, show-of-hands",
        f"{path}:6 span swarmsh.roberts.second: unknown attribute roberts.mood",
        f"{path}:7 span swarmsh.roberts.second: attribute scrum.velocity is not defined for this span",
        f"{path}:8 span ?: malformed line: not JSON",
        "7 spans checked, 7 problems",
    ]


def test_usage_errors() -> None:
    result = CliRunner().invoke(cli, ["semconv", "check", "/no/such/file"])
    assert result.exit_code == 2 and "does not exist" in result.output
    assert CliRunner().invoke(cli, ["semconv", "check", "--help"]).exit_code == 0


def test_values_outside_the_registry_bounds_are_reported(tmp_path: Path) -> None:
    close = {
        "name": "swarmsh.roberts.close",
        "trace_id": "a" * 32,
        "span_id": "b" * 16,
        "timestamp": 1.0,
        "attributes": {
            "swarm.agent": "roberts",
            "swarm.trigger": "close",
            "roberts.motion_id": "m",
            "roberts.votes.yes": -1,
            "roberts.votes.no": 2,
            "roberts.votes.abstain": 0,
            "roberts.threshold": "majority",
            "roberts.result": "passed",
            "swarm.loop.depth": 10**7,
        },
    }
    second = {**close, "name": "swarmsh.roberts.second"}
    second["attributes"] = {
        "swarm.agent": "roberts",
        "swarm.trigger": "second",
        "roberts.motion_id": "a b",
    }
    path = tmp_path / "bounds.jsonl"
    path.write_text(json.dumps(close) + "\n" + json.dumps(second) + "\n")
    result = CliRunner().invoke(cli, ["semconv", "check", str(path)])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{path}:1 span swarmsh.roberts.close: attribute roberts.votes.yes is -1, "
        "below the minimum 0",
        f"{path}:1 span swarmsh.roberts.close: attribute swarm.loop.depth is 10000000, "
        "above the maximum 999999",
        f"{path}:2 span swarmsh.roberts.second: attribute roberts.motion_id is 'a b', "
        r"which does not match ^[A-Za-z0-9](?:\.?[A-Za-z0-9_:@-])*\.?$",
        "2 spans checked, 3 problems",
    ]
