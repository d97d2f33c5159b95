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
