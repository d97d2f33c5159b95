"""The rules agent on the shared runner, in-process: firings on the bus and the queue, links,
quiet windows, dead letters, checkpoints and reloads."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

from swarmsh.agents.rules.agent import RulesRunner
from swarmsh.agents.runner import command_id
from swarmsh.bus.prefilter import NamePrefixFilter
from swarmsh.config import Paths
from swarmsh.semconv.check import check_record
from swarmsh.store import StateStore
from swarmsh.telemetry import setup_telemetry
from tests.agents.helpers import motion_cycle, write_spans
from tests.agents.rules.helpers import write_service_spans
from tests.conftest import read_jsonl

RULEBOOK = """
rules:
  - name: checkout-errors
    match:
      span: "http.server.*"
      status: ERROR
      resource: {service.name: checkout}
    window: {count: 5, within: 60s}
    group_by: [service.name]
    throttle: {once_within: 10m}
    then:
      command: swarmsh.lean.define
      args: {project: "incident-{service.name}", problem: "{count} errors in {http.route}"}
"""

ERR = ("http.server.request", "ERROR")


def make(home: Path, rules_dir: Path, start: str = "beginning") -> RulesRunner:
    paths = Paths(home)
    telemetry = setup_telemetry("swarmsh-rules", paths.bus, otlp=False)
    return RulesRunner([rules_dir], paths, telemetry, start=start)


def drain(runner: RulesRunner) -> None:
    while items := runner.follower.poll(0.05):
        assert runner.process(items, threading.Event())


def book(tmp_path: Path, text: str = RULEBOOK) -> Path:
    directory = tmp_path / "rules"
    directory.mkdir(exist_ok=True)
    (directory / "book.yaml").write_text(text)
    return directory


def errors(times: list[float], route: object = "/orders") -> list:  # type: ignore[type-arg]
    return [(*ERR, t, {"http.route": route}) for t in times]


def test_five_errors_fire_once_in_the_trace_of_the_fifth_linked_to_the_other_four(
    home: Path, tmp_path: Path
) -> None:
    spans = write_service_spans(home / "spans.jsonl", errors([0, 10, 20, 30, 40]))
    write_spans(home / "spans.jsonl", motion_cycle("m", "board", 1, "t"))  # not for us
    runner = make(home, book(tmp_path))
    drain(runner)
    (command,) = read_jsonl(home / "commands.jsonl")
    fifth = spans[4]
    assert command["id"] == command_id("rules", fifth.span_id, "checkout-errors")
    assert command["command"] == "swarmsh.lean.define"
    assert command["args"] == {"project": "incident-checkout", "problem": "5 errors in /orders"}
    assert command["agent"] == "rules" and command["depth"] == 1
    iterations = [
        r for r in read_jsonl(home / "spans.jsonl") if r["name"] == "swarm.loop.iteration"
    ]
    (iteration,) = iterations  # the four that only advanced the window wrote no span
    assert iteration["trace_id"] == fifth.trace_id
    assert iteration["parent_span_id"] == fifth.span_id
    assert command["traceparent"] == f"00-{fifth.trace_id}-{iteration['span_id']}-01"
    assert [(link["trace_id"], link["span_id"]) for link in iteration["links"]] == [
        (s.trace_id, s.span_id) for s in spans[:4]
    ]
    assert iteration["attributes"]["swarm.rule.name"] == "checkout-errors"
    assert iteration["attributes"]["swarm.rule.group"] == "service.name=checkout"
    assert iteration["attributes"]["swarm.rule.count"] == 5
    assert iteration["attributes"]["swarm.trigger"] == "checkout-errors"
    assert check_record(iteration) == []  # the registry knows swarm.rule.*
    runner.close()
    with StateStore(home / "state" / "rules.db") as store:
        assert store.counters() == {"advanced": 4, "handled": 1, "commands": 1}


def test_a_window_survives_a_restart_at_the_checkpoint(home: Path, tmp_path: Path) -> None:
    rules_dir = book(tmp_path)
    write_service_spans(home / "spans.jsonl", errors([0, 10, 20]))
    runner = make(home, rules_dir)
    drain(runner)
    runner.close()
    spans = write_service_spans(home / "spans.jsonl", errors([30, 40]))
    runner = make(home, rules_dir, start="checkpoint")
    drain(runner)
    runner.close()
    (command,) = read_jsonl(home / "commands.jsonl")
    assert command["id"] == command_id("rules", spans[-1].span_id, "checkout-errors")


def test_the_same_bus_twice_fires_the_same_command_ids(home: Path, tmp_path: Path) -> None:
    rules_dir = book(tmp_path)
    times = [i * 7.0 for i in range(300)]  # throttled every 10 minutes: several firings
    write_service_spans(home / "spans.jsonl", errors(times))
    other = tmp_path / "other"
    shutil.copytree(home, other)
    for where in (home, other):
        runner = make(where, rules_dir)
        drain(runner)
        runner.close()
    first = [c["id"] for c in read_jsonl(home / "commands.jsonl")]
    assert len(first) == 4  # 300 spans 7 s apart: 2,093 s, a firing each 10 minutes
    assert first == [c["id"] for c in read_jsonl(other / "commands.jsonl")]


def test_bad_input_never_stops_the_agent(home: Path, tmp_path: Path) -> None:
    rules_dir = book(tmp_path)
    bad = [
        (*ERR, 0, {"http.route": 42}),  # wrong type: substituted as text
        (*ERR, 1, {"http.route": ["a", "b"]}),
        (*ERR, 2, {"http.route": "x" * 100_000}),  # huge: cut to 1,000 characters
        (*ERR, 3, {}),  # missing a field of the action: counts, but this firing...
        (*ERR, 4, {}),  # ...the fifth: dead-lettered, the field is missing
        (*ERR, 700, {"http.route": "\x1b[2J"}),
    ]
    write_service_spans(home / "spans.jsonl", bad)
    with open(home / "spans.jsonl", "ab") as handle:
        handle.write(b'{"name": "http.server.x", "status": 7}\n')  # not a span record
    runner = make(home, rules_dir)
    drain(runner)
    runner.close()
    dead = read_jsonl(home / "deadletter" / "rules.jsonl")
    assert [d["reason"] for d in dead][-1] == (
        "rule checkout-errors: field {http.route} is missing from the span"
    )
    assert len(dead) == 2
    assert read_jsonl(home / "commands.jsonl") == []  # the 700 s span opened a new window


def test_sighup_style_reload_keeps_the_old_rules_when_the_new_file_is_broken(
    home: Path, tmp_path: Path
) -> None:
    rules_dir = book(tmp_path)
    runner = make(home, rules_dir, start="end")
    (rules_dir / "book.yaml").write_text("rules: [{name: broken}]\n")
    assert runner.reload() is False
    assert [r.name for r in runner.rules] == ["checkout-errors"]
    write_service_spans(home / "spans.jsonl", errors([0, 1, 2, 3, 4]))
    drain(runner)
    assert len(read_jsonl(home / "commands.jsonl")) == 1
    (rules_dir / "book.yaml").write_text(RULEBOOK.replace("count: 5", "count: 2"))
    runner.request_reload()
    runner.before_poll()
    assert runner.rules[0].rule.window.count == 2  # type: ignore[union-attr]
    write_service_spans(home / "spans.jsonl", errors([700, 701]))  # after the throttle
    drain(runner)
    assert len(read_jsonl(home / "commands.jsonl")) == 2
    runner.close()


def test_a_rule_without_a_name_constraint_reads_every_line(home: Path, tmp_path: Path) -> None:
    text = RULEBOOK.replace('      span: "http.server.*"\n', "")
    runner = make(home, book(tmp_path, text), start="end")
    assert runner.follower.accept is None
    assert isinstance(make(home / "h2", book(tmp_path)).follower.accept, NamePrefixFilter)
    write_service_spans(
        home / "spans.jsonl", [("GET", "ERROR", t, {"http.route": "/"}) for t in range(5)]
    )
    drain(runner)
    assert len(read_jsonl(home / "commands.jsonl")) == 1
    runner.close()
