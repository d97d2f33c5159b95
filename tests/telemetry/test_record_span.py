"""`Telemetry.record_span`, the agents' cheap path for finished spans, records what the SDK would."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from swarmsh.telemetry import setup_telemetry
from tests.conftest import read_jsonl

ATTRIBUTES = {"swarm.agent": "roberts", "swarm.loop.depth": 2, "tags": ("a", "b")}


def parent(sampled: bool, trace_state: TraceState | None = None) -> SpanContext:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    return SpanContext(
        0x0123456789ABCDEF0123456789ABCDEF, 0x0123456789ABCDEF, True, flags, trace_state
    )


@pytest.mark.parametrize("sampled", [True, False])
def test_the_record_is_the_one_the_sdk_would_write(tmp_path: Path, sampled: bool) -> None:
    telemetry = setup_telemetry("swarmsh-roberts", tmp_path / "spans.jsonl", otlp=False)
    status = Status(StatusCode.ERROR, "rejected")
    sdk_span = telemetry.tracer.start_span(
        "swarm.loop.iteration",
        context=trace.set_span_in_context(NonRecordingSpan(parent(sampled))),
        attributes=ATTRIBUTES,
    )
    sdk_span.set_status(status)
    sdk_span.end()
    began = time.time_ns()
    context = telemetry.record_span(
        "swarm.loop.iteration", parent(sampled), ATTRIBUTES, status, began
    )
    telemetry.shutdown()

    sdk, fast = read_jsonl(tmp_path / "spans.jsonl")
    assert fast["span_id"] == f"{context.span_id:016x}" != sdk["span_id"]
    assert fast["timestamp"] == pytest.approx(began / 1e9)
    assert fast["sampled"] is sampled and context.trace_flags.sampled is sampled
    assert fast["attributes"]["tags"] == ["a", "b"]
    varying = ("span_id", "timestamp", "duration_ms")
    assert {k: v for k, v in fast.items() if k not in varying} == {
        k: v for k, v in sdk.items() if k not in varying
    }


def test_only_sampled_spans_reach_sampled_only_processors(tmp_path: Path) -> None:
    telemetry = setup_telemetry("swarmsh-roberts", tmp_path / "spans.jsonl", otlp=False)
    sampled_only = InMemorySpanExporter()
    telemetry.add_span_processor(SimpleSpanProcessor(sampled_only))
    ok = Status(StatusCode.OK)
    kept = telemetry.record_span("kept", parent(True), ATTRIBUTES, ok, time.time_ns())
    telemetry.record_span("dropped", parent(False), ATTRIBUTES, ok, time.time_ns())
    telemetry.shutdown()
    assert [r["name"] for r in read_jsonl(tmp_path / "spans.jsonl")] == ["kept", "dropped"]
    [exported] = sampled_only.get_finished_spans()
    assert exported.name == "kept" and exported.context.span_id == kept.span_id
    assert exported.parent is not None and exported.parent.span_id == parent(True).span_id


def test_links_are_recorded_as_the_sdk_would(tmp_path: Path) -> None:
    telemetry = setup_telemetry("swarmsh-rules", tmp_path / "spans.jsonl", otlp=False)
    assert telemetry.processors == (telemetry.bus,)  # the path without SDK spans
    links = [Link(SpanContext(0xABC, 0xDEF, True)), Link(SpanContext(0x123, 0x456, True))]
    sdk_span = telemetry.tracer.start_span(
        "swarm.loop.iteration",
        context=trace.set_span_in_context(NonRecordingSpan(parent(True))),
        links=links,
    )
    sdk_span.end()
    telemetry.record_span(
        "swarm.loop.iteration", parent(True), {}, Status(StatusCode.UNSET), time.time_ns(), links
    )
    telemetry.shutdown()
    sdk, fast = read_jsonl(tmp_path / "spans.jsonl")
    assert fast["links"] == sdk["links"] and len(fast["links"]) == 2
    assert list(fast) == list(sdk)  # the same fields, in the same order


SAMPLERS = [
    ("parentbased_always_on", True),
    ("parentbased_always_off", True),
    ("parentbased_traceidratio", True),
    ("always_on", False),
    ("always_off", False),
    ("traceidratio", False),
]


@pytest.mark.parametrize(("sampler", "follows_parent"), SAMPLERS)
@pytest.mark.parametrize("sampled", [True, False])
def test_every_sampler_decides_as_the_sdk_would(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sampler: str,
    follows_parent: bool,
    sampled: bool,
) -> None:
    """The parent-based samplers take the shortcut (the decision is the remote parent's flag,
    its trace state kept); the others are asked. Either way: the SDK's flags, to every
    processor, and the bus still gets the unsampled span (sampled: false)."""
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
    telemetry = setup_telemetry("swarmsh-roberts", tmp_path / "spans.jsonl", otlp=False)
    assert telemetry._follows_remote_parent is follows_parent
    sampled_only = InMemorySpanExporter()
    telemetry.add_span_processor(SimpleSpanProcessor(sampled_only))
    ok = Status(StatusCode.OK)
    source = parent(sampled, TraceState([("vendor", "x1")]))
    for _ in range(2):  # the SDK path, then each processor path of record_span
        sdk_span = telemetry.tracer.start_span(
            "swarm.loop.iteration",
            context=trace.set_span_in_context(NonRecordingSpan(source)),
            attributes=ATTRIBUTES,
        )
        sdk_span.set_status(ok)
        sdk_span.end()
        context = telemetry.record_span("swarm.loop.iteration", source, ATTRIBUTES, ok, 1)
        assert context.trace_flags == sdk_span.get_span_context().trace_flags
        assert context.trace_state == sdk_span.get_span_context().trace_state
        assert context.trace_id == source.trace_id and context.is_valid
        assert not context.is_remote
        telemetry.processors = (telemetry.bus,)  # now the path without SDK spans
    telemetry.shutdown()
    records = read_jsonl(tmp_path / "spans.jsonl")
    assert len(records) == 4
    assert len({r["sampled"] for r in records}) == 1  # each path as the SDK decided
    assert all(r["parent_span_id"] == f"{source.span_id:016x}" for r in records)
    # two SDK spans and the first record_span (the provider still has the processor)
    assert len(sampled_only.get_finished_spans()) == (3 if records[0]["sampled"] else 0)
    if follows_parent:
        assert records[0]["sampled"] is sampled


@pytest.mark.parametrize(("sampler", "follows_parent"), SAMPLERS)
@pytest.mark.parametrize("sampled", [True, False])
@pytest.mark.parametrize("only_the_bus", [True, False])
def test_a_child_of_a_records_ids_is_the_span_record_span_would_make(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sampler: str,
    follows_parent: bool,
    sampled: bool,
    only_the_bus: bool,
) -> None:
    """`record_child` (the agents' way, from a bus record's hex ids) writes what
    `record_span` writes for the same parent, and tells the same id and sampled flag."""
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", sampler)
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
    telemetry = setup_telemetry("swarmsh-roberts", tmp_path / "spans.jsonl", otlp=False)
    sampled_only = InMemorySpanExporter()
    if not only_the_bus:
        telemetry.add_span_processor(SimpleSpanProcessor(sampled_only))
    source = parent(sampled)
    status = Status(StatusCode.ERROR, "rejected")
    links = [Link(SpanContext(0xABC, 0xDEF, True))]
    context = telemetry.record_span("it", source, ATTRIBUTES, status, 10**18, links)
    trace_hex, parent_hex = f"{source.trace_id:032x}", f"{source.span_id:016x}"
    span_id, child_sampled = telemetry.record_child(
        "it", trace_hex, parent_hex, sampled, ATTRIBUTES, status, 10**18, links
    )
    telemetry.shutdown()
    by_span, by_child = read_jsonl(tmp_path / "spans.jsonl")
    assert by_child["span_id"] == span_id != by_span["span_id"]
    assert child_sampled is by_child["sampled"] is context.trace_flags.sampled
    assert (by_child["trace_id"], by_child["parent_span_id"]) == (trace_hex, parent_hex)
    assert list(by_child) == list(by_span)  # the same fields, in the same order
    varying = ("span_id", "duration_ms")
    assert {k: v for k, v in by_child.items() if k not in varying} == {
        k: v for k, v in by_span.items() if k not in varying
    }
    exported = [f"{s.context.span_id:016x}" for s in sampled_only.get_finished_spans()]
    if only_the_bus or not child_sampled:
        assert exported == []
    else:
        assert exported == [f"{context.span_id:016x}", span_id]
    if follows_parent:
        assert child_sampled is sampled


@pytest.mark.parametrize("seed", range(3))
def test_durations_are_milliseconds_to_three_places(seed: int) -> None:
    import random

    from opentelemetry.sdk.resources import Resource

    from swarmsh.telemetry.encoding import finished_record

    rnd = random.Random(seed)
    context = parent(True)
    for duration in [0, 1, 499, 1_000, 1_234_499, 10**12] + [
        rnd.randrange(10**10) for _ in range(2000)
    ]:
        record = finished_record(
            "x", context, None, Resource.get_empty(), {}, Status(StatusCode.OK), 0, duration
        )
        if duration % 1000 != 500:  # a tie may go either way
            assert record["duration_ms"] == round(duration / 1e6, 3), duration
