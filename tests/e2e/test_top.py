"""`swarmsh top` driven in a real terminal (tmux, private socket) against a real swarm under
supervisord, and in a pipe."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmsh.bus.records import SpanRecord
from tests.e2e.swarm import PROGRAMS, Swarm, running_swarm, wait_until

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


@pytest.fixture(scope="module")
def swarm() -> Iterator[Swarm]:
    """A swarm whose bus holds one trace across processes: `roberts open` in a meeting not
    in session makes roberts call it to order through the executor."""
    with running_swarm() as s:
        opened = subprocess.run(
            [sys.executable, "-m", "swarmsh", "roberts", "open", "m1", "--meeting", "board"],
            env=s.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert opened.returncode == 0, opened.stderr
        s.wait_for(
            lambda r: r.name == "swarmsh.roberts.call-to-order" and r.parent_span_id is not None,
            what="the executor's call-to-order",
        )
        yield s


class Terminal:
    """A tmux server of our own (its socket in a temporary directory) with one 160x80 pane."""

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        self.base = base
        self.env = {**env, "TERM": "xterm-256color"}
        self.env.pop("TMUX", None)

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-S", str(self.base / "sock"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def start(self, command: str) -> None:
        self.tmux("new-session", "-d", "-x", "160", "-y", "80", "-s", "top", command)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "top")

    def wait_screen(self, *texts: str, timeout: float = 30.0) -> str:
        last = ""

        def shows() -> bool:
            nonlocal last
            last = self.screen()
            return all(t in last for t in texts)

        try:
            wait_until(shows, timeout, f"{texts} on the screen")
        except TimeoutError:
            raise AssertionError(f"{texts} not on the screen:\n{last}") from None
        return last

    def wait_match(self, pattern: str, timeout: float = 30.0) -> str:
        last = ""

        def shows() -> bool:
            nonlocal last
            last = self.screen()
            return re.search(pattern, last, re.MULTILINE) is not None

        try:
            wait_until(shows, timeout, f"{pattern!r} on the screen")
        except TimeoutError:
            raise AssertionError(f"{pattern!r} not on the screen:\n{last}") from None
        return last

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "top", *keys)

    def kill(self) -> None:
        subprocess.run(
            ["tmux", "-S", str(self.base / "sock"), "kill-server"],
            env=self.env,
            capture_output=True,
            timeout=30,
        )


@pytest.fixture
def terminal(swarm: Swarm) -> Iterator[Terminal]:
    base = Path(tempfile.mkdtemp(prefix="swt-", dir="/tmp"))
    term = Terminal(base, swarm.env)
    try:
        yield term
    finally:
        term.kill()
        shutil.rmtree(base, ignore_errors=True)


def top_script(swarm: Swarm, out: Path) -> str:
    """The pane's shell: the terminal settings before and after top, and top's exit code."""
    top = shlex.join(
        [sys.executable, "-m", "swarmsh", "top", "--config", str(swarm.conf), "--traces", "9"]
    )
    return (
        f"stty -a > {out}/before; {top}; echo $? > {out}/rc.tmp; stty -a > {out}/after; "
        f"mv {out}/rc.tmp {out}/rc; sleep 60"
    )


def reader_rows(screen: str, name: str) -> int:
    """Rows naming `name` as a reader (a daemon row has RUNNING; a reader row has its lag)."""
    return sum(
        1 for line in screen.splitlines() if line.split()[:1] == [name] and "RUNNING" not in line
    )


def test_top_in_a_terminal_shows_daemons_filters_opens_a_trace_and_quits(
    swarm: Swarm, terminal: Terminal
) -> None:
    out = terminal.base
    terminal.start(top_script(swarm, out))
    screen = terminal.wait_screen("agent: all", "[1] trace", "swarmsh.roberts.call-to-order")
    for name in PROGRAMS:
        assert any(line.split()[:2] == [name, "RUNNING"] for line in screen.splitlines()), screen
    assert "swarmsh.roberts.open" in screen and "lines/s" in screen
    assert reader_rows(screen, "lean") == 1 and reader_rows(screen, "roberts") == 1

    # throughput: spans written while it runs show as the roberts reader's lines/s
    for i in range(5):
        cli = [sys.executable, "-m", "swarmsh", "roberts", "second", f"busy{i}"]
        assert subprocess.run(cli, env=swarm.env, capture_output=True, timeout=60).returncode == 0
    terminal.wait_match(r"^\s+roberts\s+\d+\s+\d+\s+(?!0\.0\s)\d+\.\d\s")

    terminal.keys("2")  # scrum only
    screen = terminal.wait_screen("agent: scrum")
    assert reader_rows(screen, "scrum") == 1 and reader_rows(screen, "lean") == 0
    terminal.keys("a")  # the next agent
    screen = terminal.wait_screen("agent: lean")
    assert reader_rows(screen, "lean") == 1 and reader_rows(screen, "scrum") == 0
    terminal.keys("0")
    trace = next(
        SpanRecord.from_dict(s).trace_id
        for s in swarm.spans()
        if s["name"] == "swarmsh.roberts.call-to-order"
    )
    screen = terminal.wait_screen("agent: all", f"trace {trace}")
    index = re.search(rf"^\[(\d)\] trace {trace}", screen, re.MULTILINE)
    assert index, screen
    terminal.keys("t", index.group(1))  # that trace, full-screen
    screen = terminal.wait_screen("b back · q quit")
    assert f"trace {trace}" in screen and "daemon" not in screen
    assert "└─ swarmsh.roberts.call-to-order" in screen  # nested under the executor's span
    terminal.keys("b")
    terminal.wait_screen("agent: all", "[1] trace")

    terminal.keys("q")
    wait_until(lambda: (out / "rc").exists(), 30, "top to end")
    assert (out / "rc").read_text().strip() == "0"
    assert (out / "after").read_text() == (out / "before").read_text()  # echo, icanon back
    assert "daemon" not in terminal.screen()  # the alternate screen is gone


def _child_of(pid: int, name: str) -> int:
    def find() -> int | None:
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            if name in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace"):
                return int(child)
        return None

    wait_until(lambda: find() is not None, 30, f"{name} under {pid}")
    found = find()
    assert found is not None
    return found


def test_sigterm_restores_the_terminal(swarm: Swarm, terminal: Terminal) -> None:
    out = terminal.base
    terminal.start(top_script(swarm, out))
    terminal.wait_screen("agent: all")
    shell = int(terminal.tmux("display-message", "-p", "-t", "top", "#{pane_pid}").strip())
    os.kill(_child_of(shell, "swarmsh"), signal.SIGTERM)
    wait_until(lambda: (out / "rc").exists(), 30, "top to end")
    assert (out / "rc").read_text().strip() == str(128 + signal.SIGTERM)
    assert (out / "after").read_text() == (out / "before").read_text()


def test_ctrl_c_quits_and_restores_the_terminal(swarm: Swarm, terminal: Terminal) -> None:
    out = terminal.base
    terminal.start(top_script(swarm, out))
    terminal.wait_screen("agent: all")
    terminal.keys("C-c")
    wait_until(lambda: (out / "rc").exists(), 30, "top to end")
    assert (out / "rc").read_text().strip() == "0"
    assert (out / "after").read_text() == (out / "before").read_text()


def test_top_in_a_pipe_prints_plain_snapshots(swarm: Swarm) -> None:
    once = subprocess.run(
        [
            sys.executable,
            "-m",
            "swarmsh",
            "top",
            "--once",
            "--traces",
            "9",
            "--config",
            str(swarm.conf),
        ],
        env=swarm.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert once.returncode == 0, once.stderr
    assert "\x1b" not in once.stdout
    lines = once.stdout.splitlines()
    for name in PROGRAMS:
        assert any(line.split()[:2] == [name, "RUNNING"] for line in lines), once.stdout
    assert "swarmsh.roberts.call-to-order" in once.stdout

    periodic = subprocess.Popen(
        [sys.executable, "-m", "swarmsh", "top", "--interval", "0.2", "--config", str(swarm.conf)],
        env=swarm.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert periodic.stdout is not None
        headers, started = 0, time.monotonic()
        for line in periodic.stdout:
            assert "\x1b" not in line
            headers += line.startswith("swarmsh top ")
            if headers == 3:
                break
        assert headers == 3 and time.monotonic() - started < 30
    finally:
        periodic.terminate()
        periodic.wait(30)
