"""`swarmsh tail` and `swarmsh trace` against a real bus written by the CLI and an agent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from click.testing import CliRunner

from swarmsh.agents import roberts
from swarmsh.bus.records import SpanRecord
from swarmsh.cli import cli
from swarmsh.cli.tail import format_line
from tests.agents.test_runner import drain, make_runner
from tests.conftest import read_jsonl


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def scenario(home: Path) -> None:
    for argv in (
        [
            "roberts",
            "open",
            "s1",
            "--kind",
            "sprint",
            "--sprint",
            "1",
            "--team",
            "a",
            "--meeting",
            "board",
        ],
        ["roberts", "second", "s1"],
        ["roberts", "vote", "s1"],
        ["roberts", "close", "s1", "--yes", "5", "--no", "2"],
        ["roberts", "close", "ghost", "--yes", "1", "--no", "0"],
    ):
        run(*argv)
    drain(make_runner(home, roberts.AGENT))


def test_tail_prints_one_readable_line_per_span(home: Path) -> None:
    scenario(home)
    lines = run("tail", "-n", "100").splitlines()
    records = read_jsonl(home / "spans.jsonl")
    assert len(lines) == len(records) == 10
    assert [r["name"] for r in records].index("swarmsh.roberts.close") == 3
    assert "swarmsh.roberts.close" in lines[3] and "motion=s1" in lines[3]
    assert "result=passed 5-2" in lines[3] and "OK" in lines[3]
    assert "\x1b[" not in "".join(lines)  # no colour when piped


def test_tail_filters(home: Path) -> None:
    scenario(home)
    errors = run("tail", "-n", "100", "--status", "error").splitlines()
    assert len(errors) == 1 and "rejected: motion ghost is IDLE" in errors[0]
    agent = run("tail", "-n", "100", "--agent", "roberts", "--name", "swarm.loop").splitlines()
    assert len(agent) == 5
    last_two = run("tail", "-n", "2").splitlines()
    assert len(last_two) == 2
    trace_id = read_jsonl(home / "spans.jsonl")[0]["trace_id"]
    in_trace = run("tail", "-n", "100", "--trace", trace_id).splitlines()
    assert len(in_trace) == 2 and all(trace_id[:8] in line for line in in_trace)


def test_tail_json_round_trips_for_jq(home: Path) -> None:
    scenario(home)
    out = run("tail", "-n", "100", "--json")
    assert [json.loads(line) for line in out.splitlines()] == [
        SpanRecord.from_dict(r).to_dict() for r in read_jsonl(home / "spans.jsonl")
    ]


def test_tail_follow_sees_new_spans_across_rotation(home: Path) -> None:
    run("roberts", "second", "before")
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarmsh", "tail", "-f", "-n", "1", "--json"],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout))  # type: ignore[arg-type]
        reader.start()
        deadline = time.monotonic() + 20
        while not lines and time.monotonic() < deadline:  # the backlog line: tail is following
            reader.join(0.05)
        run("roberts", "second", "one")
        (home / "spans.jsonl").rename(home / "spans.jsonl.1")
        run("roberts", "second", "two")
        while len(lines) < 3 and time.monotonic() < deadline:
            reader.join(0.05)
    finally:
        proc.terminate()
        proc.wait(10)
    motions = [json.loads(line)["attributes"]["roberts.motion_id"] for line in lines]
    assert motions == ["before", "one", "two"]


def test_trace_renders_the_tree_with_orphans(home: Path) -> None:
    scenario(home)
    close = next(
        r
        for r in read_jsonl(home / "spans.jsonl")
        if r["attributes"].get("roberts.motion_id") == "s1" and r["name"] == "swarmsh.roberts.close"
    )
    out = run("trace", close["trace_id"]).splitlines()
    assert out[0] == f"trace {close['trace_id']}  (2 spans)"
    assert out[1].startswith("swarmsh.roberts.close  cli  ")
    assert out[2].startswith("└─ swarm.loop.iteration  roberts  ")
    assert "VOTING→PASSED  → swarmsh.scrum.plan" in out[2]
    # an orphan: a span whose parent never reached the bus is shown at the root, marked
    orphan = {
        **close,
        "span_id": "1" * 16,
        "parent_span_id": "2" * 16,
        "name": "swarmsh.scrum.plan",
        "attributes": {"scrum.sprint_number": 1, "scrum.team_id": "a"},
    }
    with open(home / "spans.jsonl", "a") as fh:
        fh.write(json.dumps(orphan) + "\n")
    out = run("trace", close["trace_id"]).splitlines()
    assert any(
        "swarmsh.scrum.plan" in line and f"orphan: parent {'2' * 16}" in line for line in out
    )


def test_trace_last_and_errors(home: Path) -> None:
    scenario(home)
    last = read_jsonl(home / "spans.jsonl")[-1]
    assert run("trace", "--last").splitlines()[0].startswith(f"trace {last['trace_id']}")
    opened = next(
        r for r in read_jsonl(home / "spans.jsonl") if r["name"] == "swarmsh.roberts.open"
    )
    assert opened["trace_id"] in run("trace", "--last", "--name", "swarmsh.roberts.open")
    result = CliRunner().invoke(cli, ["trace", "f" * 32])
    assert result.exit_code == 1 and "not on the bus" in result.output
    result = CliRunner().invoke(cli, ["trace", "xyz"])
    assert result.exit_code == 2 and "not a trace id" in result.output
    result = CliRunner().invoke(cli, ["trace"])
    assert result.exit_code == 2


def test_format_line_colours_only_for_terminals() -> None:
    record = SpanRecord.from_dict(
        {
            "name": "swarmsh.roberts.second",
            "trace_id": "a" * 32,
            "span_id": "b" * 16,
            "timestamp": 1764000000.5,
            "status": "ERROR",
            "status_message": "boom",
            "attributes": {"roberts.motion_id": "m"},
            "resource": {"service.name": "swarmsh-cli"},
        }
    )
    line = format_line(record)
    assert "swarmsh.roberts.second" in line and "motion=m" in line and "(boom)" in line
