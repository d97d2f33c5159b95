"""Agents as real `python -m` processes: graceful stop, one instance, kill -9 and replay."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from swarmsh.agents.runner import command_id
from swarmsh.store import StateStore
from tests.agents.helpers import motion_cycle, write_spans
from tests.conftest import read_jsonl


def start_agent(home: Path, name: str, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, SWARMSH_HOME=str(home))
    return subprocess.Popen(
        [sys.executable, "-m", f"swarmsh.agents.{name}", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_for_lines(
    path: Path, count: int, proc: subprocess.Popen[bytes], timeout: float = 30
) -> None:
    from swarmsh.bus.wakeup import FileWaker

    waker = FileWaker(path)
    deadline = time.monotonic() + timeout
    try:
        while len(read_jsonl(path)) < count:
            assert proc.poll() is None, proc.stdout.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, (
                f"{path} has {len(read_jsonl(path))} < {count} lines"
            )
            waker.wait(0.5)
    finally:
        waker.close()


def test_sigterm_stops_an_agent_cleanly_within_two_seconds(home: Path) -> None:
    proc = start_agent(home, "roberts", "--from", "beginning")
    write_spans(home / "spans.jsonl", motion_cycle("m", "board", 1, "t")[:1])
    wait_for_lines(home / "commands.jsonl", 1, proc)
    began = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(5) == 0
    assert time.monotonic() - began < 2.0
    with StateStore(home / "state" / "roberts.db") as store:  # committed before exiting
        assert store.counters()["handled"] == 1


def test_a_second_instance_is_refused_naming_the_first(home: Path) -> None:
    first = start_agent(home, "scrum")
    try:
        deadline = time.monotonic() + 20
        while (
            not (home / "state" / "scrum.lock").exists()
            or not (home / "state" / "scrum.lock").read_text()
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        second = start_agent(home, "scrum")
        out, _ = second.communicate(timeout=30)
        assert second.returncode == 4
        assert f"pid {first.pid}" in out.decode()
        assert "already runs" in out.decode()
    finally:
        first.terminate()
        first.wait(10)


N = 2000  # motions: 8,000 spans, several follower batches


def test_kill_9_mid_stream_loses_nothing_and_replays_the_same_ids(
    home: Path, tmp_path: Path
) -> None:
    cycles = [motion_cycle(f"s{i}", f"meeting{i}", i, "t") for i in range(1, N + 1)]
    spans = [span for cycle in cycles for span in cycle]
    ids = write_spans(home / "spans.jsonl", spans)
    expected = set()
    for i in range(N):
        expected.add(command_id("roberts", ids[4 * i], "call-to-order"))
        expected.add(command_id("roberts", ids[4 * i + 3], "sprint-plan"))
    pristine = tmp_path / "pristine"
    shutil.copytree(home, pristine)

    proc = start_agent(home, "roberts", "--from", "beginning")
    wait_for_lines(home / "commands.jsonl", 1, proc)
    proc.kill()  # SIGKILL mid-stream: the first batch is out, the rest is not
    proc.wait(10)
    assert len({c["id"] for c in read_jsonl(home / "commands.jsonl")}) < len(expected)

    proc = start_agent(home, "roberts")  # resumes from its checkpoint
    try:
        deadline = time.monotonic() + 60
        while {c["id"] for c in read_jsonl(home / "commands.jsonl")} != expected:
            assert time.monotonic() < deadline, "not every command was emitted after the restart"
            time.sleep(0.1)
    finally:
        proc.terminate()
        assert proc.wait(10) == 0

    uninterrupted = start_agent(pristine, "roberts", "--from", "beginning")
    try:
        wait_for_lines(pristine / "commands.jsonl", len(expected), uninterrupted)
    finally:
        uninterrupted.terminate()
        uninterrupted.wait(10)
    with (
        StateStore(home / "state" / "roberts.db") as crashed,
        StateStore(pristine / "state" / "roberts.db") as clean,
    ):
        assert crashed.entities() == clean.entities()
    assert {c["id"] for c in read_jsonl(pristine / "commands.jsonl")} == expected


class Output:
    """A process's output, read by a thread as it comes, so a test can wait for a line."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        import threading

        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        for raw in proc.stdout:  # type: ignore[union-attr]
            with self._changed:
                self.lines.append(raw.decode(errors="replace"))
                self._changed.notify_all()

    def wait_for(self, fragment: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((line for line in self.lines if fragment in line), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                assert left > 0, f"no output line with {fragment!r}:\n{''.join(self.lines)}"
                self._changed.wait(left)

    @property
    def text(self) -> str:
        with self._changed:
            return "".join(self.lines)


def test_a_poison_span_is_dead_lettered_and_the_next_one_handled_by_the_same_process(
    home: Path,
) -> None:
    """A `close` with a negative vote count used to make the rule raise: the agent died,
    replayed the batch, died again, and governance stopped (issue 10, item 2)."""
    cycle = motion_cycle("m1", "board", 1, "t")
    poison = ("swarmsh.roberts.close", {**cycle[3][1], "roberts.votes.no": -3})
    write_spans(home / "spans.jsonl", [*cycle[:3], poison])
    proc = start_agent(home, "roberts", "--from", "beginning")
    try:
        wait_for_lines(home / "deadletter" / "roberts.jsonl", 1, proc)
        write_spans(home / "spans.jsonl", cycle[3:])  # the valid close, after the poison
        wait_for_lines(home / "commands.jsonl", 2, proc)  # call-to-order, then the sprint plan
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    assert [c["command"] for c in read_jsonl(home / "commands.jsonl")] == [
        "swarmsh.roberts.call-to-order",
        "swarmsh.scrum.plan",
    ]
    [letter] = read_jsonl(home / "deadletter" / "roberts.jsonl")
    assert "roberts.votes.no" in letter["reason"]
    with StateStore(home / "state" / "roberts.db") as store:
        assert store.entities()["motion:m1"].state == "PASSED"


RAISING_AGENT = """
import dataclasses
from swarmsh.agents import roberts
from swarmsh.agents.runner import main

def second(span, states, settings):
    if span.roberts_motion_id == "bomb":
        raise ZeroDivisionError("a bug in the rule")
    return roberts.AGENT.rules["second"](span, states, settings)

AGENT = dataclasses.replace(roberts.AGENT, rules={**roberts.AGENT.rules, "second": second})
main(AGENT)
"""


def test_a_rule_that_raises_costs_one_span_not_the_process(home: Path, tmp_path: Path) -> None:
    script = tmp_path / "raising_agent.py"
    script.write_text(RAISING_AGENT)
    cycle = motion_cycle("m1", "board", 1, "t")
    write_spans(
        home / "spans.jsonl", [cycle[0], ("swarmsh.roberts.second", {"roberts.motion_id": "bomb"})]
    )
    env = dict(os.environ, SWARMSH_HOME=str(home), PYTHONPATH=str(Path(__file__).parents[2]))
    proc = subprocess.Popen(
        [sys.executable, str(script), "--from", "beginning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_lines(home / "deadletter" / "roberts.jsonl", 1, proc)
        write_spans(home / "spans.jsonl", cycle[1:])
        wait_for_lines(home / "commands.jsonl", 2, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    [letter] = read_jsonl(home / "deadletter" / "roberts.jsonl")
    assert "ZeroDivisionError: a bug in the rule" in letter["reason"]
    with StateStore(home / "state" / "roberts.db") as store:
        assert store.counters()["rule_failures"] == 1
        assert store.entities()["motion:m1"].state == "PASSED"


def test_a_corrupt_state_database_stops_the_agent_with_what_to_do(home: Path) -> None:
    db = home / "state" / "scrum.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"garbage, not SQLite " * 500)
    proc = start_agent(home, "scrum")
    out, _ = proc.communicate(timeout=30)
    text = out.decode()
    assert proc.returncode == 1
    assert "Traceback" not in text
    assert f"state database {db} is corrupt" in text
    assert f"mv {db} {db}.corrupt" in text
