"""Rotation and truncation of the bus while a real agent process follows it."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import orjson

from swarmsh.agents.runner import command_id
from swarmsh.bus.follower import Follower
from swarmsh.bus.records import dumps_line
from swarmsh.bus.writer import JsonlWriter
from tests.agents.helpers import motion_cycle, write_spans
from tests.agents.test_agent_process import start_agent, wait_for_lines
from tests.conftest import read_jsonl

SLOW = os.environ.get("SWARMSH_SLOW") == "1"


def opens(first: int, count: int) -> list[tuple[str, dict]]:
    # Sprints count from 1.
    return [motion_cycle(f"r{i}", f"room{i}", i + 1, "t")[0] for i in range(first, first + count)]


def test_rename_rotation_under_load_loses_nothing(home: Path) -> None:
    bus = home / "spans.jsonl"
    agent = start_agent(home, "roberts", "--from", "beginning")
    try:
        ids: list[str] = []
        writer = threading.Thread(target=lambda: ids.extend(write_spans(bus, opens(0, 3000))))
        writer.start()
        wait_for_lines(home / "commands.jsonl", 1, agent)  # the agent is mid-stream...
        writer.join()
        bus.rename(home / "spans.jsonl.1")  # ...when the bus is rotated away
        ids += write_spans(bus, opens(3000, 500))
        wait_for_lines(home / "commands.jsonl", 3500, agent, timeout=60)
        emitted = {c["id"] for c in read_jsonl(home / "commands.jsonl")}
        assert emitted == {command_id("roberts", i, "call-to-order") for i in ids}
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(10) == 0


def test_numbered_rotations_while_the_agent_is_down_are_all_handled_once(home: Path) -> None:
    bus = home / "spans.jsonl"
    ids = write_spans(bus, opens(0, 5))
    agent = start_agent(home, "roberts", "--from", "beginning")
    try:
        wait_for_lines(home / "commands.jsonl", 5, agent)
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(10) == 0
    ids += write_spans(bus, opens(5, 5))  # after its checkpoint, in the file it was reading
    for generation in range(1, 4):  # deploy/logrotate.conf's numbered scheme, three times
        _rotate_numbered(bus, generation - 1)
        ids += write_spans(bus, opens(5 + generation * 5, 5))
    agent = start_agent(home, "roberts")  # from its checkpoint, now in spans.jsonl.3
    try:
        wait_for_lines(home / "commands.jsonl", 25, agent)
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(10) == 0
    emitted = [c["id"] for c in read_jsonl(home / "commands.jsonl")]
    assert emitted == [command_id("roberts", i, "call-to-order") for i in ids]  # once, in order


def test_truncation_is_detected_logged_and_followed(home: Path) -> None:
    bus = home / "spans.jsonl"
    write_spans(bus, opens(0, 20))
    agent = start_agent(home, "roberts", "--from", "beginning")
    try:
        wait_for_lines(home / "commands.jsonl", 20, agent)
        bus.write_bytes(b"")  # truncated in place (copytruncate-style)
        write_spans(bus, opens(100, 3))
        wait_for_lines(home / "commands.jsonl", 23, agent)
    finally:
        agent.send_signal(signal.SIGTERM)
        out = agent.communicate(timeout=10)[0].decode()
    assert agent.returncode == 0
    assert "was truncated" in out and "WARNING" in out


def _write_tagged(path: str, writer: int, count: int) -> None:
    bus_writer = JsonlWriter(Path(path), fsync="never")
    for seq in range(count):
        bus_writer.append([dumps_line({"name": "w", "writer": writer, "seq": seq})])


def _rotate_numbered(bus: Path, rotated: int) -> None:
    """logrotate's numbered scheme, keeping every generation: .n → .n+1, …, live → .1."""
    for n in range(rotated, 0, -1):
        os.rename(f"{bus}.{n}", f"{bus}.{n + 1}")
    os.rename(bus, f"{bus}.1")


def test_fast_rotation_under_several_writer_processes_loses_and_repeats_nothing(
    tmp_path: Path,
) -> None:
    bus = tmp_path / "spans.jsonl"
    writers, each = 4, 1500 if not SLOW else 20000
    bus.write_bytes(b"")
    follower: Follower[dict] = Follower(
        bus, reader="t", parse=orjson.loads, deadletter=None, start="beginning"
    )
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_tagged, args=(str(bus), w, each)) for w in range(writers)]
    for proc in procs:
        proc.start()
    stop = threading.Event()
    rotations = 0

    def rotate_every_few_ms() -> None:
        nonlocal rotations
        while not stop.wait(0.003):
            if bus.exists():
                _rotate_numbered(bus, rotations)
                rotations += 1

    rotator = threading.Thread(target=rotate_every_few_ms)
    rotator.start()
    seen: list[tuple[int, int]] = []
    deadline = time.monotonic() + 60
    try:
        while len(seen) < writers * each and time.monotonic() < deadline:
            for record, _ in follower.poll(0.5) or ():
                seen.append((record["writer"], record["seq"]))
            if not any(proc.is_alive() for proc in procs):
                stop.set()  # the writers are done: let the rest be read from a still chain
    finally:
        stop.set()
        rotator.join()
        for proc in procs:
            proc.join(30)
        follower.close()
    assert all(proc.exitcode == 0 for proc in procs)
    assert rotations > 20
    assert len(seen) == len(set(seen)) == writers * each  # every line exactly once
    for w in range(writers):
        assert [seq for writer, seq in seen if writer == w] == list(range(each))  # in order
