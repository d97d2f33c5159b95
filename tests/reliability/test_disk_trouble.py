"""A bus that cannot be written: the CLI fails loudly, agents keep running, nothing is lost."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.agents.test_agent_process import start_agent, wait_for_lines
from tests.conftest import read_jsonl


def cli(home: Path, *args: str, preexec=None) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run(
        [sys.executable, "-m", "swarmsh", *args],
        env={**os.environ, "SWARMSH_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=preexec,
    )


def limit_file_size(size: int):  # type: ignore[no-untyped-def]
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return apply


def set_immutable(path: Path, on: bool) -> bool:
    """chattr +i: not even root may write (root ignores permission bits, so a read-only
    directory would prove nothing here)."""
    if not shutil.which("chattr"):
        return False
    return (
        subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True).returncode
        == 0
    )


@pytest.mark.parametrize(
    ("trouble", "message"),
    [("fsize", "file too large"), ("immutable", "permission denied")],
)
def test_unwritable_bus_fails_the_cli_and_spares_the_agents(
    home: Path, trouble: str, message: str
) -> None:
    assert cli(home, "roberts", "open", "m0", "--meeting", "b0").returncode == 0
    agent = start_agent(home, "roberts", "--from", "beginning")
    try:
        wait_for_lines(home / "commands.jsonl", 1, agent)
        size = (home / "spans.jsonl").stat().st_size
        if trouble == "immutable" and not set_immutable(home / "spans.jsonl", True):
            pytest.skip("chattr +i is not available here")
        preexec = limit_file_size(size) if trouble == "fsize" else None
        try:
            failed = cli(home, "roberts", "open", "m1", "--meeting", "b1", preexec=preexec)
        finally:
            if trouble == "immutable":
                set_immutable(home / "spans.jsonl", False)
        assert failed.returncode == 3
        assert message in failed.stderr and "the action was not recorded" in failed.stderr
        assert "Traceback" not in failed.stderr
        assert (home / "spans.jsonl").stat().st_size >= size  # nothing torn (agents may append)
        assert all(
            r["attributes"].get("roberts.motion_id") != "m1"
            for r in read_jsonl(home / "spans.jsonl")
        )
        assert agent.poll() is None
        # the trouble clears: the same action now lands and the agent reacts to it
        assert cli(home, "roberts", "open", "m1", "--meeting", "b1").returncode == 0
        wait_for_lines(home / "commands.jsonl", 2, agent)
        assert [c["args"]["meeting"] for c in read_jsonl(home / "commands.jsonl")] == ["b0", "b1"]
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(10) == 0


# -- a full disk (issue 10, item 6): the agent stays up and resumes by itself ----------------


def test_a_full_state_disk_mid_run_holds_the_batch_until_space_returns(
    home: Path, tmp_path: Path
) -> None:
    from tests.agents.helpers import write_spans
    from tests.agents.test_agent_process import Output
    from tests.diskfull import fill, free, small_disk

    with small_disk(home / "state", "1m") as state:
        agent = start_agent(home, "roberts", "--from", "beginning")
        output = Output(agent)
        try:
            write_spans(home / "spans.jsonl", [_open("m0", "b0")])
            wait_for_lines(home / "commands.jsonl", 1, agent)
            _wait_until_committed(state / "roberts.db", handled=1)
            fill(state)
            write_spans(home / "spans.jsonl", [_open(f"m{i}", f"b{i}") for i in (1, 2)])
            output.wait_for("cannot make the batch durable")  # the commit hit the full disk
            assert agent.poll() is None
            free(state)
            write_spans(home / "spans.jsonl", [_open("m3", "b3")])
            wait_for_lines(home / "commands.jsonl", 4, agent)
            _wait_until_committed(state / "roberts.db", handled=4)
            assert agent.poll() is None  # the same process all along
        finally:
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(10) == 0, output.text
    meetings = [c["args"]["meeting"] for c in read_jsonl(home / "commands.jsonl")]
    assert meetings == ["b0", "b1", "b2", "b3"]  # each once: a retry never re-appends


def test_sigterm_while_waiting_for_space_stops_the_agent_and_loses_nothing(home: Path) -> None:
    import time

    from tests.agents.helpers import write_spans
    from tests.agents.test_agent_process import Output
    from tests.diskfull import fill, free, small_disk

    with small_disk(home / "state", "1m") as state:
        agent = start_agent(home, "roberts", "--from", "beginning")
        output = Output(agent)
        write_spans(home / "spans.jsonl", [_open("m0", "b0")])
        wait_for_lines(home / "commands.jsonl", 1, agent)
        _wait_until_committed(state / "roberts.db", handled=1)  # not filled mid-commit
        fill(state)
        write_spans(home / "spans.jsonl", [_open("m1", "b1")])
        output.wait_for("cannot make the batch durable")
        began = time.monotonic()
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(10) == 0, output.text
        assert time.monotonic() - began < 2.0
        free(state)
        again = start_agent(home, "roberts")  # replays the batch it could not commit
        try:
            _wait_until_committed(state / "roberts.db", handled=2)
        finally:
            again.send_signal(signal.SIGTERM)
            assert again.wait(10) == 0
    commands = read_jsonl(home / "commands.jsonl")
    assert [c["args"]["meeting"] for c in commands] == ["b0", "b1", "b1"]
    assert commands[1]["id"] == commands[2]["id"]  # the same id: the executor runs it once


@pytest.mark.parametrize("state", ["none yet", "from an earlier run"])
def test_an_agent_started_on_a_full_disk_waits_for_space_then_catches_up(
    home: Path, state: str
) -> None:
    """No room for the store, its journal, the queue or the bus: the agent neither dies nor
    goes FATAL, and handles what it finds once space returns."""
    from tests.agents.helpers import write_spans
    from tests.agents.test_agent_process import Output
    from tests.diskfull import fill, free, small_disk

    with small_disk(home, "2m") as disk:
        expected = []
        if state == "from an earlier run":
            earlier = start_agent(disk, "roberts", "--from", "beginning")
            write_spans(disk / "spans.jsonl", [_open("m0", "b0")])
            wait_for_lines(disk / "commands.jsonl", 1, earlier)
            earlier.send_signal(signal.SIGTERM)
            assert earlier.wait(10) == 0
            expected.append("b0")
        write_spans(disk / "spans.jsonl", [_open("m1", "b1")])
        fill(disk)
        start = ["--from", "beginning"] if not expected else []  # else: its checkpoint
        agent = start_agent(disk, "roberts", *start)
        output = Output(agent)
        try:
            output.wait_for("retrying")
            assert agent.poll() is None
            free(disk)
            wait_for_lines(disk / "commands.jsonl", len(expected) + 1, agent)
            _wait_until_committed(disk / "state" / "roberts.db", handled=len(expected) + 1)
        finally:
            agent.send_signal(signal.SIGTERM)
            assert agent.wait(10) == 0, output.text
        meetings = [c["args"]["meeting"] for c in read_jsonl(disk / "commands.jsonl")]
        assert meetings == [*expected, "b1"]


def _open(motion: str, meeting: str) -> tuple[str, dict[str, str]]:
    attributes = {"roberts.motion_id": motion, "roberts.meeting_id": meeting}
    return ("swarmsh.roberts.open", {**attributes, "roberts.motion.kind": "general"})


def _wait_until_committed(db: Path, handled: int, timeout: float = 30) -> None:
    import time

    from swarmsh.store import StateStore

    deadline = time.monotonic() + timeout
    while True:
        with StateStore(db) as store:
            if store.counters().get("handled") == handled:
                return
        assert time.monotonic() < deadline, f"{db}: not {handled} spans handled"
        time.sleep(0.05)
