"""A corpus of malformed bus and queue lines, each with the reason a reader should give."""

from __future__ import annotations

import json
from typing import Any

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"

GOOD_SPAN: dict[str, Any] = {
    "name": "swarmsh.roberts.second",
    "trace_id": TRACE,
    "span_id": SPAN,
    "parent_span_id": None,
    "timestamp": 1764000000.0,
    "duration_ms": 1.0,
    "status": "OK",
    "attributes": {"swarm.agent": "roberts", "swarm.trigger": "second", "roberts.motion_id": "m"},
}


def _changed(good: dict[str, Any], changes: dict[str, Any]) -> bytes:
    """`good` as a JSON line with `changes` applied; a value of ... removes the key."""
    record = {k: v for k, v in good.items() if changes.get(k) is not ...}
    record.update((k, v) for k, v in changes.items() if v is not ...)
    return json.dumps(record).encode()


def _span(**changes: Any) -> bytes:
    return _changed(GOOD_SPAN, changes)


# (kind, line without newline, a fragment of the dead-letter reason)
BUS_CORPUS: list[tuple[str, bytes, str]] = [
    ("not json", b"hello, bus", "not JSON"),
    ("truncated json", _span()[:40], "not JSON"),
    ("json array", b'["swarmsh.roberts.open"]', "not a JSON object but a list"),
    ("json number", b"42", "not a JSON object but a int"),
    ("json string", b'"swarmsh.roberts.open"', "not a JSON object but a str"),
    ("json null", b"null", "not a JSON object"),
    ("empty object", b"{}", "'name'"),
    ("name missing", _span(name=...), "'name'"),
    ("name not a string", _span(name=["swarmsh.roberts.open"]), "'name'"),
    ("trace_id missing", _span(trace_id=...), "'trace_id'"),
    ("trace_id too short", _span(trace_id=TRACE[:31]), "'trace_id'"),
    ("trace_id not hex", _span(trace_id="z" * 32), "'trace_id'"),
    ("trace_id a number", _span(trace_id=12345), "'trace_id'"),
    ("span_id too long", _span(span_id=SPAN + "0"), "'span_id'"),
    ("span_id not hex", _span(span_id="g" * 16), "'span_id'"),
    ("parent not hex", _span(parent_span_id="x" * 16), "'parent_span_id'"),
    ("timestamp missing", _span(timestamp=...), "'timestamp'"),
    ("timestamp a string", _span(timestamp="yesterday"), "'timestamp'"),
    (
        "attributes a list",
        _span(attributes=["roberts.motion_id", "m"]),
        "'attributes' is not an object",
    ),
    ("attributes a string", _span(attributes="m"), "'attributes' is not an object"),
    ("events not a list", _span(events={"name": "x"}), "'events'"),
    (
        "invalid utf-8",
        _span(name="swarmsh.roberts.second").replace(b"second", b"sec\xff\xfeond"),
        "invalid UTF-8",
    ),
    ("nul bytes", b'{"name": "swarmsh.roberts.\x00second"}', "not JSON"),
    (
        "deeply nested",
        b'{"name": "swarmsh.roberts.open", "x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
        "not JSON",
    ),
    ("huge number", _span().replace(b"1764000000.0", b"1" + b"0" * 400), "not JSON"),
    ("nan", _span().replace(b"1764000000.0", b"NaN"), "not JSON"),
    (
        "duplicate keys",
        _span().replace(
            b'"name": "swarmsh.roberts.second"',
            b'"name": "swarmsh.roberts.second", "name": "swarmsh.roberts.close"',
        ),
        "duplicate key 'name'",
    ),
    ("prefix with garbage", _span(name="swarmsh.roberts.second;rm -rf /"), "unknown span name"),
    (
        "attributes that do not fit",
        _span(attributes={"roberts.motion_id": 7}),
        "attributes do not fit",
    ),
    # well-formed JSON, odd values (issue 10, items 2, 19, 20): refused, never acted on
    ("timestamp far beyond 2106", _span(timestamp=1e300), "'timestamp'"),
    ("duration of eons", _span(duration_ms=1e300), "'duration_ms'"),
    ("unknown status", _span(status="MAYBE"), "status 'MAYBE'"),
    (
        "negative vote count",
        _span(
            name="swarmsh.roberts.close",
            attributes={
                "swarm.agent": "roberts",
                "swarm.trigger": "close",
                "roberts.motion_id": "m",
                "roberts.votes.yes": 1,
                "roberts.votes.no": -3,
                "roberts.votes.abstain": 0,
                "roberts.threshold": "majority",
                "roberts.result": "passed",
            },
        ),
        "roberts.votes.no",
    ),
    (
        "depth out of bounds",
        _span(attributes={**GOOD_SPAN["attributes"], "swarm.loop.depth": -1}),
        "swarm.loop.depth",
    ),
    (
        "id outside the alphabet",
        _span(attributes={**GOOD_SPAN["attributes"], "roberts.motion_id": "a b; reboot"}),
        "roberts.motion_id",
    ),
    (
        "ten MiB line",
        b'{"name": "swarmsh.roberts.open", "pad": "' + b"x" * (10 << 20) + b'"}',
        "line longer than",
    ),
]

GOOD_COMMAND: dict[str, Any] = {
    "id": "c" * 32,
    "command": "swarmsh.scrum.plan",
    "args": {"sprint": 1, "team": "t"},
    "reason": "",
    "agent": "roberts",
    "source": {"trace_id": TRACE, "span_id": SPAN, "end": 1.0},
    "traceparent": f"00-{TRACE}-{SPAN}-01",
    "depth": 1,
    "created_at": 1.0,
}


def _command(**changes: Any) -> bytes:
    return _changed(GOOD_COMMAND, changes)


QUEUE_CORPUS: list[tuple[str, bytes, str]] = [
    ("not json", b"run everything", "not JSON"),
    ("array", b'["swarmsh.scrum.plan"]', "not a JSON object"),
    ("id missing", _command(id=...), "'id'"),
    ("args not an object", _command(args=["42"]), "'args'"),
    ("depth a string", _command(depth="1"), "'depth'"),
    ("bad traceparent", _command(traceparent="00-zz"), "'traceparent'"),
    ("source missing", _command(source=...), "'source'"),
    ("invalid utf-8", _command(reason="x").replace(b'"x"', b'"\xff"'), "invalid UTF-8"),
    (
        "duplicate keys",
        _command().replace(
            b'"command": "swarmsh.scrum.plan"',
            b'"command": "swarmsh.scrum.plan", "command": "swarmsh.up"',
        ),
        "duplicate key 'command'",
    ),
    ("unknown command", _command(id="d" * 32, command="swarmsh.up"), "refused: unknown command"),
    (
        "shell metacharacters",
        _command(id="e" * 32, args={"sprint": 1, "team": "t; reboot"}),
        "refused",
    ),
    ("option injection", _command(id="f" * 32, args={"sprint": 1, "team": "--home=/"}), "refused"),
    ("too deep", _command(id="0" * 32, depth=99), "refused: depth 99"),
]
