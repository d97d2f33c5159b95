"""Secure by default: no shell, eval, exec or pickle; owner-only files; no inet control server."""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from swarmsh.bus.deadletter import DeadLetterWriter
from swarmsh.bus.writer import JsonlWriter
from swarmsh.cli import cli
from swarmsh.daemon import InstanceLock
from swarmsh.errors import BusWriteError, SwarmshError
from swarmsh.fsutil import dir_problem, write_atomic
from swarmsh.store import StateStore

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = [
    (r"shell\s*=\s*True", "shell=True"),
    (r"(?<![\w.])eval\(", "eval("),
    (r"(?<![\w.])exec\(", "exec("),
    (r"\bpickle\b", "pickle"),
    (r"\bmarshal\.loads\b", "marshal.loads"),
    (r"\bos\.system\(", "os.system("),
    (r"\bos\.popen\(", "os.popen("),
    (r"yaml\.load\(", "yaml.load("),
]


@pytest.mark.parametrize(("pattern", "what"), FORBIDDEN, ids=[w for _, w in FORBIDDEN])
def test_the_package_never_uses(pattern: str, what: str) -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for path in sorted((REPO / "swarmsh").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(pattern, line) and not line.lstrip().startswith("#")
    ]
    assert offenders == [], f"{what} in {offenders}"


def test_the_grep_would_catch_a_violation(tmp_path: Path) -> None:
    sample = "subprocess.run(cmd, shell=True)\nvalue = eval(text)\nimport pickle\n"
    hits = [what for pattern, what in FORBIDDEN if re.search(pattern, sample)]
    assert hits == ["shell=True", "eval(", "pickle"]


def test_supervisord_conf_has_only_an_owner_only_unix_socket() -> None:
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";",))
    parser.read(REPO / "supervisord.conf")
    assert "inet_http_server" not in parser.sections()
    assert parser.get("unix_http_server", "chmod") == "0700"
    assert parser.get("supervisord", "umask") == "077"
    assert parser.get("supervisorctl", "serverurl").startswith("unix://")
    programs = [s for s in parser.sections() if s.startswith("program:")]
    assert sorted(programs) == [
        "program:executor",
        "program:lean",
        "program:receiver",
        "program:roberts",
        "program:rules",
        "program:scrum",
        "program:shipper",
    ]
    for section in programs:
        assert parser.get(section, "command").startswith("%(here)s/.venv/bin/python -m swarmsh.")
        assert parser.get(section, "stopsignal") == "TERM"
        assert parser.get(section, "stopasgroup") == parser.get(section, "killasgroup") == "true"
        assert "PYTHONUNBUFFERED" in parser.get(section, "environment")


# Symlinks and loose homes (issue 10, item 12): nothing is opened through a symlink, and a
# home, state/ or deadletter/ that someone else could write is refused with the fix.

