"""A batch's commands and iteration spans land once, and before the commit, while the queue's
append runs in a helper thread beside the bus flush; a real failure of either file is retried."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from swarmsh.agents import roberts
from swarmsh.agents.runner import AgentRunner
from swarmsh.config import Paths
from swarmsh.telemetry import setup_telemetry
from tests.agents.helpers import motion_cycle, write_spans
from tests.conftest import read_jsonl

ITERATION = "swarm.loop.iteration"


def make_runner(home: Path) -> AgentRunner:
    paths = Paths(home)
    telemetry = setup_telemetry("swarmsh-roberts", paths.bus, otlp=False)
    return AgentRunner(roberts.AGENT, paths, telemetry, start="beginning")


@pytest.fixture(autouse=True)
def fsync_on(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """fsync on, as deployed: only then does the queue's append run in the helper thread."""
    monkeypatch.setenv("SWARMSH_FSYNC", "always")


class _OnRetry(logging.Handler):
    """Runs `repair` when the runner reports it cannot make the batch durable (the disk is
    then put right before the retry, with no sleep in the test)."""

    def __init__(self, repair: Callable[[], None]) -> None:
        super().__init__()
        self.repair = repair
        self.failures = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "make the batch durable" in record.getMessage():
            self.failures += 1
            self.repair()


@pytest.fixture
def on_retry() -> Iterator[Callable[[Callable[[], None]], _OnRetry]]:
    handlers: list[_OnRetry] = []
    log = logging.getLogger("swarmsh.patience")

    def install(repair: Callable[[], None]) -> _OnRetry:
        handlers.append(_OnRetry(repair))
        log.addHandler(handlers[-1])
        return handlers[-1]

    yield install
    for handler in handlers:
        log.removeHandler(handler)


def _cycles(home: Path) -> list[str]:
    spans = [span for m in range(3) for span in motion_cycle(f"m{m}", "board", m, "t")]
    return write_spans(home / "spans.jsonl", spans)


def _assert_landed_once(home: Path, runner: AgentRunner, sources: list[str]) -> None:
    commands = read_jsonl(home / "commands.jsonl")
    assert commands, "the cycles emit commands"
    assert len({c["id"] for c in commands}) == len(commands), "a command appended twice"
    parents = [
        r["parent_span_id"] for r in read_jsonl(home / "spans.jsonl") if r["name"] == ITERATION
    ]
    counters = runner.store.counters()
    assert len(parents) == counters["handled"] + counters.get("rejected", 0) > 0
    assert len(set(parents)) == len(parents), "an iteration span written twice"
    assert set(parents) <= set(sources)
    assert runner.store.load_position("roberts") == runner.follower.position.to_dict()


def test_commands_and_iteration_spans_are_written_before_the_commit(home: Path) -> None:
    sources = _cycles(home)
    runner = make_runner(home)
    assert runner.queue.waits_on_disk
    seen: dict[str, Any] = {}
    commit = runner.store.commit

    def commit_after_looking(*args: Any, **kwargs: Any) -> None:
        if args[2]:  # a batch with updates, not the start's commit
            seen["commands"] = read_jsonl(home / "commands.jsonl")
            seen["iterations"] = [
                r for r in read_jsonl(home / "spans.jsonl") if r["name"] == ITERATION
            ]
        commit(*args, **kwargs)

    runner.store.commit = commit_after_looking  # type: ignore[method-assign]
    assert runner.process(runner.follower.poll(0.05) or [], threading.Event())
    assert seen["commands"] == read_jsonl(home / "commands.jsonl")
    assert seen["iterations"] == [
        r for r in read_jsonl(home / "spans.jsonl") if r["name"] == ITERATION
    ]
    _assert_landed_once(home, runner, sources)
    runner.close()


def test_a_queue_that_cannot_be_written_is_retried_and_its_lines_land_once(
    home: Path, on_retry: Callable[[Callable[[], None]], _OnRetry]
) -> None:
    sources = _cycles(home)
    runner = make_runner(home)
    queue = home / "commands.jsonl"
    queue.mkdir()  # a real EISDIR for the queue's append; the bus is fine
    retried = on_retry(queue.rmdir)
    assert runner.process(runner.follower.poll(0.05) or [], threading.Event())
    assert retried.failures == 1
    _assert_landed_once(home, runner, sources)
    runner.close()


def test_a_bus_that_cannot_be_written_is_retried_and_the_queue_not_appended_twice(
    home: Path, on_retry: Callable[[Callable[[], None]], _OnRetry]
) -> None:
    sources = _cycles(home)
    runner = make_runner(home)
    items = runner.follower.poll(0.05) or []
    bus, aside = home / "spans.jsonl", home / "spans.aside"
    bus.rename(aside)
    bus.mkdir()  # the bus flush fails while the queue's append, beside it, succeeds

    def repair() -> None:
        bus.rmdir()
        aside.rename(bus)

    retried = on_retry(repair)
    assert runner.process(items, threading.Event())
    assert retried.failures == 1
    _assert_landed_once(home, runner, sources)
    runner.close()
