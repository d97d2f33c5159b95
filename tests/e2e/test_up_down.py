"""`swarmsh up`, `down` and `status` as an operator uses them, against a real, daemonized supervisord."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.e2e.swarm import PROGRAMS, Checkout, alive, checkout, wait_until

pytestmark = pytest.mark.e2e


def _up(co: Checkout, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = co.run("up", **kwargs)  # type: ignore[arg-type]
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_a_span_written_right_after_up_is_handled() -> None:
    # Each daemon's interpreter starts 2 s late, as on a loaded machine: supervisord calls them
    # RUNNING after 1 s, long before an agent has chosen where on the bus it begins.
    with checkout(start_delay_s=2.0) as co:
        _up(co)
        opened = co.run("roberts", "open", "m1", "--meeting", "board")
        assert opened.returncode == 0, opened.stderr
        co.wait_for(
            lambda r: (
                r.name == "swarmsh.roberts.call-to-order"
                and r.attributes.get("roberts.meeting_id") == "board"
            ),
            timeout=30,
            what="the roberts agent's call-to-order for a motion opened right after up",
        )
        assert not (co.home / "state" / "start.json").exists()  # the mark served its one start


def test_down_waits_for_supervisord_so_down_then_up_works() -> None:
    with checkout() as co:
        _up(co)
        supervisord, daemons = co.supervisord_pid(), co.daemon_pids()
        assert supervisord and set(daemons) == set(PROGRAMS)
        down = co.run("down")
        assert down.returncode == 0 and "stopped" in down.stdout, down.stdout + down.stderr
        assert not alive(supervisord)
        assert not [name for name, pid in daemons.items() if alive(pid)]
        again = co.run("up")
        assert again.returncode == 0, again.stdout + again.stderr
        assert co.run("status").returncode == 0


def test_kill_9_of_supervisord_takes_the_daemons_with_it() -> None:
    with checkout() as co:
        _up(co)
        supervisord, daemons = co.supervisord_pid(), co.daemon_pids()
        assert supervisord is not None
        os.kill(supervisord, signal.SIGKILL)
        wait_until(
            lambda: not any(alive(pid) for pid in daemons.values()),
            timeout=10,
            what=f"daemons {daemons} to end after supervisord was killed",
        )
        # they stopped gracefully (SIGTERM), so a new swarm takes over cleanly
        again = co.run("up")
        assert again.returncode == 0, again.stdout + again.stderr
        assert co.run("status").returncode == 0


def test_up_and_status_name_a_process_holding_a_daemons_lock() -> None:
    with checkout() as co:
        stray = subprocess.Popen(
            [sys.executable, "-m", "swarmsh.agents.roberts"],
            env=co.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(
                lambda: co.daemon_pids().get("roberts") == stray.pid,
                timeout=20,
                what="the stray roberts to take its lock",
            )
            up = co.run("up", timeout=60)
            assert up.returncode != 0
            assert f"pid {stray.pid}" in up.stderr and "roberts" in up.stderr, up.stderr
            status = co.run("status")
            assert status.returncode != 0
            assert f"pid {stray.pid}" in status.stdout, status.stdout
        finally:
            stray.terminate()
            stray.wait(10)


def test_another_home_is_an_error_naming_both_homes() -> None:
    with checkout() as co:
        _up(co)
        other = co.base / "other"
        env = dict(co.env, SWARMSH_HOME=str(other))
        for command in (["up"], ["status"], ["demo", "--timeout", "5"], ["down"]):
            result = co.run(*command, env=env)
            assert result.returncode == 1, (command, result.stdout, result.stderr)
            assert str(co.home) in result.stderr and str(other) in result.stderr, command
        assert not other.exists()
        # with no home chosen at all, the CLI uses the running swarm's
        unset = {k: v for k, v in co.env.items() if k != "SWARMSH_HOME"}
        unset["HOME"] = str(co.base / "user")
        status = co.run("status", "--json", env=unset)
        assert status.returncode == 0, status.stdout + status.stderr
        assert json.loads(status.stdout)["home"] == str(co.home)
        down = co.run("down", env=unset)
        assert down.returncode == 0, down.stderr
        assert not alive(co.supervisord_pid() or 0)


def test_var_and_its_logs_are_owner_only() -> None:
    with checkout() as co:
        co.var.mkdir(mode=0o755)
        co.var.chmod(0o755)  # as a checkout has it (git keeps var/.gitkeep)
        old_log = co.var / "supervisord.log"
        old_log.write_text("from an earlier run\n")
        old_log.chmod(0o644)
        _up(co)
        assert co.var.stat().st_mode & 0o777 == 0o700
        logs = sorted(co.var.glob("*.log"))
        assert {p.name for p in logs} >= {"supervisord.log", *(f"{n}.log" for n in PROGRAMS)}
        assert {p.name: p.stat().st_mode & 0o777 for p in logs} == {p.name: 0o600 for p in logs}
