"""`swarmsh run`: a program under its own span, its context exported to it, its exit status
recorded and passed on, signals forwarded; real processes throughout."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from swarmsh.cli import cli
from swarmsh.cli.child import SI_KERNEL, forwards, result_of
from swarmsh.cli.run import argv_attributes, recordable
from tests.conftest import read_jsonl, run_cli

VENV_BIN = str(Path(sys.executable).parent)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@pytest.fixture(autouse=True)
def _no_inherited_context(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRACEPARENT", "TRACESTATE", "BAGGAGE"):
        monkeypatch.delenv(name, raising=False)


def on_path() -> dict[str, str]:
    """The venv's `swarmsh` first on PATH, as a shell script run under `swarmsh run` finds it."""
    return {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"}


def spans(home: Path) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in read_jsonl(home / "spans.jsonl")}


def test_a_script_step_and_the_swarmsh_command_it_runs_are_one_trace(tmp_path: Path) -> None:
    script = "swarmsh roberts open m1 --meeting board; exit 3"
    done = run_cli(tmp_path, on_path(), "run", "--", "sh", "-c", script)
    assert done.returncode == 3, done.stderr
    found = spans(tmp_path)
    assert set(found) == {"swarmsh.run", "swarmsh.roberts.open"}
    run, opened = found["swarmsh.run"], found["swarmsh.roberts.open"]
    assert opened["trace_id"] == run["trace_id"] and opened["parent_span_id"] == run["span_id"]
    assert run["parent_span_id"] is None
    assert (run["status"], run["status_message"]) == ("ERROR", "exit code 3")
    attributes = run["attributes"]
    assert attributes["process.exit.code"] == 3 and attributes["process.pid"] > 0
    assert attributes["process.command_args"] == ["sh", "-c", script]
    assert (attributes["process.command"], attributes["process.executable.name"]) == ("sh", "sh")
    assert run["duration_ms"] >= opened["duration_ms"]
    check = CliRunner().invoke(cli, ["semconv", "check", str(tmp_path / "spans.jsonl")])
    assert check.exit_code == 0 and ", 0 problems" in check.output, check.output


