"""`--attr KEY=VALUE` on every domain command: typed as written, keys checked, bounded, carried
on the span and shown by `tail` and `trace`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from swarmsh.cli import cli
from swarmsh.customattrs import AttrRefused, parse, typed
from tests.cli.test_commands import CASES
from tests.conftest import read_jsonl


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5", 5),
        ("-12", -12),
        ("+3", 3),
        ("0", 0),
        ("007", "007"),  # a leading zero: an id, not a number
        ("2.5", 2.5),
        ("-.5", -0.5),
        ("1e3", 1000.0),
        ("true", True),
        ("False", False),
        ("TRUE", True),
        ("yes", "yes"),
        ('"42"', "42"),  # quoted: text, without the quotes
        ("'true'", "true"),
        ('""', ""),
        ('"', '"'),
        ("nan", "nan"),
        ("inf", "inf"),
        ("high", "high"),
        ("a=b", "a=b"),
        (str(2**63 - 1), 2**63 - 1),
    ],
)
def test_values_are_typed_as_written(text: str, value: Any) -> None:
    assert typed(text) == value and type(typed(text)) is type(value)


@pytest.mark.parametrize(
    ("item", "why"),
    [
        ("novalue", "not KEY=VALUE"),
        ("business.value=", "has no value"),
        ("value=5", "dotted lowercase"),  # one segment
        ("Business.value=5", "dotted lowercase"),
        ("business..value=5", "dotted lowercase"),
        ("business.9=5", "dotted lowercase"),
        ("business.value-x=5", "dotted lowercase"),
        ("b." + "k" * 127 + "=5", "at most 128"),
        ("business.note=" + "x" * 1001, "at most 1000"),
        ("business.note=a\x1b[31mb", "U+001B"),
        ("business.note=a\u202eb", "U+202E"),
        ("business.big=" + str(2**63), "beyond a 64-bit integer"),
        ("business.big=1e999", "too large a number"),
        ("swarm.agent=x", "swarm.* namespace"),
        ("swarmsh.x=1", "swarmsh.* namespace"),
        ("roberts.result=passed", "roberts.* namespace"),
        ("scrum.velocity=1", "scrum.* namespace"),
        ("lean.phase=x", "lean.* namespace"),
        ("otel.status_code=OK", "otel.* namespace"),
        ("service.name=spoof", "service.* namespace"),
        ("telemetry.sdk.name=x", "telemetry.* namespace"),
        ("process.exit.code=0", "process.* namespace"),
    ],
)
def test_refused_items(item: str, why: str) -> None:
    with pytest.raises(AttrRefused, match=why.replace("*", r"\*").replace("+", r"\+")):
        parse(item)


def test_bounds_are_inclusive() -> None:
    assert parse("b." + "k" * 126 + "=1")[1] == 1  # a 128-character key
    assert parse("business.note=" + "x" * 1000)[1] == "x" * 1000


def _with_attrs(argv: list[str], *items: str) -> list[str]:
    return [*argv, *(part for item in items for part in ("--attr", item))]


@pytest.mark.parametrize(("argv", "name"), [(argv, name) for argv, name, *_ in CASES])
def test_every_domain_command_carries_them_on_its_span(
    home: Path, argv: list[str], name: str
) -> None:
    result = CliRunner().invoke(
        cli,
        _with_attrs(argv, "business.value=5", "risk.level=high", "approval.required=true"),
    )
    assert result.exit_code == 0, result.output
    (span,) = read_jsonl(home / "spans.jsonl")
    assert span["name"] == name
    custom = {k: v for k, v in span["attributes"].items() if not k.startswith(name.split(".")[1])}
    assert custom["business.value"] == 5 and custom["risk.level"] == "high"
    assert custom["approval.required"] is True


def test_every_command_of_every_domain_group_has_the_option() -> None:
    ctx = click.Context(cli, info_name="swarmsh")
    for group_name in ("roberts", "scrum", "lean"):
        group = cli.get_command(ctx, group_name)
        assert isinstance(group, click.Group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            assert [p.opts for p in command.params if p.name == "attrs"] == [["--attr"]], name


def test_limits_are_usage_errors_that_record_nothing(home: Path) -> None:
    argv = ["roberts", "second", "m1"]
    runner = CliRunner()
    items = [f"business.k{i}={i}" for i in range(33)]
    too_many = runner.invoke(cli, _with_attrs(argv, *items))
    assert too_many.exit_code == 2 and "33 attributes given; at most 32" in too_many.output
    twice = runner.invoke(cli, _with_attrs(argv, "a.b=1", "a.b=2"))
    assert twice.exit_code == 2 and "a.b is given twice" in twice.output
    refused = runner.invoke(cli, _with_attrs(argv, "swarm.agent=lean"))
    assert refused.exit_code == 2 and "swarm.* namespace" in refused.output
    assert not (home / "spans.jsonl").exists()
    ok = runner.invoke(cli, _with_attrs(argv, *items[:32]))
    assert ok.exit_code == 0, ok.output
    (span,) = read_jsonl(home / "spans.jsonl")
    assert sum(k.startswith("business.") for k in span["attributes"]) == 32


def test_tail_and_trace_show_them(home: Path) -> None:
    runner = CliRunner()
    argv = ["roberts", "second", "m1", "--attr", "risk.level=high", "--attr", "business.value=5"]
    assert runner.invoke(cli, argv).exit_code == 0
    tail = runner.invoke(cli, ["tail", "--name", "swarmsh.roberts.second"])
    assert "motion=m1 risk.level=high business.value=5  OK" in click.unstyle(tail.output)
    trace = runner.invoke(cli, ["trace", "--last"])
    assert "motion=m1 risk.level=high business.value=5" in trace.output
    flag = runner.invoke(cli, ["roberts", "second", "m2", "--attr", "approval.required=false"])
    assert flag.exit_code == 0
    assert "approval.required=false" in runner.invoke(cli, ["trace", "--last"]).output


def test_the_executor_passes_them_on_from_a_command_s_args(home: Path) -> None:
    """A rulebook action or agent may give `attr` like any other argument."""
    from swarmsh.executor.validate import build_argv

    argv = build_argv(cli, "swarmsh.scrum.plan", {"sprint": 1, "team": "t", "attr": ["risk.x=1"]})
    assert argv == ["scrum", "plan", "1", "--team", "t", "--attr", "risk.x=1"]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    (span,) = read_jsonl(home / "spans.jsonl")
    assert span["attributes"]["risk.x"] == 1
