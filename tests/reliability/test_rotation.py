"""Rotation and truncation of the bus while a real agent process follows it."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

from swarmsh.agents.runner import command_id
from tests.agents.helpers import motion_cycle, write_spans
from tests.agents.test_agent_process import start_agent, wait_for_lines
from tests.conftest import read_jsonl


def opens(first: int, count: int) -> list[tuple[str, dict]]:
    return [motion_cycle(f"r{i}", f"room{i}", i, "t")[0] for i in range(first, first + count)]


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