def test_the_program_sees_the_run_span_and_the_parent_tracestate(tmp_path: Path) -> None:
    env = {"TRACEPARENT": f"00-{TRACE}-{SPAN}-01", "TRACESTATE": "congo=t61", "BAGGAGE": "k=v"}
    script = 'printf "%s|%s|%s" "$TRACEPARENT" "$TRACESTATE" "$BAGGAGE"'
    done = run_cli(tmp_path, env, "run", "--name", "print context", "sh", "-c", script)
    assert done.returncode == 0
    run = spans(tmp_path)["print context"]
    assert (run["trace_id"], run["parent_span_id"], run["status"]) == (TRACE, SPAN, "OK")
    traceparent, tracestate, carried = done.stdout.split("|")
    assert traceparent == f"00-{TRACE}-{run['span_id']}-01"
    assert (tracestate, carried) == ("congo=t61", "k=v")


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["no-such-program-xyz"], 127, "no-such-program-xyz: command not found"),
        (["./data.txt"], 126, "./data.txt: cannot run: Permission denied"),  # not executable
        (["sh", "-c", "kill -KILL $$"], 137, "killed by SIGKILL"),
    ],
)
def test_a_program_that_fails_to_start_or_is_killed(
    tmp_path: Path, argv: list[str], code: int, message: str
) -> None:
    (tmp_path / "data.txt").write_text("not a program")
    done = subprocess.run(
        [sys.executable, "-m", "swarmsh", "--home", str(tmp_path), "run", "--", *argv],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == code
    run = spans(tmp_path)["swarmsh.run"]
    assert (run["status"], run["status_message"]) == ("ERROR", message)
    assert run["attributes"]["process.exit.code"] == code
    if code == 137:
        assert run["attributes"]["swarm.run.signal"] == "SIGKILL"
    else:
        assert done.stderr == f"swarmsh run: {message}\n"
        assert "process.pid" not in run["attributes"]


def start_and_wait_ready(home: Path, program: str, ready: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarmsh", "run", "--", sys.executable, "-c", program],
        env={**os.environ, "SWARMSH_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the program never started"
        time.sleep(0.01)  # polling for a file the child writes, with a deadline
    return proc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_sent_to_run_reaches_the_program_and_its_exit_is_recorded(
    tmp_path: Path, sig: signal.Signals
) -> None:
    """The program handles the signal and exits 7: it got it from `run` (we signal `run`
    alone), and `run` still records the span and exits with the program's code."""
    ready = tmp_path / "ready"
    program = (
        "import pathlib, signal, sys, time\n"
        f"signal.signal({int(sig)}, lambda *a: sys.exit(7))\n"
        f"pathlib.Path({str(ready)!r}).write_text('1')\n"
        "time.sleep(60)\n"
    )
    proc = start_and_wait_ready(tmp_path, program, ready)
    proc.send_signal(sig)
    assert proc.wait(30) == 7
    run = spans(tmp_path)["swarmsh.run"]
    assert (run["status"], run["status_message"]) == ("ERROR", "exit code 7")


def test_a_program_killed_by_a_forwarded_sigterm_exits_143(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    program = f"import pathlib, time; pathlib.Path({str(ready)!r}).write_text('1'); time.sleep(60)"
    proc = start_and_wait_ready(tmp_path, program, ready)
    proc.terminate()
    assert proc.wait(30) == 143
    run = spans(tmp_path)["swarmsh.run"]
    assert run["status_message"] == "killed by SIGTERM"
    assert run["attributes"]["swarm.run.signal"] == "SIGTERM"


def test_attributes_and_name(home: Path) -> None:
    result = CliRunner().invoke(
        cli, ["run", "--name", "nightly backup", "--attr", "job.retries=2", "true"]
    )
    assert result.exit_code == 0, result.output
    (run,) = read_jsonl(home / "spans.jsonl")
    assert run["name"] == "nightly backup" and run["status"] == "OK"
    assert run["attributes"]["job.retries"] == 2 and run["attributes"]["process.exit.code"] == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run"], "Missing argument 'COMMAND...'"),
        (["run", "--name", "swarmsh.roberts.close", "true"], "swarmsh's own"),
        (["run", "--name", "-x", "true"], "not a span name"),
        (["run", "--name", "a\x1bb", "true"], "not a span name"),
        (["run", "--attr", "process.pid=1", "true"], "process.* namespace"),
    ],
)
def test_usage_errors_run_nothing(home: Path, argv: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (home / "spans.jsonl").exists()


def test_options_after_the_program_belong_to_the_program(tmp_path: Path) -> None:
    done = run_cli(tmp_path, {}, "run", "echo", "--name", "x")
    assert (done.returncode, done.stdout) == (0, "--name x\n")
    assert spans(tmp_path)["swarmsh.run"]["attributes"]["process.command_args"] == [
        "echo",
        "--name",
        "x",
    ]


def test_argv_is_recorded_bounded_and_as_valid_text() -> None:
    assert recordable("caf\udcff") == "caf\\xff"  # an undecodable byte, escaped
    assert len(recordable("x" * 5000)) == 1000 and recordable("x" * 5000).endswith("…")
    recorded = argv_attributes(tuple(str(i) for i in range(100)))
    assert len(recorded["process.command_args"]) == 64
    assert recorded["process.command_args"][-1] == "… (+37 more)"


def test_wait_statuses_read_as_a_shell_reads_them() -> None:
    assert result_of(9, 0).error is None and result_of(9, 0).exit_code == 0
    assert result_of(9, 3 << 8).exit_code == 3
    killed = result_of(9, signal.SIGTERM)
    assert (killed.exit_code, killed.killed_by, killed.error) == (
        143,
        "SIGTERM",
        "killed by SIGTERM",
    )


def test_the_terminals_ctrl_c_reaches_the_program_and_run_records_its_end(
    tmp_path: Path,
) -> None:
    """Ctrl-C at a terminal signals its whole foreground group, `run` and the program: the
    program handles it, `run` survives it and records the program's exit. (Whether `run` sends
    a second copy cannot be seen here: two close SIGINTs merge into one pending signal; the
    rule itself is `forwards`, tested below.)"""
    import pty

    ready = tmp_path / "ready"
    program = (
        "import pathlib, signal, sys, time\n"
        "got = []\n"
        "signal.signal(signal.SIGINT, lambda *a: got.append(1))\n"
        f"pathlib.Path({str(ready)!r}).write_text('1')\n"
        "signal.pause()\n"
        "time.sleep(0.5)  # a forwarded second copy would arrive well within this\n"
        "sys.exit(10 + len(got))\n"
    )
    argv = [sys.executable, "-m", "swarmsh", "run", "--", sys.executable, "-c", program]
    env = {**os.environ, "SWARMSH_HOME": str(tmp_path)}
    pid, master = pty.fork()
    if pid == 0:  # the child: a session leader whose controlling terminal is the pty
        os.execve(sys.executable, argv, env)
    try:
        deadline = time.monotonic() + 30
        while not ready.exists():
            assert time.monotonic() < deadline, "the program never started"
            time.sleep(0.01)
        os.write(master, b"\x03")  # the terminal's interrupt character
        while True:  # keep the pty drained until `run` ends
            try:
                if not os.read(master, 1024):
                    break
            except OSError:
                break  # EIO: the other side closed
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(master)
    assert os.waitstatus_to_exitcode(status) == 11
    assert spans(tmp_path)["swarmsh.run"]["status_message"] == "exit code 11"


def test_only_signals_a_process_sent_to_run_are_forwarded() -> None:
    assert forwards(0)  # SI_USER: kill(2), e.g. `kill PID` or supervisord
    assert forwards(-6)  # SI_TKILL: tgkill(2)
    assert not forwards(SI_KERNEL)  # the terminal's Ctrl-C, sent to the whole group


def test_a_bus_that_cannot_be_written_warns_but_keeps_the_program_s_exit_code(home: Path) -> None:
    home.mkdir(mode=0o700)
    (home / "spans.jsonl").symlink_to(home / "elsewhere")
    result = CliRunner().invoke(cli, ["run", "--", "sh", "-c", "exit 5"])
    assert result.exit_code == 5
    assert "swarmsh run: warning:" in result.output and "not recorded" in result.output
    assert not (home / "elsewhere").exists()


def test_an_inherited_ignored_sigchld_does_not_lose_the_exit_code(tmp_path: Path) -> None:
    """Some supervisors start children with SIGCHLD ignored, which makes the kernel reap them."""
    done = subprocess.run(
        [sys.executable, "-m", "swarmsh", "--home", str(tmp_path), "run", "sh", "-c", "exit 4"],
        preexec_fn=lambda: signal.signal(signal.SIGCHLD, signal.SIG_IGN),  # noqa: PLW1509
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 4, done.stderr
    assert spans(tmp_path)["swarmsh.run"]["status_message"] == "exit code 4"
