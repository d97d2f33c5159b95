"""The executor in-process and as a real process: exactly once, refusals, retries, crashes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import click
import pytest

from swarmsh.bus.records import dumps_line
from swarmsh.config import Paths
from swarmsh.executor.runner import Executor
from swarmsh.store import StateStore
from swarmsh.telemetry import setup_telemetry
from tests.conftest import read_jsonl

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SOURCE = "00f067aa0ba902b7"


def next_command(
    cid: str,
    command: str = "swarmsh.scrum.plan",
    args: dict[str, Any] | None = None,
    depth: int = 1,
) -> dict[str, Any]:
    return {
        "id": cid,
        "command": command,
        "args": {"sprint": 42, "team": "alpha"} if args is None else args,
        "reason": "test",
        "agent": "roberts",
        "source": {"trace_id": TRACE, "span_id": SOURCE, "end": time.time()},
        "traceparent": f"00-{TRACE}-{SOURCE}-01",
        "depth": depth,
        "created_at": time.time(),
    }


def enqueue(home: Path, *commands: dict[str, Any]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "commands.jsonl", "ab") as fh:
        for c in commands:
            fh.write(dumps_line(c))


def spans_for(home: Path, cid: str) -> list[dict[str, Any]]:
    return [
        s
        for s in read_jsonl(home / "spans.jsonl")
        if s["attributes"].get("swarm.command.id") == cid
    ]


@pytest.fixture
def executor(home: Path):  # type: ignore[no-untyped-def]
    paths = Paths(home)
    telemetry = setup_telemetry("swarmsh-executor", paths.bus, otlp=False)
    ex = Executor(paths, telemetry, backoff_base=0.01)
    yield ex
    ex.close()


def letter_command_id(letter: dict[str, Any]) -> str:
    """The id of the command in a dead letter's line head."""
    found = re.search(r"""["']id["']:\s*["']([^"']+)""", letter["line"])
    assert found, letter
    return found.group(1)


def drain(ex: Executor) -> None:
    stop = threading.Event()
    while items := ex.follower.poll(0.05):
        for command, position in items:
            assert ex.handle(command, position, stop)


def test_a_command_runs_under_its_execute_span_in_the_source_trace(
    home: Path, executor: Executor
) -> None:
    enqueue(home, next_command("c1"))
    drain(executor)
    execute, plan = sorted(spans_for(home, "c1"), key=lambda s: s["name"])
    assert execute["name"] == "swarmsh.command.execute"
    assert execute["trace_id"] == TRACE and execute["parent_span_id"] == SOURCE
    assert execute["attributes"] == {
        "swarm.agent": "roberts",
        "swarm.command": "swarmsh.scrum.plan",
        "swarm.command.id": "c1",
        "swarm.loop.depth": 1,
        "swarm.command.attempt": 1,
        "swarm.command.outcome": "executed",
    }
    assert plan["name"] == "swarmsh.scrum.plan"
    assert plan["parent_span_id"] == execute["span_id"]
    assert plan["attributes"]["scrum.sprint_number"] == 42
    assert plan["attributes"]["swarm.loop.depth"] == 1
    assert plan["resource"]["service.name"] == "swarmsh-executor"
    assert executor.store.command("c1").status == "executed"  # type: ignore[union-attr]


def test_a_duplicate_id_runs_once(home: Path, executor: Executor) -> None:
    enqueue(home, next_command("dup"), next_command("dup"), next_command("dup"))
    drain(executor)
    assert len(spans_for(home, "dup")) == 2  # one execute + one CLI span
    assert executor.store.counters() == {"executed": 1, "duplicates": 2}


@pytest.mark.parametrize(
    ("command", "why"),
    [
        (next_command("u", command="swarmsh.roberts.impeach", args={}), "unknown command"),
        (next_command("s", args={"sprint": 42, "team": "a; rm -rf /"}), "not a valid id"),
        (next_command("o", args={"sprint": 42, "team": "--home=/etc"}), "read as an option"),
        (next_command("h", args={"sprint": 42, "team": "a", "home": "/etc"}), "no argument 'home'"),
        (next_command("d", depth=17), "exceeds SWARMSH_MAX_DEPTH=16"),
        (
            next_command(
                "k",
                command="swarmsh.roberts.open",
                args={"motion": "m", "meeting": "b", "kind": "sprint"},
            ),
            "--sprint",
        ),
    ],
)
def test_refused_commands_are_dead_lettered_with_an_error_span(
    home: Path, executor: Executor, command: dict[str, Any], why: str
) -> None:
    enqueue(home, command)
    drain(executor)
    [rejected] = [
        s for s in read_jsonl(home / "spans.jsonl") if s["name"] == "swarmsh.command.rejected"
    ]
    assert rejected["status"] == "ERROR"
    assert why in rejected["attributes"]["swarm.rejection.reason"]
    assert rejected["trace_id"] == TRACE
    [letter] = read_jsonl(home / "deadletter" / "executor.jsonl")
    assert letter_command_id(letter) == command["id"]
    assert why in letter["reason"]
    assert not [
        s for s in read_jsonl(home / "spans.jsonl") if s["name"].startswith("swarmsh.scrum.")
    ]
    assert executor.store.command(command["id"]).status == "refused"  # type: ignore[union-attr]


