"""The bus as the executor's ledger: which span proves that a command ran, in which files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from swarmsh.bus.records import SpanRecord, dumps_line
from swarmsh.executor.ledger import (
    MAX_PENDING,
    RanCommands,
    bus_position,
    command_ran,
    commands_ran,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
EXECUTE_ID = "da3d0a08b936f935"


def span(
    name: str,
    cid: str = "c1",
    *,
    span_id: str = "c6500637e0ba35a3",
    parent: str | None = EXECUTE_ID,
    status: str = "OK",
    **attributes: Any,
) -> dict[str, Any]:
    return {
        "name": name,
        "trace_id": TRACE,
        "span_id": span_id,
        "parent_span_id": parent,
        "timestamp": 1.0,
        "status": status,
        "attributes": {"swarm.command.id": cid, **attributes},
    }


def execute(cid: str = "c1", command: str = "swarmsh.scrum.plan", **kw: Any) -> dict[str, Any]:
    return span(
        "swarmsh.command.execute",
        cid,
        span_id=kw.pop("span_id", EXECUTE_ID),
        parent="00f067aa0ba902b7",
        **{"swarm.command": command, **kw},
    )


def cli(cid: str = "c1", name: str = "swarmsh.scrum.plan", **kw: Any) -> dict[str, Any]:
    return span(name, cid, **kw)


def iteration(cid: str = "c1") -> dict[str, Any]:
    return span("swarm.loop.iteration", cid, span_id="1111111111111111", parent="2" * 16)


def ran(*records: dict[str, Any]) -> dict[str, str]:
    found = RanCommands()
    for record in records:
        found.feed(SpanRecord.from_dict(record))
    return found.ran


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ([cli(), execute()], {"c1": "swarmsh.scrum.plan"}),  # as written: the child ends first
        ([execute(), cli()], {"c1": "swarmsh.scrum.plan"}),
        ([iteration()], {}),  # the agent's span carries the id: it proves nothing
        ([iteration(), execute(status="ERROR")], {}),
        ([cli(status="ERROR"), execute(status="ERROR")], {}),  # a failed attempt
        ([cli()], {}),  # no execute parent
        ([execute()], {}),
        ([cli(parent="3" * 16), execute()], {}),  # under another parent
        ([cli(name="swarmsh.scrum.review"), execute()], {}),  # not the command's name
        ([cli(cid="c2"), execute()], {}),  # another command's id
        ([cli(), execute(cid="c2")], {}),
        (
            [cli(status="ERROR"), execute(status="ERROR"), cli(span_id="4" * 16), execute()],
            {"c1": "swarmsh.scrum.plan"},  # the second attempt ran
        ),
    ],
)
def test_only_the_commands_own_cli_span_under_its_execute_span_proves_it_ran(
    records: list[dict[str, Any]], expected: dict[str, str]
) -> None:
    assert ran(*records) == expected


def write(path: Path, *records: dict[str, Any]) -> None:
    with open(path, "ab") as fh:
        for record in records:
            fh.write(dumps_line(record))


def test_command_ran_looks_from_the_intent_on_not_before(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    write(bus, cli(), execute())
    since = bus_position(bus)
    write(bus, iteration())
    assert command_ran(bus, "c1", "swarmsh.scrum.plan", None)
    assert not command_ran(bus, "c1", "swarmsh.scrum.plan", since)
    write(bus, cli(span_id="5" * 16, parent="6" * 16), execute(span_id="6" * 16))
    assert command_ran(bus, "c1", "swarmsh.scrum.plan", since)
    assert not command_ran(bus, "c1", "swarmsh.scrum.review", since)


@pytest.mark.parametrize("rotations", [1, 3])
def test_command_ran_follows_the_intents_file_through_rotations(
    tmp_path: Path, rotations: int
) -> None:
    """The span may sit in the intent's file under a rotated name, or in any later one."""
    bus = tmp_path / "spans.jsonl"
    write(bus, iteration("old"))
    since = bus_position(bus)
    write(bus, cli(), execute())
    for _ in range(rotations):  # logrotate's numbered scheme: shift older files along
        for n in range(10, 0, -1):
            if (tmp_path / f"spans.jsonl.{n}").exists():
                os.rename(tmp_path / f"spans.jsonl.{n}", tmp_path / f"spans.jsonl.{n + 1}")
        os.rename(bus, tmp_path / "spans.jsonl.1")
        write(bus, iteration("new") | {"pad": "x" * 500})  # longer than the intent's offset
    assert command_ran(bus, "c1", "swarmsh.scrum.plan", since)
    assert not command_ran(bus, "c2", "swarmsh.scrum.plan", since)


def test_command_ran_finds_the_span_in_a_later_generation(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    write(bus, iteration())
    since = bus_position(bus)
    os.rename(bus, tmp_path / "spans.jsonl.1")
    write(bus, iteration("x"), cli(), execute())
    assert command_ran(bus, "c1", "swarmsh.scrum.plan", since)


def test_commands_ran_reads_every_generation_and_skips_junk(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    write(bus, cli("a"), execute("a"), iteration("b"))
    os.rename(bus, tmp_path / "spans.jsonl.1")
    with open(bus, "ab") as fh:
        fh.write(b'not json "swarm.command.id":"x"\n')
    write(bus, cli("b", span_id="7" * 16, parent="8" * 16), execute("b", span_id="8" * 16))
    with open(bus, "ab") as fh:  # an unfinished last line is no span yet
        fh.write(dumps_line(cli("c", parent="9" * 16))[:-1])
    assert commands_ran(bus) == {"a": "swarmsh.scrum.plan", "b": "swarmsh.scrum.plan"}


def test_a_pair_split_across_two_files_is_not_a_write_of_ours(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    write(bus, cli())
    os.rename(bus, tmp_path / "spans.jsonl.1")
    write(bus, execute())
    assert commands_ran(bus) == {}


def test_commands_ran_skips_an_over_long_line_across_chunks(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    with open(bus, "wb") as fh:
        fh.write(b'{"swarm.command.id":"' + b"x" * (6 << 20) + b"\n")
    write(bus, cli(), execute())
    assert commands_ran(bus) == {"c1": "swarmsh.scrum.plan"}


def test_no_bus_no_commands(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    assert bus_position(bus) is None
    assert commands_ran(bus) == {}
    assert not command_ran(bus, "c1", "swarmsh.scrum.plan", None)


def test_unmatched_halves_are_kept_in_bounded_memory() -> None:
    found = RanCommands()
    for i in range(3 * MAX_PENDING):  # the agents' spans: never matched
        found.feed(SpanRecord.from_dict(iteration(f"i{i}")))
    found.feed(SpanRecord.from_dict(cli()))
    found.feed(SpanRecord.from_dict(execute()))
    assert found.ran == {"c1": "swarmsh.scrum.plan"}
    assert len(found._children) <= MAX_PENDING


def test_a_planted_symlink_or_fifo_is_not_searched(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.jsonl"
    write(elsewhere, cli(), execute())  # a forged proof, outside the bus's directory
    home = tmp_path / "home"
    home.mkdir()
    bus = home / "spans.jsonl"
    write(bus, iteration())
    os.symlink(elsewhere, home / "spans.jsonl.1")
    os.mkfifo(home / "spans.jsonl.2")  # opening it for reading would block
    assert commands_ran(bus) == {}
    assert not command_ran(bus, "c1", "swarmsh.scrum.plan", None)
    os.unlink(bus)
    os.symlink(elsewhere, bus)
    assert bus_position(bus) is None
    assert commands_ran(bus) == {}
