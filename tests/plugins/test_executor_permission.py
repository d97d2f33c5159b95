"""Which plug-in commands the executor may run: only those the plug-in declares."""

from __future__ import annotations

import configparser
import json
import logging
from pathlib import Path

import click
import pytest

from swarmsh.plugins import allow_executor, executor_commands
from swarmsh.plugins.permissions import EXECUTOR_ATTRIBUTE
from swarmsh.plugins.programs import render
from tests.plugins.conftest import run, with_sites


def make_group() -> click.Group:
    group = click.Group("g")
    group.add_command(click.Command("go", callback=lambda: None))
    group.add_command(click.Command("stay", callback=lambda: None))
    group.add_command(click.Group("sub"))
    return group


def test_nothing_is_allowed_unless_declared() -> None:
    assert executor_commands(make_group()) == frozenset()


def test_only_declared_plain_commands_that_exist_are_allowed() -> None:
    group = allow_executor(make_group(), "go", "sub", "missing")
    assert executor_commands(group) == {"go"}


@pytest.mark.parametrize("name", ["Go", "-go", "go now", "", "a" * 65, 3])
def test_a_declaration_of_no_command_name_is_an_error(name: object) -> None:
    with pytest.raises(ValueError, match="is not a command name"):
        allow_executor(make_group(), name)  # type: ignore[arg-type]


def test_a_declaration_of_the_wrong_shape_allows_nothing(caplog: pytest.LogCaptureFixture) -> None:
    group = make_group()
    setattr(group, EXECUTOR_ATTRIBUTE, "go")  # a string is not a set of names
    with caplog.at_level(logging.WARNING):
        assert executor_commands(group) == frozenset()
    assert "must be a set of command names, not str" in caplog.text


RESOLVE = """
import json, sys
from swarmsh.cli import cli
from swarmsh.errors import CommandRejected
from swarmsh.executor.validate import build_argv
out = {}
for dotted, args in json.loads(sys.argv[1]):
    try:
        out[dotted + json.dumps(args)] = build_argv(cli, dotted, args)
    except CommandRejected as exc:
        out[dotted + json.dumps(args)] = str(exc)
print(json.dumps(out))
"""


def test_the_executor_resolves_declared_plugin_commands_only(example_site: Path) -> None:
    cases = [
        ("swarmsh.example.pong", {"target": "t1"}),
        ("swarmsh.example.purge", {"target": "t1"}),
        ("swarmsh.example.ping", {"target": "t1"}),
        ("swarmsh.example.pong", {"target": "--home=/etc"}),
        ("swarmsh.example.pong", {"target": "t1", "home": "/etc"}),
        ("swarmsh.up.x", {}),
        ("swarmsh.rules.check", {}),
        ("swarmsh.nosuch.x", {}),
        ("swarmsh.roberts.second", {"motion": "m1"}),
    ]
    done = run(with_sites(example_site), "-c", RESOLVE, json.dumps(cases))
    assert done.returncode == 0, done.stderr
    got = list(json.loads(done.stdout).values())
    assert got[0] == ["example", "pong", "t1"]
    assert "the plug-in 'example' does not allow the executor to run 'purge'" in got[1]
    assert "does not allow the executor to run 'ping'" in got[2]
    assert "would be read as an option" in got[3]
    assert "has no argument 'home'" in got[4]
    assert got[5:8] == [f"unknown command '{d}'" for d, _ in cases[5:8]]
    assert got[8] == ["roberts", "second", "m1"]


def test_without_the_plugin_installed_its_commands_are_unknown() -> None:
    done = run(with_sites(), "-c", RESOLVE, json.dumps([["swarmsh.example.pong", {"target": "t"}]]))
    assert done.returncode == 0, done.stderr
    assert list(json.loads(done.stdout).values()) == ["unknown command 'swarmsh.example.pong'"]


def test_the_generated_programs_run_each_agent_by_name_in_their_own_group() -> None:
    conf = configparser.RawConfigParser()
    conf.read_string(render(["echo", "other"]))
    assert conf.get("group:plugins", "programs") == "echo,other"
    assert conf.get("program:echo", "command") == (
        "%(here)s/../.venv/bin/python -m swarmsh.agents echo"
    )
    assert conf.get("program:other", "stopasgroup") == "true"
    empty = configparser.RawConfigParser()
    empty.read_string(render([]))
    assert empty.sections() == []
