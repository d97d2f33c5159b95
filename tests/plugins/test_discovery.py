"""Plug-ins found through entry points of really installed distributions, in real processes:
what loads, what is reported (naming the distribution and the entry point), and that no
broken plug-in touches a built-in command."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import read_jsonl
from tests.plugins.conftest import make_dist, run, with_sites

BROKEN_ENTRY_POINTS = {
    "swarmsh.commands": {
        "boom": "broken_boom:cli",
        "notgroup": "broken_parts:NOT_A_GROUP",
        "up": "broken_parts:group",
        "Bad.Name": "broken_parts:group",
    },
    "swarmsh.agents": {
        "roberts": "broken_parts:NOT_A_GROUP",
        "wrongtype": "broken_parts:NOT_A_GROUP",
        "misnamed": "swarmsh_example.agent:AGENT",
        "exits": "broken_exit:AGENT",
    },
}
BROKEN_MODULES = {
    "broken_boom": "raise RuntimeError('boom at import')\n",
    "broken_exit": "raise SystemExit(3)\n",
    "broken_parts": "import click\nNOT_A_GROUP = 42\ngroup = click.Group('g')\n",
}


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dist(
        tmp_path_factory.mktemp("broken-site"),
        "broken-plugins",
        BROKEN_ENTRY_POINTS,
        BROKEN_MODULES,
    )


def where(name: str, value: str, group: str = "swarmsh.commands") -> str:
    return f"distribution broken-plugins 1.0, entry point {group}: {name} = {value}"


def test_the_example_plugins_command_records_its_span(example_site: Path, tmp_path: Path) -> None:
    env = with_sites(example_site, home=tmp_path / "home")
    done = run(env, "-m", "swarmsh", "example", "ping", "t1")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    [span] = read_jsonl(tmp_path / "home" / "spans.jsonl")
    assert span["name"] == "swarmsh.example.ping"
    assert span["status"] == "OK"
    assert span["attributes"]["example.target"] == "t1"
    assert span["attributes"]["swarm.agent"] == "example"
    helped = run(env, "-m", "swarmsh", "example", "--help")
    assert helped.returncode == 0, helped.stderr
    assert all(name in helped.stdout for name in ("ping", "pong", "purge"))


def test_a_built_in_command_never_looks_for_plugins(broken_site: Path, tmp_path: Path) -> None:
    env = with_sites(broken_site, home=tmp_path / "home")
    program = (
        "import sys\nfrom swarmsh.cli import cli\n"
        "cli(['roberts', 'second', 'm1'], prog_name='swarmsh', standalone_mode=False)\n"
        "print('swarmsh.plugins.discovery' in sys.modules)\n"
    )
    done = run(env, "-c", program)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "False"
    done = run(env, "-m", "swarmsh", "roberts", "second", "m1")
    assert done.returncode == 0, done.stderr
    assert "plug-in" not in done.stderr


def test_broken_command_plugins_are_reported_and_left_out(
    broken_site: Path, tmp_path: Path
) -> None:
    env = with_sites(broken_site, home=tmp_path / "home")
    boom = run(env, "-m", "swarmsh", "boom")
    assert boom.returncode == 2
    assert where("boom", "broken_boom:cli") in boom.stderr
    assert "RuntimeError: boom at import" in boom.stderr
    assert "No such command 'boom'" in boom.stderr
    notgroup = run(env, "-m", "swarmsh", "notgroup")
    assert notgroup.returncode == 2
    assert where("notgroup", "broken_parts:NOT_A_GROUP") in notgroup.stderr
    assert "it is a int, not a click group" in notgroup.stderr
    # the built-in `up` is the one that runs; the plug-in taking its name is reported in help
    helped = run(env, "-m", "swarmsh", "--help")
    assert helped.returncode == 0, helped.stderr
    assert where("up", "broken_parts:group") in helped.stderr
    assert "'up' is a built-in swarmsh command" in helped.stderr
    assert "Bad.Name" in helped.stderr and "the name must be" in helped.stderr
    assert "roberts" in helped.stdout and "status" in helped.stdout
    assert "notgroup" not in helped.stdout and "boom" not in helped.stdout


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("wrongtype", "broken_parts:NOT_A_GROUP", "it is a int, not a swarmsh.agents.base.Agent"),
        ("misnamed", "swarmsh_example.agent:AGENT", "its Agent is named 'echo'"),
        ("exits", "broken_exit:AGENT", "loading it failed: SystemExit: 3"),
        ("roberts-ish", None, "no agent 'roberts-ish'"),
    ],
)
def test_broken_agent_plugins_do_not_run(
    broken_site: Path, example_site: Path, name: str, value: str | None, problem: str
) -> None:
    done = run(with_sites(broken_site, example_site), "-m", "swarmsh.agents", name)
    assert done.returncode == 2
    assert problem in done.stderr
    if value is not None:
        assert where(name, value, "swarmsh.agents") in done.stderr


def test_up_makes_programs_only_of_agents_that_load(broken_site: Path, example_site: Path) -> None:
    program = "from swarmsh.plugins.discovery import loadable_agents\nprint(loadable_agents())"
    done = run(with_sites(broken_site, example_site), "-c", program)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['echo']"
    assert "'roberts' is a built-in swarmsh daemon" in done.stderr
    assert where("wrongtype", "broken_parts:NOT_A_GROUP", "swarmsh.agents") in done.stderr


def test_a_name_two_distributions_claim_is_neithers(example_site: Path, tmp_path: Path) -> None:
    rival = make_dist(
        tmp_path / "rival",
        "rival-plugin",
        {"swarmsh.commands": {"example": "rival:group"}},
        {"rival": "import click\ngroup = click.Group('example')\n"},
    )
    done = run(with_sites(example_site, rival, home=tmp_path / "home"), "-m", "swarmsh", "example")
    assert done.returncode == 2
    assert "2 distributions declare the name 'example'" in done.stderr
    assert "distribution rival-plugin 1.0" in done.stderr
    assert "distribution swarmsh-example-plugin 0.1.0" in done.stderr


def test_python_m_swarmsh_agents_runs_built_ins_by_name_too(example_site: Path) -> None:
    env = with_sites(example_site)
    for name in ("roberts", "rules", "echo"):
        helped = run(env, "-m", "swarmsh.agents", name, "--help")
        assert helped.returncode == 0, helped.stderr
        assert "--from [checkpoint|beginning|end]" in helped.stdout
    nameless = run(env, "-m", "swarmsh.agents")
    assert nameless.returncode == 2 and "name the agent to run" in nameless.stderr


def test_python_m_swarmsh_plugins_lists_them_and_writes_programs(
    example_site: Path, broken_site: Path, tmp_path: Path
) -> None:
    conf = tmp_path / "supervisord.conf"
    conf.write_text("[supervisord]\n")
    done = run(
        with_sites(example_site, broken_site),
        "-m",
        "swarmsh.plugins",
        "--write-programs",
        str(conf),
    )
    assert done.returncode == 0, done.stderr
    assert "swarmsh.commands: example\nswarmsh.agents: echo\n" in done.stdout
    assert where("boom", "broken_boom:cli") in done.stderr
    written = (tmp_path / "var" / "plugins.conf").read_text()
    assert "[program:echo]" in written and "programs=echo\n" in written
    assert (tmp_path / "var").stat().st_mode & 0o077 == 0
