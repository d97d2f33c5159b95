"""The executor and trace context in the environment: its own TRACEPARENT never re-parents a
command, and what a command starts inherits the command's span context (restored after)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import click
import pytest

from swarmsh.bus.records import NextCommand
from swarmsh.cli.context import command_span
from swarmsh.config import Paths
from swarmsh.executor.invoke import EXECUTED, run_command
from swarmsh.executor.runner import Executor
from swarmsh.telemetry import setup_telemetry
from tests.conftest import read_jsonl
from tests.executor.test_executor import SOURCE, TRACE, drain, enqueue, next_command, spans_for

FOREIGN = "00-11111111111111111111111111111111-2222222222222222-01"


def test_an_env_traceparent_does_not_reparent_a_command(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACEPARENT", FOREIGN)
    monkeypatch.setenv("TRACESTATE", "foreign=1")
    paths = Paths(home)
    executor = Executor(paths, setup_telemetry("swarmsh-executor", paths.bus, otlp=False))
    try:
        enqueue(home, next_command("c1"))
        drain(executor)
    finally:
        executor.close()
    execute, plan = sorted(spans_for(home, "c1"), key=lambda s: s["name"])
    assert (execute["trace_id"], execute["parent_span_id"]) == (TRACE, SOURCE)
    assert (plan["trace_id"], plan["parent_span_id"]) == (TRACE, execute["span_id"])
    assert os.environ["TRACEPARENT"] == FOREIGN and os.environ["TRACESTATE"] == "foreign=1"


def _root(seen: dict[str, str]) -> click.Group:
    """A CLI with two commands that start a real program and keep what it printed: one
    inside its command span, one with no span of its own."""

    def printed() -> str:
        script = 'printf "%s|%s" "$TRACEPARENT" "${TRACESTATE-unset}"'
        return subprocess.run(["sh", "-c", script], capture_output=True, text=True).stdout

    @click.group()
    def root() -> None:
        pass

    @root.command("spawn")
    def spawn() -> None:
        with command_span("roberts", "second", {"roberts.motion_id": "m"}, "spawned") as span:
            seen["span"] = format(span.get_span_context().span_id, "016x")
            seen["printed"] = printed()

    @root.command("bare")
    def bare() -> None:
        seen["printed"] = printed()

    return root


@pytest.mark.parametrize("inherited", [None, FOREIGN])
def test_a_program_a_command_starts_inherits_the_command_s_context(
    home: Path, monkeypatch: pytest.MonkeyPatch, inherited: str | None
) -> None:
    if inherited:
        monkeypatch.setenv("TRACEPARENT", inherited)
    else:
        monkeypatch.delenv("TRACEPARENT", raising=False)
    monkeypatch.delenv("TRACESTATE", raising=False)
    paths = Paths(home)
    telemetry = setup_telemetry("swarmsh-executor", paths.bus, otlp=False)
    command = NextCommand.from_dict(next_command("c1"))
    seen: dict[str, str] = {}
    run = run_command(_root(seen), telemetry, str(home), command, ["spawn"], 1)
    telemetry.flush_bus()
    assert run.outcome == EXECUTED, run.error
    assert seen["printed"] == f"00-{TRACE}-{seen['span']}-01|unset"
    (cli_span,) = [s for s in read_jsonl(home / "spans.jsonl") if s["span_id"] == seen["span"]]
    assert cli_span["trace_id"] == TRACE
    assert os.environ.get("TRACEPARENT") == inherited and "TRACESTATE" not in os.environ

    # A command with no span of its own: what it starts is a child of the execute span.
    run = run_command(_root(seen), telemetry, str(home), command, ["bare"], 1)
    telemetry.flush_bus()
    execute = [s for s in read_jsonl(home / "spans.jsonl") if s["name"].endswith("execute")][-1]
    assert seen["printed"] == f"00-{TRACE}-{execute['span_id']}-01|unset"
    assert os.environ.get("TRACEPARENT") == inherited
