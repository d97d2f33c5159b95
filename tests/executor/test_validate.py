"""NextCommand -> argv through the CLI's own parameters; anything else is refused."""

from __future__ import annotations

import pytest

from swarmsh.cli import cli
from swarmsh.errors import CommandRejected
from swarmsh.executor.validate import build_argv
from tests.agents.test_rules import TABLE, apply


def test_every_command_an_agent_can_emit_is_a_valid_cli_invocation() -> None:
    emitted = []
    for agent, trigger, attrs, states, *_ in TABLE:
        for request in apply(agent, trigger, attrs, states).commands:
            emitted.append(request)
            argv = build_argv(cli, request.command, request.args)
            assert argv[:2] == request.command.split(".")[1:]
    # each of the four reactions of DESIGN.md is covered by the table
    assert {r.command for r in emitted} == {
        "swarmsh.roberts.call-to-order",
        "swarmsh.scrum.plan",
        "swarmsh.lean.define",
        "swarmsh.roberts.open",
    }


@pytest.mark.parametrize(
    ("command", "args", "argv"),
    [
        (
            "swarmsh.scrum.plan",
            {"sprint": 42, "team": "alpha"},
            ["scrum", "plan", "42", "--team", "alpha"],
        ),
        (
            "swarmsh.scrum.review",
            {"sprint": "7", "team": "t", "velocity": 3, "defect-rate": 1.5},
            ["scrum", "review", "7", "--team", "t", "--velocity", "3", "--defect-rate", "1.5"],
        ),
        (
            "swarmsh.lean.improve",
            {"project": "p", "pilot_success": False, "improvement": ["a", "b"]},
            ["lean", "improve", "p", "--pilot-failure", "--improvement", "a", "--improvement", "b"],
        ),
        (
            "swarmsh.lean.define",
            {"project": "p", "problem": "rm -rf / ; $(reboot) `id` | cat"},
            ["lean", "define", "p", "--problem", "rm -rf / ; $(reboot) `id` | cat"],
        ),
    ],
)
def test_valid_commands_become_argv(command: str, args: dict, argv: list[str]) -> None:
    assert build_argv(cli, command, args) == argv


@pytest.mark.parametrize(
    ("command", "args", "why"),
    [
        ("swarmsh.roberts.impeach", {}, "unknown command"),
        ("swarmsh.status", {}, "unknown command"),
        ("swarmsh.semconv.check", {"file": "/etc/passwd"}, "unknown command"),
        ("os.system", {}, "unknown command"),
        ("swarmsh.roberts", {}, "unknown command"),
        ("swarmsh.scrum.plan.extra", {}, "unknown command"),
        ("swarmsh.scrum.plan", {"sprint": 42}, "--team"),
        ("swarmsh.scrum.plan", {"sprint": "x", "team": "a"}, "not a valid integer"),
        ("swarmsh.scrum.plan", {"sprint": 42, "team": "a", "home": "/tmp"}, "no argument 'home'"),
        ("swarmsh.scrum.plan", {"sprint": 42, "team": "--home=/tmp"}, "read as an option"),
        ("swarmsh.scrum.plan", {"sprint": "-1", "team": "a"}, "read as an option"),
        ("swarmsh.scrum.plan", {"sprint": 42, "team": ["a", "b"]}, "string or a number"),
        ("swarmsh.scrum.plan", {"sprint": 42, "team": {"x": 1}}, "string or a number"),
        ("swarmsh.scrum.plan", {"sprint": True, "team": "a"}, "string or a number"),
        ("swarmsh.lean.define", {"project": "../../etc", "problem": "x"}, "not a valid id"),
        ("swarmsh.lean.define", {"project": "p", "problem": "x" * 5000}, "too long"),
        ("swarmsh.lean.improve", {"project": "p", "pilot_success": "yes"}, "true or false"),
        ("swarmsh.scrum.plan", {"sprint": 42, "team": "a", "help": True}, "no argument 'help'"),
    ],
)
def test_bad_commands_are_refused(command: str, args: dict, why: str) -> None:
    with pytest.raises(CommandRejected, match=why):
        build_argv(cli, command, args)
