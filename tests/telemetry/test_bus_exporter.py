"""The bus exporter writes every attribute value the SDK accepts, faithfully, as JSON."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from opentelemetry.trace import Link, SpanContext, TraceFlags

from swarmsh.errors import BusWriteError
from swarmsh.telemetry import setup_telemetry
from tests.conftest import read_jsonl

VALUES = {
    "str": "motion ✓",
    "bool": True,
    "int": -7,
    "float": 2.5,
    "strs": ["a", "b"],
    "bools": [True, False],
    "ints": [1, 2, 3],
    "floats": [0.5, 1.5],
    "empty": [],
    "bytes": b"\xff\x00swarm",
    "mapping": {"team": "alpha", "sizes": [1, 2]},
    "u64": 2**64 - 1,
    "wider": 2**70,
    "nan": float("nan"),
}
WRITTEN = {
    **VALUES,
    "bytes": base64.b64encode(b"\xff\x00swarm").decode(),
    "wider": str(2**70),  # beyond what JSON readers (and OTLP) carry as a number
    "nan": None,
}


def test_every_attribute_type_round_trips(tmp_path: Path) -> None:
    telemetry = setup_telemetry("t", tmp_path / "spans.jsonl", otlp=False)
    linked = SpanContext(0xABC, 0xDEF, False, TraceFlags(TraceFlags.SAMPLED))
    with telemetry.tracer.start_as_current_span(
        "typed", attributes=VALUES, links=[Link(linked, {"why": ("x", "y")})]
    ) as span:
        span.add_event("happened", {"count": 3, "tags": ("a",)})
    telemetry.shutdown()
    [record] = read_jsonl(tmp_path / "spans.jsonl")
    assert record["attributes"] == WRITTEN
    assert record["events"][0]["name"] == "happened"
    assert record["events"][0]["attributes"] == {"count": 3, "tags": ["a"]}
    assert record["links"] == [
        {"trace_id": f"{0xABC:032x}", "span_id": f"{0xDEF:016x}", "attributes": {"why": ["x", "y"]}}
    ]


@pytest.mark.parametrize("keep", [True, False])
def test_spans_a_failed_flush_could_not_write_are_kept_or_dropped(
    tmp_path: Path, keep: bool
) -> None:
    home = tmp_path / "home"
    home.write_text("not a directory")  # the bus cannot be created under it
    telemetry = setup_telemetry("t", home / "spans.jsonl", otlp=False)
    with telemetry.tracer.start_as_current_span("first"):
        pass
    with pytest.raises(BusWriteError):
        telemetry.flush_bus(keep_on_error=keep)
    home.unlink()  # the trouble clears
    with telemetry.tracer.start_as_current_span("second"):
        pass
    telemetry.flush_bus()
    names = [r["name"] for r in read_jsonl(home / "spans.jsonl")]
    assert names == (["first", "second"] if keep else ["second"])
