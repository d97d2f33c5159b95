"""The agent runner in-process, driven by explicit polls: spans in, commands and spans out."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from swarmsh.agents import lean, roberts, scrum
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


# -- no input may stop an agent (issue 10, item 2) ------------------------------------------


def _raises_for_bomb(span, states, settings):  # type: ignore[no-untyped-def]
    if span.roberts_motion_id == "bomb":
        raise ZeroDivisionError("boom")
    return roberts.AGENT.rules["second"](span, states, settings)


def _keys_raise_for_bomb(span):  # type: ignore[no-untyped-def]
    if span.roberts_motion_id == "bomb":
        raise KeyError("no key for a bomb")
    return roberts.AGENT.keys["vote"](span)


def _describe_raises_for_bomb(span):  # type: ignore[no-untyped-def]
    if getattr(span, "roberts_motion_id", None) == "bomb":
        raise ValueError("cannot describe a bomb")
    return roberts.AGENT.describe(span)


def _unstorable_for_bomb(span, states, settings):  # type: ignore[no-untyped-def]
    from swarmsh.agents.base import EntityState, Outcome

    if span.roberts_motion_id == "bomb":
        return Outcome("IDLE", "OPEN", {("not", "a", "str"): EntityState("OPEN")})
    return roberts.AGENT.rules["second"](span, states, settings)


def _list_args_for_bomb(span, states, settings):  # type: ignore[no-untyped-def]
    from swarmsh.agents.base import CommandRequest, Outcome

    if span.roberts_motion_id == "bomb":
        return Outcome("IDLE", "OPEN", {}, (CommandRequest("r", "swarmsh.x.y", ["a"], "why"),))  # type: ignore[arg-type]
    return roberts.AGENT.rules["second"](span, states, settings)


def _unhashable_keys_for_bomb(span):  # type: ignore[no-untyped-def]
    if span.roberts_motion_id == "bomb":
        return (["a", "list"],)
    return roberts.AGENT.keys["second"](span)


@pytest.mark.parametrize(
    ("changes", "trigger", "why"),
    [
        ({"rules": {**roberts.AGENT.rules, "second": _raises_for_bomb}}, "second", "ZeroDivision"),
        (
            {"rules": {**roberts.AGENT.rules, "second": _unstorable_for_bomb}},
            "second",
            "cannot be stored",
        ),
        (
            {"rules": {**roberts.AGENT.rules, "second": _list_args_for_bomb}},
            "second",
            "its args (a mapping)",
        ),
        (
            {"keys": {**roberts.AGENT.keys, "second": _unhashable_keys_for_bomb}},
            "second",
            "keys must be str",
        ),
        ({"keys": {**roberts.AGENT.keys, "second": _keys_raise_for_bomb}}, "second", "KeyError"),
        ({"describe": _describe_raises_for_bomb}, "second", "cannot describe a bomb"),
    ],
)
def test_an_exception_from_the_agents_code_dead_letters_that_span_and_the_agent_goes_on(
    home: Path, changes: dict, trigger: str, why: str
) -> None:
    import dataclasses

    agent = dataclasses.replace(roberts.AGENT, **changes)
    write_spans(home / "spans.jsonl", motion_cycle("m1", "board", 1, "t")[:1])
    write_spans(
        home / "spans.jsonl", [(f"swarmsh.roberts.{trigger}", {"roberts.motion_id": "bomb"})]
    )
    write_spans(home / "spans.jsonl", motion_cycle("m1", "board", 1, "t")[1:2])
    runner = make_runner(home, agent)
    drain(runner)
    [letter] = read_jsonl(home / "deadletter" / "roberts.jsonl")
    assert why in letter["reason"] and "swarmsh.roberts.second" in letter["reason"]
    assert runner.store.entities()["motion:m1"].state == "SECONDED"  # the next span was handled
    assert runner.store.counters() == {"handled": 2, "commands": 1, "rule_failures": 1}
    iterations = [
        r for r in read_jsonl(home / "spans.jsonl") if r["name"] == "swarm.loop.iteration"
    ]
    assert len(iterations) == 2  # none for the span that failed


def test_a_negative_vote_count_is_dead_lettered_not_fatal(home: Path) -> None:
    cycle = motion_cycle("m1", "board", 1, "t")
    poison = ("swarmsh.roberts.close", {**cycle[3][1], "roberts.votes.no": -3})
    write_spans(home / "spans.jsonl", [*cycle[:3], poison, cycle[3]])
    runner = make_runner(home, roberts.AGENT)
    drain(runner)
    [letter] = read_jsonl(home / "deadletter" / "roberts.jsonl")
    assert "roberts.votes.no" in letter["reason"]
    assert runner.store.entities()["motion:m1"].state == "PASSED"


# -- what a span's status means to an agent (issue 10, item 20) ------------------------------


def _raw_span(name: str, attributes: dict, status: str, span_id: str) -> bytes:
    from swarmsh.bus.records import dumps_line

    group, trigger = name.split(".")[1:]
    return dumps_line(
        {
            "name": name,
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "span_id": span_id,
            "parent_span_id": None,
            "timestamp": 1764000000.0,
            "duration_ms": 1.0,
            "status": status,
            "attributes": {"swarm.agent": group, "swarm.trigger": trigger, **attributes},
        }
    )


OPEN = {"roberts.motion_id": "m", "roberts.meeting_id": "board", "roberts.motion.kind": "general"}
PLAN = {"scrum.sprint_number": 1, "scrum.team_id": "t"}
DEFINE = {"lean.project_id": "p", "lean.phase": "define", "lean.problem_statement": "x"}


@pytest.mark.parametrize(
    ("agent", "span", "key", "status", "state", "counters", "letters"),
    [
        (roberts.AGENT, ("swarmsh.roberts.open", OPEN), "motion:m", "OK", "OPEN", "handled", 0),
        (roberts.AGENT, ("swarmsh.roberts.open", OPEN), "motion:m", "UNSET", "OPEN", "handled", 0),
        (
            roberts.AGENT,
            ("swarmsh.roberts.open", OPEN),
            "motion:m",
            "ERROR",
            None,
            "failed_actions",
            0,
        ),
        (roberts.AGENT, ("swarmsh.roberts.open", OPEN), "motion:m", "MAYBE", None, "malformed", 1),
        (roberts.AGENT, ("swarmsh.roberts.open", OPEN), "motion:m", "ok", None, "malformed", 1),
        (scrum.AGENT, ("swarmsh.scrum.plan", PLAN), "sprint:t:1", "OK", "PLANNING", "handled", 0),
        (
            scrum.AGENT,
            ("swarmsh.scrum.plan", PLAN),
            "sprint:t:1",
            "UNSET",
            "PLANNING",
            "handled",
            0,
        ),
        (
            scrum.AGENT,
            ("swarmsh.scrum.plan", PLAN),
            "sprint:t:1",
            "ERROR",
            None,
            "failed_actions",
            0,
        ),
        (scrum.AGENT, ("swarmsh.scrum.plan", PLAN), "sprint:t:1", "", None, "malformed", 1),
        (lean.AGENT, ("swarmsh.lean.define", DEFINE), "project:p", "OK", "DEFINE", "handled", 0),
        (lean.AGENT, ("swarmsh.lean.define", DEFINE), "project:p", "UNSET", "DEFINE", "handled", 0),
        (
            lean.AGENT,
            ("swarmsh.lean.define", DEFINE),
            "project:p",
            "ERROR",
            None,
            "failed_actions",
            0,
        ),
        (lean.AGENT, ("swarmsh.lean.define", DEFINE), "project:p", "FAILED", None, "malformed", 1),
    ],
)
def test_what_each_status_means_to_each_agent(
    home: Path,
    agent: Agent,
    span: tuple[str, dict],
    key: str,
    status: str,
    state: str | None,
    counters: str,
    letters: int,
) -> None:
    from swarmsh.bus.writer import JsonlWriter

    JsonlWriter(home / "spans.jsonl").append([_raw_span(*span, status, "00f067aa0ba902b7")])
    runner = make_runner(home, agent)
    drain(runner)
    assert {k: e.state for k, e in runner.store.entities().items() if k == key} == (
        {key: state} if state else {}
    )
    assert counters in runner.store.counters()
    assert len(read_jsonl(home / "deadletter" / f"{agent.name}.jsonl")) == letters
    if letters:
        assert "status" in read_jsonl(home / "deadletter" / f"{agent.name}.jsonl")[0]["reason"]


@pytest.mark.parametrize(
    ("changes", "attributes", "accepted"),
    [
        ({"timestamp": 2.0**32, "duration_ms": 2.0**32 * 1000}, {}, True),
        ({"timestamp": 0.0}, {"swarm.loop.depth": 999_999}, True),
        ({}, {"swarm.loop.depth": 0}, True),
        ({}, {"swarm.loop.depth": -5}, False),
        ({}, {"swarm.loop.depth": 2**64}, False),  # written as a string by our own writer
        ({"timestamp": 1e300}, {}, False),
        ({"timestamp": 1.7e308, "duration_ms": 1.7e308}, {}, False),
    ],
)
def test_every_record_a_reader_accepts_gives_a_command_the_executor_can_read(
    home: Path, changes: dict, attributes: dict, accepted: bool
) -> None:
    """Odd but accepted numbers used to give commands the executor could not parse, and the
    meeting stayed CALLING for good (issue 10, item 19). Now a record is either refused
    (dead-lettered, nothing changes) or everything it leads to is valid."""
    import json

    from swarmsh.bus.records import NextCommand, dumps_line
    from swarmsh.bus.writer import JsonlWriter
    from swarmsh.cli import cli
    from swarmsh.executor.validate import build_argv

    raw = json.loads(_raw_span("swarmsh.roberts.open", {**OPEN, **attributes}, "OK", "1" * 16))
    JsonlWriter(home / "spans.jsonl").append([dumps_line({**raw, **changes})])
    runner = make_runner(home, roberts.AGENT)
    drain(runner)
    lines = (home / "commands.jsonl").read_bytes().splitlines() if accepted else []
    assert lines or not (home / "commands.jsonl").exists()
    for line in lines:
        command = NextCommand.from_json(line)
        assert command.depth == attributes.get("swarm.loop.depth", 0) + 1
        build_argv(cli, command.command, command.args)
    meeting = runner.store.entities().get("meeting:board")
    assert (meeting.state if meeting else None) == ("CALLING" if accepted else None)
    assert len(read_jsonl(home / "deadletter" / "roberts.jsonl")) == (0 if accepted else 1)


def test_a_position_past_only_other_agents_lines_is_committed_at_most_once_a_second(
    home: Path,
) -> None:
    """A busy bus of other services' spans must not cost the agent a commit (an fsync) per
    read, or the hops beside them wait behind those; the position still lands soon after."""
    import time

    write_spans(home / "spans.jsonl", motion_cycle("a", "board", 1, "t"))
    runner = make_runner(home, roberts.AGENT)
    commits: list[float] = []
    commit = runner.store.commit

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        commits.append(time.monotonic())
        return commit(*args, **kwargs)

    runner.store.commit = counted  # type: ignore[method-assign]
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,))
    thread.start()
    try:
        for sprint in range(30):  # 30 reads' worth of scrum spans over ≈ 1.2 s
            write_spans(
                home / "spans.jsonl",
                [
                    (
                        "swarmsh.scrum.daily",
                        {"scrum.sprint_number": sprint + 1, "scrum.team_id": "t"},
                    )
                ],
            )
            time.sleep(0.04)
        size = (home / "spans.jsonl").stat().st_size
        deadline = time.monotonic() + 5
        while runner.store.load_position("roberts")["offset"] != size:
            assert time.monotonic() < deadline, "the position past the others' lines never landed"
            time.sleep(0.05)
    finally:
        stop.set()
        runner.wakeup()
        thread.join(10)
    # the motion's batches, then about one commit a second (one per read would be ≈ 30)
    assert len(commits) <= 6, f"{len(commits)} commits for 30 reads of others' lines"
    runner.close()
