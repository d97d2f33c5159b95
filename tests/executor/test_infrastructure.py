"""A real executor rides out infrastructure failures (an unwritable bus, a full disk): they
are no attempts of the command, it stays up, and the command runs once when they end."""

from __future__ import annotations

import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from swarmsh.store import StateStore
from tests.conftest import read_jsonl
from tests.diskfull import fill, small_disk
from tests.executor.test_executor import (
    enqueue,
    letter_command_id,
    next_command,
    spans_for,
    start_executor,
    wait_settled,
)
from tests.executor.test_recovery import runs_of

RETRY_LINE = "infrastructure failure"
PAGE = 4096


class Output:
    """The merged stdout/stderr of a process, collected as it comes."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.text = ""
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.text += line.decode(errors="replace")
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.text):
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    raise AssertionError(f"never happened; output:\n{self.text}")
                self._changed.wait(min(left, 0.2))

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(10)
        self._reader.join(5)
        return code


def status(home: Path, cid: str) -> str | None:
    with StateStore(home / "state" / "executor.db") as store:
        entry = store.command(cid)
    return entry.status if entry else None


def test_an_unwritable_bus_is_retried_until_stopped_not_dead_lettered(home: Path) -> None:
    home.mkdir(parents=True)
    out = Output(start_executor(home, SWARMSH_MAX_ATTEMPTS="2"))
    try:
        out.wait_for(lambda text: "executor following" in text)
        (home / "spans.jsonl").mkdir()  # the bus cannot be written
        enqueue(home, next_command("patient"))
        # More retries than attempts allowed, or the command settles (the defect)
        out.wait_for(lambda text: text.count(RETRY_LINE) >= 5 or "dead letter" in text)
        assert status(home, "patient") == "started"
        assert not (home / "deadletter" / "executor.jsonl").exists()
        shutil.rmtree(home / "spans.jsonl")  # the disk recovers
        assert wait_settled(home, "patient") == "executed"
        assert out.proc.poll() is None
    finally:
        assert out.stop() == 0
    [attempt] = [
        s["attributes"]["swarm.command.attempt"]
        for s in spans_for(home, "patient")
        if s["name"] == "swarmsh.command.execute"
    ]
    assert attempt == 1
    assert runs_of(home, "patient") == 1


# -- a real full disk --------------------------------------------------------------------


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs: a disk the test can fill and free."""
    with small_disk(tmp_path / "disk") as mounted:
        yield mounted


def enqueue_into_slack(home: Path, command: dict[str, Any]) -> None:
    """Append a command on a full disk: it fits in the unused end of the queue's last page."""
    queue = home / "commands.jsonl"
    assert queue.stat().st_size % PAGE + 1024 < PAGE, "the test needs room in that page"
    enqueue(home, command)


def test_a_full_disk_while_running_is_ridden_out(disk: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    home = disk / "home"
    monkeypatch.setenv("SWARMSH_HOME", str(home))
    enqueue(home, next_command("warm"))
    out = Output(start_executor(home))
    try:
        assert wait_settled(home, "warm") == "executed"
        filler = fill(disk)
        enqueue_into_slack(home, next_command("full"))
        out.wait_for(lambda text: text.count(RETRY_LINE) >= 3)  # the ledger cannot grow
        assert out.proc.poll() is None
        filler.unlink()  # space returns
        assert wait_settled(home, "full") == "executed"
        assert out.proc.poll() is None
    finally:
        assert out.stop() == 0
    assert runs_of(home, "full") == 1
    assert runs_of(home, "warm") == 1
    assert not read_jsonl(home / "deadletter" / "executor.jsonl")


def test_a_full_disk_at_start_up_with_a_fresh_ledger_is_ridden_out(
    disk: Path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    home = disk / "home"
    monkeypatch.setenv("SWARMSH_HOME", str(home))
    enqueue(home, next_command("warm"))
    out = Output(start_executor(home))
    try:
        assert wait_settled(home, "warm") == "executed"
    finally:
        assert out.stop() == 0
    for name in ("executor.db", "executor.db-wal", "executor.db-shm"):
        (home / "state" / name).unlink(missing_ok=True)  # the ledger is lost, too
    enqueue_into_slack(home, next_command("late"))
    filler = fill(disk)
    out = Output(start_executor(home))
    try:
        out.wait_for(lambda text: text.count(RETRY_LINE) >= 3)  # no ledger can be created
        assert out.proc.poll() is None
        filler.unlink()
        assert wait_settled(home, "late") == "executed"
        assert out.proc.poll() is None
    finally:
        assert out.stop() == 0
    assert runs_of(home, "late") == 1
    assert runs_of(home, "warm") == 1  # the fresh ledger learnt it from the bus


def test_a_refusal_on_a_full_disk_is_reported_once_when_space_returns(
    disk: Path,
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    home = disk / "home"
    monkeypatch.setenv("SWARMSH_HOME", str(home))
    enqueue(home, next_command("warm"))
    out = Output(start_executor(home))
    try:
        assert wait_settled(home, "warm") == "executed"
        filler = fill(disk)
        enqueue_into_slack(home, next_command("bad", command="swarmsh.roberts.impeach", args={}))
        out.wait_for(lambda text: text.count(RETRY_LINE) >= 3)  # no room for the dead letter
        assert out.proc.poll() is None
        filler.unlink()
        assert wait_settled(home, "bad") == "refused"
        assert out.proc.poll() is None
    finally:
        assert out.stop() == 0
    [letter] = read_jsonl(home / "deadletter" / "executor.jsonl")
    assert letter_command_id(letter) == "bad"
    assert letter["reason"].startswith("refused: unknown command")
    rejected = [s for s in spans_for(home, "bad") if s["name"] == "swarmsh.command.rejected"]
    assert len(rejected) == 1


def test_a_stop_while_riding_out_keeps_the_intent_for_the_next_start(home: Path) -> None:
    home.mkdir(parents=True)
    out = Output(start_executor(home))
    try:
        out.wait_for(lambda text: "executor following" in text)
        (home / "spans.jsonl").mkdir()
        enqueue(home, next_command("later"))
        out.wait_for(lambda text: text.count(RETRY_LINE) >= 2)
    finally:
        assert out.stop() == 0  # promptly, in the middle of the backoff
    assert status(home, "later") == "started"
    shutil.rmtree(home / "spans.jsonl")
    out = Output(start_executor(home))
    try:
        assert wait_settled(home, "later") == "executed"
    finally:
        assert out.stop() == 0
    assert runs_of(home, "later") == 1
