"""`swarmsh.instrument` on a third-party click application run as a real process: its spans
on the bus under swarmsh's conventions, in the trace TRACEPARENT names, seen by `swarmsh tail`."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import Any

import click
import pytest

from swarmsh.instrument import MAX_ITEMS, MAX_PARAMS, MAX_VALUE_CHARS, REDACTED, param_attributes
from tests.conftest import read_jsonl
from tests.plugins.conftest import run, with_sites

APP = textwrap.dedent(
    """
    import click
    from swarmsh.instrument import instrument, swarmsh_span

    @click.group()
    def cli():
        "A third-party tool."

    @cli.command()
    @click.argument("name")
    @click.option("--count", type=int, default=1)
    @click.option("--api-token")
    @click.option("--tag", multiple=True)
    def greet(name, count, api_token, tag):
        click.echo(f"hello {name}")

    @cli.group()
    def db():
        pass

    @db.command()
    def migrate():
        raise ValueError("schema is locked")

    @cli.command()
    def done():
        click.get_current_context().exit(0)

    instrument(cli, service="myapp")

    @swarmsh_span("single")
    @click.command()
    @click.password_option()
    def alone(password):
        pass

    if __name__ == "__main__":
        import sys
        (alone if sys.argv[1:2] == ["alone"] else cli)(
            sys.argv[2:] if sys.argv[1:2] == ["alone"] else sys.argv[1:]
        )
    """
)
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"


@pytest.fixture
def app(tmp_path: Path) -> Path:
    path = tmp_path / "myapp.py"
    path.write_text(APP)
    return path


def spans(home: Path) -> list[dict[str, Any]]:
    return read_jsonl(home / "spans.jsonl")


def test_each_run_of_an_instrumented_command_is_a_span(app: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = with_sites(home=home)
    greeted = run(
        env, str(app), "greet", "ann", "--count", "3", "--api-token", "s3cr3t", "--tag", "a"
    )
    assert greeted.returncode == 0, greeted.stderr
    assert greeted.stdout == "hello ann\n"
    [greet] = spans(home)
    assert greet["name"] == "myapp.greet" and greet["status"] == "OK"
    assert greet["attributes"] == {
        "swarm.agent": "myapp",
        "swarm.trigger": "greet",
        "cli.param.name": "ann",
        "cli.param.count": 3,
        "cli.param.api_token": REDACTED,
        "cli.param.tag": ["a"],
    }
    assert "s3cr3t" not in (home / "spans.jsonl").read_text()

    failed = run(env, str(app), "db", "migrate")
    assert failed.returncode == 1 and "schema is locked" in failed.stderr
    migrate = spans(home)[-1]
    assert migrate["name"] == "myapp.db.migrate" and migrate["status"] == "ERROR"
    assert migrate["status_message"] == "ValueError: schema is locked"
    [event] = migrate["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"] == "ValueError"

    assert run(env, str(app), "done").returncode == 0
    assert spans(home)[-1]["name"] == "myapp.done" and spans(home)[-1]["status"] == "OK"

    alone = run(env, str(app), "alone", "--password", "hunter2")
    assert alone.returncode == 0, alone.stderr
    assert spans(home)[-1]["name"] == "single"
    assert spans(home)[-1]["attributes"]["cli.param.password"] == REDACTED

    tail = run(env, "-m", "swarmsh", "tail", "--name", "myapp.", "-n", "5")
    assert tail.returncode == 0, tail.stderr
    assert "myapp.greet" in tail.stdout and "myapp.db.migrate" in tail.stdout


def test_traceparent_places_the_span_in_the_callers_trace(app: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**with_sites(home=home), "TRACEPARENT": f"00-{TRACE}-{PARENT}-01"}
    assert run(env, str(app), "greet", "bob").returncode == 0
    [span] = spans(home)
    assert span["trace_id"] == TRACE and span["parent_span_id"] == PARENT

    env["TRACEPARENT"] = "00-not-a-trace-01"
    bad = run(env, str(app), "greet", "bob")
    assert bad.returncode == 0
    assert "swarmsh.instrument: TRACEPARENT" in bad.stderr and "ignored" in bad.stderr
    assert spans(home)[-1]["trace_id"] != TRACE and spans(home)[-1]["parent_span_id"] is None


def test_an_unwritable_bus_never_fails_the_application(app: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "spans.jsonl").mkdir()  # not a file: the span cannot be written
    done = run(with_sites(home=home), str(app), "greet", "ann")
    assert done.returncode == 0 and done.stdout == "hello ann\n"
    assert "swarmsh.instrument:" in done.stderr


def test_parameter_attributes_are_bounded() -> None:
    declared = {f"p{i}": click.Option([f"--p{i}"]) for i in range(MAX_PARAMS + 5)}
    values: dict[str, Any] = {f"p{i}": i for i in range(MAX_PARAMS + 5)}
    assert len(param_attributes(values, declared)) == MAX_PARAMS
    opt = {"x": click.Option(["--x"])}
    long = param_attributes({"x": "y" * 10_000}, opt)["cli.param.x"]
    assert len(long) == MAX_VALUE_CHARS and long.endswith("…")
    assert param_attributes({"x": "a\x1b[2Jb"}, opt)["cli.param.x"] == "a\\x1b[2Jb"
    assert param_attributes({"x": list(range(100))}, opt)["cli.param.x"] == tuple(range(MAX_ITEMS))
    assert param_attributes({"x": [1, "a"]}, opt)["cli.param.x"] == ("1", "a")
    assert param_attributes({"x": 2**70}, opt)["cli.param.x"] == str(2**70)
    assert param_attributes({"x": math.nan}, opt)["cli.param.x"] == "nan"
    assert param_attributes({"x": None}, opt) == {}
    assert param_attributes({"secret_key": "k"}, {"secret_key": click.Option(["--k"])}) == {
        "cli.param.secret_key": REDACTED
    }
