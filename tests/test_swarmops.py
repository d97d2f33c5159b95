"""The checks `up`, `down`, `status` and `demo` make: whose home, who holds a lock, var/ modes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from swarmsh.daemon import lock_holder
from swarmsh.supervisor import SupervisorError, home_from_environ, make_private_dir, tighten_logs
from swarmsh.swarmops import HomeMismatch, choose_home, stray_lock_holders

RECORD = Path("/srv/var/swarm.json")


@pytest.mark.parametrize(
    ("chosen", "running", "expected"),
    [
        (None, None, None),  # nothing runs, nothing given: the default home
        (Path("/a"), None, Path("/a")),
        (None, Path("/run"), Path("/run")),  # nothing given: the running swarm's
        (Path("/run"), Path("/run"), Path("/run")),
    ],
)
def test_choose_home(chosen: Path | None, running: Path | None, expected: Path | None) -> None:
    assert choose_home(chosen, running, RECORD) == expected


def test_a_different_home_given_is_an_error_naming_both() -> None:
    with pytest.raises(HomeMismatch) as caught:
        choose_home(Path("/mine"), Path("/run"), RECORD)
    assert "/mine" in str(caught.value) and "/run" in str(caught.value)
    assert str(RECORD) in str(caught.value)


def test_the_same_home_through_a_symlink_is_the_same(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert choose_home(tmp_path / "link", tmp_path / "real", RECORD) == tmp_path / "link"


def test_stray_lock_holders_names_pids_supervisord_does_not_run() -> None:
    locks = {n: Path(f"/h/state/{n}.lock") for n in ("roberts", "scrum", "lean")}
    holders = {"roberts": 10, "scrum": 11, "lean": None}
    supervised = {"roberts": {12}, "scrum": {11}, "lean": {10}}  # 10 runs, but as lean
    [problem] = stray_lock_holders(holders, supervised, locks)
    assert problem.startswith("roberts: pid 10 holds /h/state/roberts.lock")
    assert "kill 10" in problem


@pytest.mark.parametrize(
    ("environ", "home"),
    [
        ({"SWARMSH_HOME": "/data/swarm", "HOME": "/u"}, Path("/data/swarm")),
        ({"HOME": "/u"}, Path("/u/.swarmsh")),
        ({"SWARMSH_HOME": "~/x", "HOME": "/u"}, Path("/u/x")),
        ({"SWARMSH_HOME": "", "HOME": "/u"}, Path("/u/.swarmsh")),
        ({}, None),  # no HOME: cannot tell
        ({"SWARMSH_HOME": "rel"}, None),  # relative to a directory we cannot know
    ],
)
def test_home_from_environ(environ: dict[str, str], home: Path | None) -> None:
    assert home_from_environ(environ) == home


def test_lock_holder_is_the_process_holding_the_flock(tmp_path: Path) -> None:
    lock = tmp_path / "roberts.lock"
    lock.write_text("1\n")  # a stale pid in the file is not what counts
    assert lock_holder(lock) is None
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); sys.stdin.read()",
            str(lock),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        assert lock_holder(lock) == holder.pid
    finally:
        holder.communicate("")
    assert lock_holder(lock) is None
    assert lock_holder(tmp_path / "missing.lock") is None


def test_var_is_made_owner_only_and_so_are_old_logs(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    (var / "supervisord.log").write_text("old")
    (var / "supervisord.log").chmod(0o644)
    (var / "roberts.log.1").write_text("old")
    (var / "roberts.log.1").chmod(0o640)
    make_private_dir(var)
    tighten_logs(var)
    assert var.stat().st_mode & 0o777 == 0o700
    assert {p.name: p.stat().st_mode & 0o777 for p in var.iterdir()} == {
        "supervisord.log": 0o600,
        "roberts.log.1": 0o600,
    }
    fresh = make_private_dir(tmp_path / "fresh")
    assert fresh.stat().st_mode & 0o777 == 0o700


def test_a_var_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "var").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(SupervisorError, match="not a directory owned by you"):
        make_private_dir(tmp_path / "var")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a directory away")
def test_a_var_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    os.chown(var, 65534, 65534)
    with pytest.raises(SupervisorError, match=str(var)):
        make_private_dir(var)


def test_a_daemon_whose_supervisord_has_gone_does_not_start() -> None:
    # its parent (this test) is no supervisord: as if supervisord died before the prctl
    code = "from swarmsh.daemon import die_with_supervisor; die_with_supervisor()"
    env = dict(os.environ, SUPERVISOR_ENABLED="1")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 1 and "SupervisorGone" in result.stderr
    del env["SUPERVISOR_ENABLED"]  # not under supervisord: nothing to check
    assert subprocess.run([sys.executable, "-c", code], env=env).returncode == 0


def test_a_stale_pid_file_naming_another_process_is_no_supervisord(tmp_path: Path) -> None:
    from swarmsh.supervisor import SupervisorClient, is_supervisord

    (tmp_path / "supervisord.conf").write_text("")
    client = SupervisorClient(tmp_path / "supervisord.conf")
    make_private_dir(client.var)
    (client.var / "supervisord.pid").write_text(f"{os.getpid()}\n")  # alive, but pytest
    assert not is_supervisord(os.getpid())
    assert client.pid() is None
    assert client.swarm_home() is None


def test_waiting_for_supervisord_to_exit_is_bounded_and_names_it(tmp_path: Path) -> None:
    from swarmsh.supervisor import SupervisorClient

    client = SupervisorClient(tmp_path / "supervisord.conf")
    lingering = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with pytest.raises(SupervisorError, match=f"pid {lingering.pid}.*supervisord.log"):
            client.wait_exited(lingering.pid, timeout=0.2)
    finally:
        lingering.kill()
        lingering.wait()
    client.wait_exited(lingering.pid, timeout=0.2)  # gone: returns at once
