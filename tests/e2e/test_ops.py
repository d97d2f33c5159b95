"""`swarmsh status` and `swarmsh demo` against a real supervisord running the swarm."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.agents.helpers import write_spans
from tests.e2e.swarm import PROGRAMS, Swarm, running_swarm

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def swarm() -> Iterator[Swarm]:
    with running_swarm() as s:
        yield s


def swarmsh(swarm: Swarm, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swarmsh", *args],
        env=swarm.env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def status(swarm: Swarm) -> tuple[int, dict]:
    result = swarmsh(swarm, "status", "--json", "--config", str(swarm.conf))
    return result.returncode, json.loads(result.stdout)


def test_demo_runs_the_whole_scenario(swarm: Swarm) -> None:
    result = swarmsh(swarm, "demo", "--config", str(swarm.conf), "--timeout", "30")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for reaction in (
        "meeting board called to order",
        "sprint 42 planned",
        "lean project defect-alpha-42 defined",
        "motion ratify-defect-alpha-42 opened",
    ):
        assert f"✓ {reaction}" in out
    assert "└─ swarmsh.command.execute  executor" in out
    assert "The loop closed in" in out
    again = swarmsh(swarm, "demo", "--config", str(swarm.conf), "--timeout", "30")
    assert again.returncode == 0, again.stdout  # a second run picks the next sprint
    assert "sprint 43 planned" in again.stdout


def test_status_is_healthy_when_all_run(swarm: Swarm) -> None:
    code, report = status(swarm)
    assert code == 0, report["problems"]
    assert report["healthy"] is True
    assert {n: p["state"] for n, p in report["processes"].items()} == dict.fromkeys(
        PROGRAMS, "RUNNING"
    )
    assert all(p["pid"] > 0 for p in report["processes"].values())
    text = swarmsh(swarm, "status", "--config", str(swarm.conf))
    assert text.returncode == 0 and "RUNNING" in text.stdout


def test_status_reports_a_stopped_agent_and_its_exact_lag(swarm: Swarm) -> None:
    assert swarm.ctl("stop", "swarm:lean").returncode == 0
    try:
        code, before = status(swarm)
        assert code == 5
        assert "lean is STOPPED" in before["problems"]
        lag_before = before["agents"]["lean"]["lag_lines"]
        bytes_before = before["agents"]["lean"]["lag_bytes"]
        size_before = before["bus"]["bytes"]
        # spans only the stopped agent would react to, so nothing else writes meanwhile
        spans = [("swarmsh.lean.measure", {"lean.project_id": "p", "lean.phase": "measure"})] * 25
        write_spans(swarm.home / "spans.jsonl", spans)
        code, after = status(swarm)
        assert after["agents"]["lean"]["lag_lines"] == lag_before + 25
        assert (
            after["agents"]["lean"]["lag_bytes"]
            == bytes_before + after["bus"]["bytes"] - size_before
        )
        code, strict = (
            0,
            json.loads(
                swarmsh(
                    swarm, "status", "--json", "--config", str(swarm.conf), "--max-lag", "10"
                ).stdout
            ),
        )
        assert any("lean lags" in p for p in strict["problems"])
        demo = swarmsh(swarm, "demo", "--config", str(swarm.conf), "--timeout", "5", "--no-start")
        assert demo.returncode == 1
        assert "not RUNNING: lean" in demo.stderr
    finally:
        assert swarm.ctl("start", "swarm:lean").returncode == 0
    swarm.wait_running()


def test_up_and_down_wrap_supervisord(tmp_path_factory: pytest.TempPathFactory) -> None:
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from tests.e2e.swarm import REPO, VENV

    base = Path(tempfile.mkdtemp(prefix="swu-", dir="/tmp"))
    try:
        (base / "supervisord.conf").symlink_to(REPO / "supervisord.conf")
        (base / ".venv").symlink_to(VENV)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "SWARMSH_"))}
        env.update(
            SWARMSH_HOME=str(base / "home"),
            SWARMSH_FSYNC="never",
            SWARMSH_SUPERVISOR_CONF=str(base / "supervisord.conf"),
        )

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "swarmsh", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )

        up = run("up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert (
            f"all {len(PROGRAMS)} daemons RUNNING ({', '.join(PROGRAMS)})" in up.stdout
            and str(base / "home" / "spans.jsonl") in up.stdout
        )
        assert (base / "var" / "supervisor.sock").stat().st_mode & 0o777 == 0o700
        assert (base / "home").stat().st_mode & 0o777 == 0o700
        assert "already running" in run("up").stdout
        assert run("status").returncode == 0
        down = run("down")
        assert down.returncode == 0 and "stopped" in down.stdout
        assert run("status").returncode == 5
        assert "not running" in run("down").stdout
    finally:
        subprocess.run(
            [sys.executable, "-m", "swarmsh", "down"], env=env, capture_output=True, timeout=60
        )
        shutil.rmtree(base, ignore_errors=True)
