"""The rules agent as a real process: a bad rulebook at start, SIGHUP with a broken and then a
good file, and kill -9 mid-stream replaying the same command ids from the checkpoint."""

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
from tests.agents.rules.helpers import write_service_spans
from tests.agents.rules.test_rules_agent import RULEBOOK, book, errors
from tests.agents.test_agent_process import Output, wait_for_lines
from tests.conftest import read_jsonl


def start(home: Path, rules_dir: Path, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, SWARMSH_HOME=str(home), SWARMSH_RULES=str(rules_dir))
    return subprocess.Popen(
        [sys.executable, "-m", "swarmsh.agents.rules", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_a_bad_rulebook_at_start_is_a_configuration_error(home: Path, tmp_path: Path) -> None:
    rules_dir = book(tmp_path, RULEBOOK.replace("within: 60s", "within: a while"))
    proc = start(home, rules_dir)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert (
        f"{rules_dir}/book.yaml: rule 'checkout-errors': window.within: 'a while' is not a duration"
        in out.decode()
    )


def test_sighup_with_a_broken_file_keeps_the_old_rules_and_a_good_one_replaces_them(
    home: Path, tmp_path: Path
) -> None:
    rules_dir = book(tmp_path)
    proc = start(home, rules_dir, "--from", "beginning")
    output = Output(proc)
    try:
        output.wait_for("loaded 1 rules")
        (rules_dir / "book.yaml").write_text(RULEBOOK.replace("count: 5", "count: many"))
        proc.send_signal(signal.SIGHUP)
        line = output.wait_for("reload refused")
        assert "keeping the 1 rules loaded" in line and "window.count" in line
        write_service_spans(home / "spans.jsonl", errors([0, 1, 2, 3, 4]))
        wait_for_lines(home / "commands.jsonl", 1, proc)  # the old rule, count 5, still fires
        (rules_dir / "book.yaml").write_text(RULEBOOK.replace("count: 5", "count: 2"))
        proc.send_signal(signal.SIGHUP)
        output.wait_for("reloaded: 1 rules")
        write_service_spans(home / "spans.jsonl", errors([700, 701]))
        wait_for_lines(home / "commands.jsonl", 2, proc)  # the new rule: two are enough
        assert proc.poll() is None
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_kill_9_mid_stream_replays_the_same_command_ids(home: Path, tmp_path: Path) -> None:
    rules_dir = book(tmp_path, RULEBOOK.replace("throttle: {once_within: 10m}", ""))
    # 10,000 errors 10 s apart, each five in 60 s fire: 2,000 firings over five batches,
    # and windows open across batch boundaries
    spans = write_service_spans(home / "spans.jsonl", errors([i * 10.0 for i in range(10_000)]))
    expected = [command_id("rules", s.span_id, "checkout-errors") for s in spans[4::5]]
    pristine = tmp_path / "pristine"
    shutil.copytree(home, pristine)

    proc = start(home, rules_dir, "--from", "beginning")
    wait_for_lines(home / "commands.jsonl", 1, proc)
    proc.kill()
    proc.wait(10)
    assert len(read_jsonl(home / "commands.jsonl")) < len(expected)
    proc = start(home, rules_dir)  # from its checkpoint, with the windows it committed
    try:
        deadline = time.monotonic() + 60
        while len({c["id"] for c in read_jsonl(home / "commands.jsonl")}) < len(expected):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    uninterrupted = start(pristine, rules_dir, "--from", "beginning")
    try:
        wait_for_lines(pristine / "commands.jsonl", len(expected), uninterrupted)
    finally:
        uninterrupted.terminate()
        uninterrupted.wait(10)
    crashed = [c["id"] for c in read_jsonl(home / "commands.jsonl")]
    assert list(dict.fromkeys(crashed)) == expected  # replayed ids are the same ids, in order
    assert [c["id"] for c in read_jsonl(pristine / "commands.jsonl")] == expected
    with (
        StateStore(home / "state" / "rules.db") as a,
        StateStore(pristine / "state" / "rules.db") as b,
    ):
        assert a.entities() == b.entities()
