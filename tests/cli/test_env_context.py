"""TRACEPARENT/TRACESTATE/BAGGAGE from the environment: a real parent process's span becomes the
CLI span's parent; a malformed value is ignored with one warning and never loses the action."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from tests.conftest import read_jsonl, run_cli

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"


@pytest.fixture(autouse=True)
def _no_inherited_context(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TRACEPARENT", "TRACESTATE", "BAGGAGE"):
        monkeypatch.delenv(name, raising=False)


def test_a_parent_process_span_is_the_parent_of_the_cli_span(tmp_path: Path) -> None:
    """The test process is the parent: a workflow span from the OpenTelemetry SDK, put into
    the environment by the SDK's own W3C propagator, as any instrumented program would."""
    tracer = TracerProvider().get_tracer("workflow")
    with tracer.start_as_current_span("workflow") as workflow:
        carrier: dict[str, str] = {}
        TraceContextTextMapPropagator().inject(carrier)
        done = run_cli(
            tmp_path,
            {"TRACEPARENT": carrier["traceparent"], "BAGGAGE": "user=alice"},
            "roberts",
            "second",
            "m1",
        )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    (span,) = read_jsonl(tmp_path / "spans.jsonl")
    context = workflow.get_span_context()
    assert span["trace_id"] == format(context.trace_id, "032x")
    assert span["parent_span_id"] == format(context.span_id, "016x")
    assert f"trace={span['trace_id']}" in done.stdout


@pytest.mark.parametrize(
    ("env", "echoed"),
    [
        ({"TRACEPARENT": "garbage"}, "'garbage'"),
        ({"TRACEPARENT": f"00-{TRACE.upper()}-{SPAN}-01"}, "not VERSION"),
        ({"TRACEPARENT": f"00-{'0' * 32}-{SPAN}-01"}, "all-zero"),
        ({"TRACEPARENT": f"01-{TRACE}-{SPAN}-01-" + "x" * 5000}, "longer than 512"),
        ({"TRACEPARENT": f"00-{TRACE}-{SPAN}-01\x1b[2J\x07"}, "\\x1b[2J\\x07"),
        ({"TRACEPARENT": "caf\udcff"}, "ignored"),  # a byte that is not UTF-8
        ({"BAGGAGE": "\x1b]0;title\x07"}, "BAGGAGE ignored"),
    ],
)
def test_a_malformed_value_is_ignored_with_one_warning(
    tmp_path: Path, env: dict[str, str], echoed: str
) -> None:
    done = run_cli(tmp_path, env, "roberts", "second", "m1")
    assert done.returncode == 0, done.stderr
    warning = done.stderr.splitlines()
    assert len(warning) == 1 and warning[0].startswith("swarmsh: warning: "), done.stderr
    assert echoed in warning[0] and "\x1b" not in done.stderr
    (span,) = read_jsonl(tmp_path / "spans.jsonl")
    assert span["parent_span_id"] is None and span["name"] == "swarmsh.roberts.second"


def test_a_bad_tracestate_or_baggage_leaves_a_good_parent_in_place(tmp_path: Path) -> None:
    env = {
        "TRACEPARENT": f"00-{TRACE}-{SPAN}-01",
        "TRACESTATE": "Not Valid",
        "BAGGAGE": "no value here",
    }
    done = run_cli(tmp_path, env, "scrum", "plan", "1", "--team", "t")
    assert done.returncode == 0
    (line,) = done.stderr.splitlines()
    assert "TRACESTATE ignored" in line and "BAGGAGE ignored" in line
    (span,) = read_jsonl(tmp_path / "spans.jsonl")
    assert (span["trace_id"], span["parent_span_id"]) == (TRACE, SPAN)


def test_an_unsampled_parent_is_still_on_the_bus_marked_unsampled(tmp_path: Path) -> None:
    done = run_cli(tmp_path, {"TRACEPARENT": f"00-{TRACE}-{SPAN}-00"}, "roberts", "second", "m1")
    assert done.returncode == 0 and done.stderr == ""
    (span,) = read_jsonl(tmp_path / "spans.jsonl")
    assert (span["trace_id"], span["parent_span_id"], span["sampled"]) == (TRACE, SPAN, False)
