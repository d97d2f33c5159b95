"""Trace context in environment variables: W3C parsing as tables, bounds, and the environment
a command's children inherit (set while it runs, as it was afterwards)."""

from __future__ import annotations

import pytest
from opentelemetry import baggage, trace
from opentelemetry.trace import SpanContext, TraceFlags, TraceState

from swarmsh.telemetry.carrier import (
    Carried,
    CarrierError,
    child_environment,
    exported,
    parse_baggage,
    parse_traceparent,
    parse_tracestate,
    read_carriers,
    to_context,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
GOOD = f"00-{TRACE}-{SPAN}-01"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (GOOD, (int(TRACE, 16), int(SPAN, 16), 1)),
        (f"  {GOOD}\t", (int(TRACE, 16), int(SPAN, 16), 1)),  # optional white space around
        (f"00-{TRACE}-{SPAN}-00", (int(TRACE, 16), int(SPAN, 16), 0)),
        (f"01-{TRACE}-{SPAN}-09-future-part", (int(TRACE, 16), int(SPAN, 16), 9)),
    ],
)
def test_valid_traceparents(text: str, expected: tuple[int, int, int]) -> None:
    assert parse_traceparent(text) == expected


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "not VERSION"),
        ("garbage", "not VERSION"),
        (GOOD.upper(), "not VERSION"),  # W3C: lowercase hex only
        (f"00-{TRACE}-{SPAN}-1", "not VERSION"),
        (f"00-{TRACE}-{SPAN}-01-extra", "version 00"),
        (f"ff-{TRACE}-{SPAN}-01", "version ff"),
        (f"00-{'0' * 32}-{SPAN}-01", "all-zero"),
        (f"00-{TRACE}-{'0' * 16}-01", "all-zero"),
        (f"00-{TRACE}-{SPAN}-01\x1b[31m", "not VERSION"),
        (f"01-{TRACE}-{SPAN}-01-" + "x" * 600, "longer than 512"),
    ],
)
def test_malformed_traceparents(text: str, why: str) -> None:
    with pytest.raises(CarrierError, match=why):
        parse_traceparent(text)


def test_tracestate_entries_keep_their_order_and_bad_ones_are_refused() -> None:
    assert parse_tracestate("congo=t61rcWkgMzE, rojo=00f067aa0ba902b7,,") == (
        ("congo", "t61rcWkgMzE"),
        ("rojo", "00f067aa0ba902b7"),
    )
    assert parse_tracestate("tenant@vendor=x") == (("tenant@vendor", "x"),)
    for bad, why in [
        ("Upper=x", "not key=value"),
        ("k=a,b", "not key=value"),
        ("k=x,k=y", "appears twice"),
        ("k=\x1b", "not key=value"),
        (",".join(f"k{i}=v" for i in range(33)), "more than 32"),
        ("k=" + "v" * 600, "longer than 512"),
    ]:
        with pytest.raises(CarrierError, match=why):
            parse_tracestate(bad)


def test_baggage_is_decoded_and_bounded() -> None:
    assert parse_baggage("user=alice%20b, tier = gold;prop=1") == (
        ("user", "alice b"),
        ("tier", "gold"),
    )
    for bad, why in [
        ("novalue", "not key=value"),
        ("k=a b", "not key=value"),
        ("k=\x00", "not key=value"),
        (",".join(f"k{i}=v" for i in range(65)), "more than 64"),
        ("k=" + "v" * 9000, "longer than 8192"),
    ]:
        with pytest.raises(CarrierError, match=why):
            parse_baggage(bad)


def test_read_carriers_reports_each_bad_variable_and_keeps_the_good_ones() -> None:
    assert read_carriers({}) == (None, [])
    assert read_carriers({"TRACESTATE": "a=b"}) == (None, [])  # meaningless without a parent
    carried, problems = read_carriers(
        {"TRACEPARENT": GOOD, "TRACESTATE": "Bad=1", "BAGGAGE": "user=alice"}
    )
    assert carried == Carried(int(TRACE, 16), int(SPAN, 16), 1, (), (("user", "alice"),))
    assert len(problems) == 1 and problems[0].startswith("TRACESTATE ignored")
    carried, problems = read_carriers({"TRACEPARENT": "\x1b]0;pwned\x07", "BAGGAGE": "x"})
    assert carried is None
    assert len(problems) == 2 and "\x1b" not in " ".join(problems)  # hostile bytes escaped
    assert "'\\x1b]0;pwned\\x07'" in problems[0]


def test_the_context_holds_the_remote_parent_and_the_baggage() -> None:
    context = to_context(
        Carried(int(TRACE, 16), int(SPAN, 16), 1, (("congo", "t61"),), (("user", "alice"),))
    )
    parent = trace.get_current_span(context).get_span_context()
    assert (parent.trace_id, parent.span_id, parent.is_remote) == (
        int(TRACE, 16),
        int(SPAN, 16),
        True,
    )
    assert parent.trace_flags.sampled and parent.trace_state.to_header() == "congo=t61"
    assert baggage.get_baggage("user", context) == "alice"


def _span_context(tracestate: TraceState | None = None) -> SpanContext:
    return SpanContext(
        int(TRACE, 16), 0x1234, False, TraceFlags(TraceFlags.SAMPLED), tracestate or TraceState()
    )


def test_a_child_environment_names_the_span_and_drops_a_stale_tracestate() -> None:
    env = child_environment(_span_context(), {"PATH": "/bin", "TRACESTATE": "old=1"})
    assert env == {"PATH": "/bin", "TRACEPARENT": f"00-{TRACE}-0000000000001234-01"}
    env = child_environment(_span_context(TraceState([("congo", "t61")])), {})
    assert env["TRACESTATE"] == "congo=t61"


def test_exported_sets_the_environment_while_the_block_runs_and_restores_it() -> None:
    environ = {"TRACEPARENT": GOOD, "HOME": "/h"}
    with exported(_span_context(TraceState([("a", "b")])), environ):
        assert environ["TRACEPARENT"] == f"00-{TRACE}-0000000000001234-01"
        assert environ["TRACESTATE"] == "a=b"
    assert environ == {"TRACEPARENT": GOOD, "HOME": "/h"}
    with pytest.raises(RuntimeError), exported(_span_context(), environ):
        raise RuntimeError
    assert environ == {"TRACEPARENT": GOOD, "HOME": "/h"}
