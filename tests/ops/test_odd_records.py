"""Operator commands survive any record the readers accept, and never print foreign text raw.

A bus written by anyone with access can hold timestamps of 1e300, durations of 1e300, depths
beyond 64 bits, escape sequences and bidirectional overrides in names, statuses, messages,
resources and attribute values: `tail`, `trace` and the trees `demo` prints show each of
them as one escaped line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmsh.bus.records import SpanRecord
from swarmsh.cli import cli
from swarmsh.cli.tail import format_line
from swarmsh.errors import MalformedRecord
from swarmsh.safetext import UNSAFE
from swarmsh.tracetree import build, render

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
HOSTILE = "\x1b]0;pwned\x07\x1b[2J\r\x9b31m\u202eevil\u2066"


def record(n: int, **changes: Any) -> dict[str, Any]:
    base = {
        "name": "swarmsh.roberts.close",
        "trace_id": TRACE,
        "span_id": f"{n + 1:016x}",
        "parent_span_id": None,
        "timestamp": 1764000000.0 + n,
        "duration_ms": 1.0,
        "status": "OK",
        "attributes": {"roberts.motion_id": "m", "roberts.result": "passed"},
        "resource": {"service.name": "swarmsh-cli"},
    }
    return {**base, **changes}


ODD = [
    record(0, timestamp=1e300),  # readers refuse these three today; tail must not care
    record(1, timestamp=-1e300),
    record(2, duration_ms=1e300),
    record(3, timestamp=0),
    record(4, timestamp=2**32 - 1e-6, duration_ms=2**32 * 1000 - 1),
    record(
        5,
        name="swarmsh.command.execute",
        parent_span_id=f"{1:016x}",
        attributes={"swarm.command": HOSTILE, "swarm.loop.depth": 2**64},
    ),
    record(
        6,
        name="swarm.loop.iteration",
        parent_span_id=f"{6:016x}",
        attributes={"swarm.state.from": HOSTILE, "swarm.state.to": [1, {"x": HOSTILE}]},
    ),
    record(7, name=f"swarmsh.{HOSTILE}", status=f"ERROR{HOSTILE}", status_message=HOSTILE),
    record(8, status="ERROR", status_message=HOSTILE * 500),
    record(9, resource={"service.name": HOSTILE}),
    record(
        10,
        attributes={
            "roberts.motion_id": {"nested": [HOSTILE]},
            "roberts.result": HOSTILE,
            "roberts.votes.yes": 1.5e308,
            "roberts.votes.no": -(2**63),
            "scrum.defect_rate": True,
        },
    ),
    record(11, parent_span_id="f" * 16),  # an orphan
]


def accepted(raw: dict[str, Any]) -> bool:
    try:
        SpanRecord.from_dict(raw)
    except MalformedRecord:
        return False
    return True


@pytest.fixture
def odd_bus(home: Path) -> list[dict[str, Any]]:
    """The odd records readers accept (the bus holds all of them)."""
    home.mkdir(mode=0o700)
    lines = [json.dumps(r, ensure_ascii=False) for r in ODD]
    (home / "spans.jsonl").write_text("\n".join(lines) + "\n")
    return [r for r in ODD if accepted(r)]


def invoke(*argv: str) -> str:
    result = CliRunner().invoke(cli, list(argv))
    assert result.exit_code == 0, (result.output, result.exception)
    assert UNSAFE.search(result.output.replace("\n", "")) is None, result.output
    return result.output


def test_tail_shows_every_odd_record_escaped(odd_bus: list[dict[str, Any]]) -> None:
    lines = invoke("tail", "-n", "100").splitlines()
    assert len(lines) == len(odd_bus) >= 9
    [hostile] = [line for line in lines if "ERROR\\x1b" in line]
    assert "swarmsh.\\x1b]0;pwned\\x07" in hostile  # escaped, not dropped: the operator sees it
    assert "\\u202eevil" in hostile
    assert all("trace=4bf92f35" in line for line in lines)


def test_tail_status_filter_and_json_survive_odd_records(odd_bus: list[dict[str, Any]]) -> None:
    assert len(invoke("tail", "-n", "100", "--status", "error").splitlines()) == 1
    raw = CliRunner().invoke(cli, ["tail", "-n", "100", "--json"])
    assert raw.exit_code == 0
    assert len(raw.output.splitlines()) == len(odd_bus)  # --json is for jq: raw, as it is


def test_trace_and_trace_last_render_odd_records(odd_bus: list[dict[str, Any]]) -> None:
    out = invoke("trace", TRACE).splitlines()
    assert out[0] == f"trace {TRACE}  ({len(odd_bus)} spans)"
    assert len(out) == 1 + len(odd_bus)
    assert any("orphan" in line for line in out)
    assert invoke("trace", "--last").splitlines()[0] == out[0]


@pytest.mark.parametrize(
    "changes",
    [
        {"timestamp": 1e300},
        {"timestamp": -1e18},
        {"duration_ms": 1e300},
        {"timestamp": float("nan")},
        {"timestamp": float("inf")},
        {"duration_ms": float("nan")},
        {"duration_ms": float("-inf")},
        {"attributes": {"swarm.loop.depth": 10**5000}},
    ],
)
def test_formatting_never_raises_even_on_values_readers_refuse(changes: dict[str, Any]) -> None:
    span = SpanRecord(**{**record(0, name="swarmsh.command.execute"), **changes})
    for line in [click.unstyle(format_line(span)), *render(build([span]))]:
        assert UNSAFE.search(line) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    name=st.text(min_size=1),
    status=st.text(),
    message=st.none() | st.text(),
    service=json_values,
    timestamp=st.floats(),
    duration_ms=st.floats(),
    attributes=st.dictionaries(
        st.sampled_from(
            ["swarm.state.from", "swarm.command", "swarm.loop.depth", "roberts.motion_id",
             "roberts.result", "roberts.votes.yes", "scrum.defect_rate", "x"]
        ),
        json_values,
    ),
)  # fmt: skip
def test_any_record_formats_as_safe_lines(
    name: str,
    status: str,
    message: str | None,
    service: object,
    timestamp: float,
    duration_ms: float,
    attributes: dict[str, Any],
) -> None:
    span = SpanRecord(
        name=name,
        trace_id=TRACE,
        span_id="1" * 16,
        parent_span_id="2" * 16,
        timestamp=timestamp,
        duration_ms=duration_ms,
        status=status,
        status_message=message,
        attributes=attributes,
        resource={"service.name": service},
    )
    for line in [click.unstyle(format_line(span)), *render(build([span]))]:
        assert UNSAFE.search(line) is None
