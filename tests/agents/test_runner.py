"""The agent runner in-process, driven by explicit polls: spans in, commands and spans out."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from swarmsh.agents import roberts, scrum
from swarmsh.agents import runner as runner_module
from swarmsh.agents.base import Agent
from swarmsh.agents.runner import AgentRunner, command_id
from swarmsh.config import Paths
from swarmsh.telemetry import setup_telemetry
from tests.agents.helpers import motion_cycle, write_spans
from tests.conftest import read_jsonl


def make_runner(home: Path, agent: Agent, start: str = "beginning") -> AgentRunner:
    paths = Paths(home)
    telemetry = setup_telemetry(f"swarmsh-{agent.name}", paths.bus, otlp=False)
    return AgentRunner(agent, paths, telemetry, start=start)


def drain(runner: AgentRunner) -> None:
    while items := runner.follower.poll(0.05):
        assert runner.process(items, threading.Event())


def test_open_in_a_meeting_not_in_session_asks_for_call_to_order(home: Path) -> None:
    [open_id] = write_spans(home / "spans.jsonl", motion_cycle("m1", "board", 1, "t")[:1])
    runner = make_runner(home, roberts.AGENT)
    drain(runner)
    [command] = read_jsonl(home / "commands.jsonl")
    source = next(r for r in read_jsonl(home / "spans.jsonl") if r["span_id"] == open_id)
    iteration = next(
        r for r in read_jsonl(home / "spans.jsonl") if r["name"] == "swarm.loop.iteration"
    )
    assert command["id"] == command_id("roberts", open_id, "call-to-order")
    assert command["command"] == "swarmsh.roberts.call-to-order"
    assert command["args"] == {"meeting": "board"}
    assert command["depth"] == 1
    assert command["source"] == {
        "trace_id": source["trace_id"],
        "span_id": open_id,
        "end": pytest.approx(source["timestamp"] + source["duration_ms"] / 1000),
    }
    assert command["traceparent"] == f"00-{source['trace_id']}-{iteration['span_id']}-01"
    assert iteration["trace_id"] == source["trace_id"]
    assert iteration["parent_span_id"] == open_id
    assert iteration["status"] == "OK"
    assert iteration["attributes"] == {
        "swarm.agent": "roberts",
        "swarm.trigger": "open",
        "swarm.state.from": "IDLE",
        "swarm.state.to": "OPEN",
        "swarm.loop.depth": 0,
        "roberts.motion_id": "m1",
        "roberts.meeting_id": "board",
        "swarm.command": "swarmsh.roberts.call-to-order",
        "swarm.command.id": command["id"],
    }
    assert iteration["resource"]["service.name"] == "swarmsh-roberts"
    assert runner.store.entities()["motion:m1"].state == "OPEN"


def test_a_passed_sprint_motion_plans_the_sprint_with_the_remembered_team(home: Path) -> None:
    ids = write_spans(home / "spans.jsonl", motion_cycle("s7", "board", 7, "beta"))
    runner = make_runner(home, roberts.AGENT)
    drain(runner)
    commands = read_jsonl(home / "commands.jsonl")
    assert [c["command"] for c in commands] == [
        "swarmsh.roberts.call-to-order",
        "swarmsh.scrum.plan",
    ]
    assert commands[1]["args"] == {"sprint": 7, "team": "beta"}
    assert commands[1]["id"] == command_id("roberts", ids[3], "sprint-plan")
    assert commands[1]["reason"] == "motion s7 passed 5-2"
    assert runner.store.entities()["motion:s7"].state == "PASSED"
    assert runner.store.counters() == {"handled": 4, "commands": 2}


def test_a_cache_smaller_than_the_batch_still_gives_every_entity_its_state(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner_module, "CACHE_ENTRIES", 2)
    cycles = [motion_cycle(f"s{i}", f"meeting{i}", i, f"team{i}") for i in range(1, 6)]
    write_spans(home / "spans.jsonl", [step for cycle in cycles for step in cycle])
    runner = make_runner(home, roberts.AGENT)
    runner.follower.chunk_size, runner.follower.batch_records = 4096, 1  # several batches
    drain(runner)
    plans = [c for c in read_jsonl(home / "commands.jsonl") if c["command"] == "swarmsh.scrum.plan"]
    assert sorted((c["args"]["sprint"], c["args"]["team"]) for c in plans) == [
        (i, f"team{i}") for i in range(1, 6)
    ]
    assert {k: e.state for k, e in runner.store.entities().items() if k.startswith("motion")} == {
        f"motion:s{i}": "PASSED" for i in range(1, 6)
    }


def test_out_of_order_event_is_an_error_span_and_nothing_changes(home: Path) -> None:
    [close_id] = write_spans(home / "spans.jsonl", motion_cycle("x", "board", 1, "t")[3:])
    runner = make_runner(home, roberts.AGENT)
    drain(runner)
    [iteration] = [
        r for r in read_jsonl(home / "spans.jsonl") if r["name"] == "swarm.loop.iteration"
    ]
    assert iteration["parent_span_id"] == close_id
    assert iteration["status"] == "ERROR"
    assert "motion x is IDLE, not VOTING" in iteration["attributes"]["swarm.rejection.reason"]
    assert not (home / "commands.jsonl").exists()
    assert runner.store.entities() == {}
    assert runner.store.counters() == {"rejected": 1}


def test_unknown_span_name_under_the_prefix_is_dead_lettered(home: Path) -> None:
    write_spans(home / "spans.jsonl", [("swarmsh.roberts.impeach", {"roberts.motion_id": "m"})])
    write_spans(home / "spans.jsonl", [("swarmsh.roberts.second", {})])  # missing motion id
    runner = make_runner(home, roberts.AGENT)
    drain(runner)
    letters = read_jsonl(home / "deadletter" / "roberts.jsonl")
    assert [d["reason"].split(":")[0] for d in letters] == [
        "unknown span name 'swarmsh.roberts.impeach' for agent roberts",
        "attributes do not fit swarmsh.roberts.second",
    ]
    assert "roberts.motion_id" in letters[1]["reason"]


def test_restart_resumes_at_the_checkpoint(home: Path) -> None:
    write_spans(home / "spans.jsonl", motion_cycle("a", "board", 1, "t"))
    drain(first := make_runner(home, roberts.AGENT))
    first.close()
    write_spans(home / "spans.jsonl", motion_cycle("b", "board", 2, "t"))
    second = make_runner(home, roberts.AGENT, start="checkpoint")
    drain(second)
    commands = read_jsonl(home / "commands.jsonl")
    assert [c["args"] for c in commands] == [
        {"meeting": "board"},
        {"sprint": 1, "team": "t"},
        {"sprint": 2, "team": "t"},
    ]
    assert second.store.counters()["handled"] == 8


def test_first_start_begins_at_the_end_of_the_bus(home: Path) -> None:
    write_spans(home / "spans.jsonl", motion_cycle("old", "board", 1, "t"))
    runner = make_runner(home, scrum.AGENT, start="checkpoint")
    drain(runner)
    assert runner.store.counters() == {}
    write_spans(
        home / "spans.jsonl",
        [("swarmsh.scrum.plan", {"scrum.sprint_number": 3, "scrum.team_id": "t"})],
    )
    drain(runner)
    assert runner.store.entities()["sprint:t:3"].state == "PLANNING"


def test_the_ping_example_agent(home: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "ping_agent", Path(__file__).parents[2] / "examples" / "ping_agent.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    write_spans(
        home / "spans.jsonl",
        [
            ("swarmsh.scrum.plan", {"scrum.sprint_number": 1, "scrum.team_id": "t"}),
            ("swarmsh.scrum.daily", {"scrum.sprint_number": 1, "scrum.team_id": "t"}),
            (
                "swarmsh.scrum.daily",
                {"scrum.sprint_number": 1, "scrum.team_id": "t", "scrum.blockers": ["ci down"]},
            ),
        ],
    )
    runner = make_runner(home, module.AGENT)
    drain(runner)
    [command] = read_jsonl(home / "commands.jsonl")
    assert command["command"] == "swarmsh.roberts.call-to-order"
    assert command["args"] == {"meeting": "standup-t"}
    assert runner.store.entities()["team:t"].state == "ESCALATED"
    assert not (home / "deadletter").exists()  # plan is known, merely not its business