def test_malformed_queue_lines_are_dead_lettered_and_the_next_command_runs(
    home: Path, executor: Executor
) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "commands.jsonl").write_bytes(b"not json\n" + json.dumps({"id": 1}).encode() + b"\n")
    enqueue(home, next_command("after"))
    drain(executor)
    assert [d["reason"][:8] for d in read_jsonl(home / "deadletter" / "executor.jsonl")] == [
        "not JSON",
        "field 'i",
    ]
    assert executor.store.command("after").status == "executed"  # type: ignore[union-attr]


# -- real processes --------------------------------------------------------------------


def start_executor(home: Path, **env: str) -> subprocess.Popen[bytes]:
    from tests.failpoint_launch import ENV_FAILPOINTS, launch_argv

    # Crash points can be armed only through the test-only launcher.
    module = "swarmsh.executor"
    return subprocess.Popen(
        launch_argv(module) if ENV_FAILPOINTS in env else [sys.executable, "-m", module],
        env={**os.environ, "SWARMSH_HOME": str(home), "SWARMSH_BACKOFF_BASE_S": "0.05", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_settled(home: Path, cid: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db = home / "state" / "executor.db"
        if db.exists():
            with StateStore(db) as store:
                entry = store.command(cid)
            if entry is not None and entry.status != "started":
                return entry.status
        time.sleep(0.05)
    raise TimeoutError(f"command {cid} not settled")


@pytest.mark.parametrize(
    "failpoint", ["executor-after-intent", "executor-before-flush", "executor-after-flush"]
)
def test_kill_9_mid_command_runs_it_exactly_once(home: Path, failpoint: str) -> None:
    enqueue(home, next_command("crash"))
    proc = start_executor(home, SWARMSH_FAILPOINTS=failpoint)
    assert proc.wait(30) == -signal.SIGKILL
    proc = start_executor(home)
    try:
        assert wait_settled(home, "crash") == "executed"
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    names = sorted(s["name"] for s in spans_for(home, "crash") if s["status"] == "OK")
    assert names == ["swarmsh.command.execute", "swarmsh.scrum.plan"]


def test_a_failing_command_is_retried_then_dead_lettered(home: Path, executor: Executor) -> None:
    """Only the command's own failures count as attempts (no domain command fails on valid
    arguments, so a stand-in CLI group has one that does)."""
    calls = []

    @click.group()
    def root() -> None: ...

    @root.group()
    def scrum() -> None: ...

    @scrum.command()
    @click.argument("sprint", type=int)
    @click.option("--team")
    def plan(sprint: int, team: str) -> None:
        calls.append(sprint)
        raise RuntimeError("the command itself failed")

    executor.root = root
    executor.max_attempts = 3
    enqueue(home, next_command("doomed"))
    drain(executor)
    assert calls == [42, 42, 42]
    [letter] = read_jsonl(home / "deadletter" / "executor.jsonl")
    assert letter["reason"] == "failed 3 times: RuntimeError: the command itself failed"
    assert letter_command_id(letter) == "doomed"
    assert executor.store.command("doomed").status == "deadlettered"  # type: ignore[union-attr]
    attempts = [
        s["attributes"]["swarm.command.attempt"]
        for s in spans_for(home, "doomed")
        if s["name"] == "swarmsh.command.execute"
    ]
    assert attempts == [1, 2, 3]


def test_a_closed_stdout_neither_stops_the_executor_nor_spoils_the_command(home: Path) -> None:
    """When supervisord dies, the executor's stdout is a pipe nobody reads: the in-process
    CLI's words must not reach it (click answers EPIPE with sys.exit mid-command)."""
    reader, writer = os.pipe()
    os.close(reader)  # like a dead supervisord: every write to the pipe fails with EPIPE
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarmsh.executor"],
        env={**os.environ, "SWARMSH_HOME": str(home), "SWARMSH_BACKOFF_BASE_S": "0.05"},
        stdout=writer,
        stderr=writer,
    )
    os.close(writer)
    try:
        enqueue(
            home,
            next_command("first"),
            next_command("second", args={"sprint": 43, "team": "alpha"}),
        )
        assert wait_settled(home, "second") == "executed"
        assert proc.poll() is None, "the executor stopped"
    finally:
        proc.terminate()
        proc.wait(10)
    for cid in ("first", "second"):
        spans = {s["name"]: s["status"] for s in spans_for(home, cid)}
        assert spans == {"swarmsh.command.execute": "OK", "swarmsh.scrum.plan": "OK"}, spans
