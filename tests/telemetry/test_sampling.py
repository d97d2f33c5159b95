"""Head sampling governs OTLP only: the bus gets every span, sampled or not."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Decision

from swarmsh.errors import ConfigError
from swarmsh.telemetry import setup_telemetry
from swarmsh.telemetry.sampling import RecordAlwaysSampler, sampler_from_env
from tests.conftest import read_jsonl


def test_drop_becomes_record_only() -> None:
    result = RecordAlwaysSampler(ALWAYS_OFF).should_sample(None, 1, "x")
    assert result.decision is Decision.RECORD_ONLY


def test_unsampled_traces_reach_the_bus_but_not_sampled_only_exporters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0")
    telemetry = setup_telemetry("t", tmp_path / "spans.jsonl", otlp=False)
    sampled_only = InMemorySpanExporter()
    telemetry.add_span_processor(SimpleSpanProcessor(sampled_only))
    with telemetry.tracer.start_as_current_span("parent"):
        with telemetry.tracer.start_as_current_span("child"):
            pass
    telemetry.flush_bus()
    telemetry.shutdown()
    records = read_jsonl(tmp_path / "spans.jsonl")
    assert [r["name"] for r in records] == ["child", "parent"]
    assert all(r["sampled"] is False for r in records)
    assert records[0]["parent_span_id"] == records[1]["span_id"]
    assert sampled_only.get_finished_spans() == ()


@pytest.mark.parametrize(
    ("name", "arg"), [("bogus", None), ("traceidratio", "2"), ("traceidratio", "x")]
)
def test_bad_sampler_settings_are_config_errors(
    monkeypatch: pytest.MonkeyPatch, name: str, arg: str | None
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", name)
    if arg is not None:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", arg)
    with pytest.raises(ConfigError):
        sampler_from_env()