PRECIOUS = b"precious\n"


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A file outside the home that a planted symlink points at."""
    path = tmp_path / "victim"
    path.write_bytes(PRECIOUS)
    return path


def _private(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def test_a_planted_instance_lock_symlink_is_refused_and_its_target_kept(
    home: Path, victim: Path
) -> None:
    (_private(home / "state") / "roberts.lock").symlink_to(victim)
    with pytest.raises(SwarmshError, match="symbolic link"):
        InstanceLock(home / "state", "roberts").acquire()
    assert victim.read_bytes() == PRECIOUS


@pytest.mark.parametrize("planted", ["spans.jsonl", "spans.jsonl.lock"])
def test_the_cli_never_writes_through_a_planted_symlink(
    home: Path, victim: Path, planted: str
) -> None:
    (_private(home) / planted).symlink_to(victim)
    result = CliRunner().invoke(cli, ["roberts", "second", "m1"])
    assert result.exit_code == 3, result.output  # the action was not recorded
    assert "symbolic link" in result.output and planted in result.output
    assert victim.read_bytes() == PRECIOUS


def test_dead_letters_and_the_queue_never_follow_a_symlink(home: Path, victim: Path) -> None:
    (_private(home / "deadletter") / "executor.jsonl").symlink_to(victim)
    letters = DeadLetterWriter(home / "deadletter" / "executor.jsonl")
    letters.write_record({"reason": "x"})
    assert letters.written == 0
    (home / "commands.jsonl").symlink_to(victim)
    with pytest.raises(BusWriteError, match="symbolic link"):
        JsonlWriter(home / "commands.jsonl").append([b"{}\n"])
    assert victim.read_bytes() == PRECIOUS


def test_a_state_db_symlink_is_refused(home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "elsewhere.db"
    empty.touch()
    (_private(home / "state") / "roberts.db").symlink_to(empty)
    with pytest.raises(SwarmshError, match="symbolic link"):
        StateStore(home / "state" / "roberts.db")
    assert empty.read_bytes() == b""  # sqlite did not make it a database


def test_write_atomic_never_writes_through_a_planted_temporary(home: Path, victim: Path) -> None:
    target = _private(home / "state") / "start.json"
    (target.parent / f".start.json.{os.getpid()}.tmp").symlink_to(victim)
    with pytest.raises(SwarmshError, match="symbolic link"):
        write_atomic(target, b"{}")
    assert victim.read_bytes() == PRECIOUS
    assert not target.exists()


@pytest.mark.parametrize("where", ["", "state", "deadletter"])
@pytest.mark.parametrize("mode", [0o777, 0o770, 0o702])
def test_a_writable_home_state_or_deadletter_dir_is_refused(
    home: Path, where: str, mode: int
) -> None:
    loose = _private(home / where)
    os.chmod(loose, mode)
    result = CliRunner().invoke(cli, ["roberts", "second", "m1"])
    assert result.exit_code == 2, result.output
    assert str(loose) in result.output and f"chmod 700 {loose}" in result.output
    assert "writable" in result.output
    assert not (home / "spans.jsonl").exists()
    assert os.stat(loose).st_mode & 0o777 == mode  # refused, not silently repaired


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a dir away")
@pytest.mark.parametrize("where", ["", "state", "deadletter"])
def test_a_home_owned_by_someone_else_is_refused(home: Path, where: str) -> None:
    foreign = _private(home / where)
    os.chown(foreign, 65534, 65534)
    result = CliRunner().invoke(cli, ["roberts", "second", "m1"])
    assert result.exit_code == 2, result.output
    assert str(foreign) in result.output and "owned by uid 65534" in result.output
    assert not (home / "spans.jsonl").exists()


@pytest.mark.parametrize(
    ("mode", "uid", "problem"),
    [
        (0o40700, 1000, None),
        (0o40755, 1000, None),  # readable by others: ours, so we tighten it
        (0o40775, 1000, "group- or world-writable"),
        (0o40707, 1000, "group- or world-writable"),
        (0o41777, 1000, "group- or world-writable"),  # sticky /tmp is no home
        (0o40700, 1001, "owned by uid 1001"),
        (0o100600, 1000, "not a directory"),
    ],
)
def test_dir_problem_table(mode: int, uid: int, problem: str | None) -> None:
    st = os.stat_result((mode, 0, 0, 1, uid, 0, 0, 0, 0, 0))
    found = dir_problem("/d", st, 1000)
    assert (found is None) if problem is None else (problem in (found or ""))


def test_a_daemon_exits_2_on_a_loose_home(home: Path) -> None:
    os.chmod(_private(home), 0o777)
    proc = subprocess.run(
        [sys.executable, "-m", "swarmsh.agents.roberts"],
        env={**os.environ, "SWARMSH_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"chmod 700 {home}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_existing_loose_home_is_tightened_to_0700_and_its_files_to_0600(home: Path) -> None:
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)  # whatever the umask
    (home / "spans.jsonl").write_bytes(b"")
    os.chmod(home / "spans.jsonl", 0o644)
    (home / "state").mkdir(mode=0o755)
    os.chmod(home / "state", 0o755)
    assert CliRunner().invoke(cli, ["roberts", "second", "m1"]).exit_code == 0
    with StateStore(home / "state" / "roberts.db"):
        pass
    modes = {
        p: os.stat(home / p).st_mode & 0o777
        for p in ("", "spans.jsonl", "spans.jsonl.lock", "state", "state/roberts.db")
    }
    assert modes == {
        "": 0o700,
        "spans.jsonl": 0o600,
        "spans.jsonl.lock": 0o600,
        "state": 0o700,
        "state/roberts.db": 0o600,
    }


# Failpoints (item 14): production code has only a no-op hook; no environment arms it.


def test_no_environment_variable_arms_a_failpoint() -> None:
    code = "from swarmsh.failpoints import failpoint; failpoint('executor-after-intent'); print('alive')"
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "SWARMSH_FAILPOINTS": "executor-after-intent"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (proc.returncode, proc.stdout) == (0, "alive\n"), proc.stderr


def test_the_package_never_reads_a_failpoint_variable() -> None:
    readers = [
        str(path.relative_to(REPO))
        for path in sorted((REPO / "swarmsh").rglob("*.py"))
        if "SWARMSH_FAILPOINTS" in path.read_text() or "FAILPOINT" in path.read_text()
    ]
    assert readers == []


def test_a_planted_fifo_is_refused_rather_than_hanging_a_writer(home: Path) -> None:
    os.mkfifo(_private(home) / "spans.jsonl")
    result = CliRunner().invoke(cli, ["roberts", "second", "m1"])
    assert result.exit_code == 3, result.output
    assert "not a regular file" in result.output


def test_a_home_path_with_control_characters_is_refused(tmp_path: Path) -> None:
    odd = tmp_path / "home\x1b[2J"
    result = CliRunner().invoke(cli, ["--home", str(odd), "roberts", "second", "m1"])
    assert result.exit_code == 2, result.output
    assert "control characters" in result.output and "\x1b" not in result.output
    assert not odd.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to plant a link as someone else")
@pytest.mark.parametrize("where", ["state", "deadletter"])
def test_a_directory_link_planted_by_someone_else_is_refused_even_to_a_dir_of_ours(
    home: Path, tmp_path: Path, where: str
) -> None:
    ours = _private(tmp_path / "ours")  # passes every check itself
    link = _private(home) / where
    link.symlink_to(ours)
    os.lchown(link, 65534, 65534)  # as if planted while the home was loose
    result = CliRunner().invoke(cli, ["roberts", "second", "m1"])
    assert result.exit_code == 2, result.output
    assert str(link) in result.output and "symbolic link owned by uid 65534" in result.output
    assert list(ours.iterdir()) == []


def test_a_home_that_is_a_link_of_ours_is_followed_and_checked(home: Path, tmp_path: Path) -> None:
    target = tmp_path / "real"
    target.mkdir(mode=0o755)
    home.symlink_to(target)
    assert CliRunner().invoke(cli, ["roberts", "second", "m1"]).exit_code == 0
    assert (target / "spans.jsonl").exists()
    assert os.stat(target).st_mode & 0o777 == 0o700


@pytest.mark.parametrize("kind", ["under a file", "dangling link"])
def test_an_unusable_home_is_a_usage_error_not_a_traceback(tmp_path: Path, kind: str) -> None:
    (tmp_path / "file").write_text("")
    if kind == "under a file":
        home = tmp_path / "file" / "home"
    else:
        home = tmp_path / "home"
        home.symlink_to(tmp_path / "nowhere")
    result = CliRunner().invoke(cli, ["--home", str(home), "roberts", "second", "m1"])
    assert result.exit_code == 2, (result.output, result.exception)
    assert str(home) in result.output


@pytest.mark.parametrize(
    "argv", [["tail"], ["tail", "-f"], ["trace", "--last"], ["trace", "a" * 32]]
)
def test_readers_refuse_a_symlinked_bus_with_a_message(
    home: Path, victim: Path, argv: list[str]
) -> None:
    (_private(home) / "spans.jsonl").symlink_to(victim)
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 1, (result.output, result.exception)
    assert "symbolic link" in result.output
