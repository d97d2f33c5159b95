"""SpanRecord and NextCommand parsing: what is accepted, and the reason for what is not."""

from __future__ import annotations

import json

import pytest

from swarmsh.bus.records import NextCommand, SpanRecord, dumps_line, loads_object
from swarmsh.errors import MalformedRecord

GOOD = {
    "name": "swarmsh.roberts.open",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "span_id": "00f067aa0ba902b7",
    "parent_span_id": None,
    "kind": "INTERNAL",
    "timestamp": 1764000000.123,
    "duration_ms": 1.7,
    "status": "OK",
    "status_message": None,
    "attributes": {"swarm.agent": "roberts", "roberts.motion_id": "sprint42"},
    "events": [{"name": "motion_opened", "timestamp": 1764000000.124, "attributes": {}}],
    "links": [],
    "resource": {"service.name": "swarmsh-cli"},
}


def line(**changes: object) -> bytes:
    record = {**GOOD, **changes}
    for key, value in changes.items():
        if value is ...:
            del record[key]
    return json.dumps(record).encode()


def test_round_trip() -> None:
    record = SpanRecord.from_json(line())
    assert record.to_dict() == {**GOOD, "sampled": True}
    assert SpanRecord.from_json(dumps_line(record.to_dict())) == record
    assert record.end == pytest.approx(1764000000.1247)
    assert record.service == "swarmsh-cli"


def test_unknown_keys_are_ignored() -> None:
    assert SpanRecord.from_json(line(extra={"x": 1})).name == GOOD["name"]


MALFORMED = [
    (b"not json", "not JSON"),
    (b'{"name": "x"', "not JSON"),
    (b"[1, 2]", "not a JSON object but a list"),
    (b"42", "not a JSON object but a int"),
    (b'"text"', "not a JSON object but a str"),
    (b"null", "not a JSON object but a NoneType"),
    (b'{"name": "\xff\xfe"}', "invalid UTF-8"),
    (b'{"a": NaN}', "not JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
    (line(name=...), "'name'"),
    (line(name=7), "'name'"),
    (line(name=""), "'name'"),
    (line(trace_id=...), "'trace_id'"),
    (line(trace_id="abc"), "'trace_id'"),
    (line(trace_id="Z" * 32), "'trace_id'"),
    (line(trace_id="0" * 32), "'trace_id'"),
    (line(span_id="0" * 16), "'span_id'"),
    (line(span_id=12345), "'span_id'"),
    (line(parent_span_id="xyz"), "'parent_span_id'"),
    (line(timestamp=...), "'timestamp'"),
    (line(timestamp="yesterday"), "'timestamp'"),
    (line(timestamp=True), "'timestamp'"),
    (line(timestamp=1e400), "not JSON"),
    (line(duration_ms=-1), "'duration_ms'"),
    # odd but JSON-valid numbers no reader or printer can use (issue 10, item 19)
    (line(timestamp=1e300), "'timestamp'"),
    (line(timestamp=-1.0), "'timestamp'"),
    (line(timestamp=2**32 + 1), "'timestamp'"),
    (line(duration_ms=1e300), "'duration_ms'"),
    (line(attributes=[1]), "'attributes' is not an object"),
    (line(attributes="x"), "'attributes' is not an object"),
    (line(status=5), "'status'"),
    (line(status_message=5), "'status_message'"),
    (line(events={}), "'events'"),
    (line(resource=[]), "'resource'"),
]


@pytest.mark.parametrize(("raw", "reason"), MALFORMED, ids=[r for _, r in MALFORMED])
def test_malformed_lines_name_their_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedRecord, match=reason):
        SpanRecord.from_json(raw)


COMMAND = {
    "id": "a" * 32,
    "command": "swarmsh.scrum.plan",
    "args": {"sprint": 42, "team": "alpha"},
    "reason": "motion sprint42 passed 5-2",
    "agent": "roberts",
    "source": {
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        "end": 1.5,
    },
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "depth": 1,
    "created_at": 2.0,
}


def test_next_command_round_trip() -> None:
    command = NextCommand.from_json(json.dumps(COMMAND).encode())
    assert command.to_dict() == COMMAND


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"id": ""}, "'id'"),
        ({"command": 3}, "'command'"),
        ({"args": []}, "'args'"),
        ({"depth": -1}, "'depth'"),
        ({"depth": "1"}, "'depth'"),
        ({"depth": True}, "'depth'"),
        ({"source": {"trace_id": "x", "span_id": "y", "end": 1}}, "'source'"),
        ({"source": {**COMMAND["source"], "end": "soon"}}, "'source.end'"),
        ({"traceparent": "garbage"}, "'traceparent'"),
        ({"reason": 5}, "'reason'"),
        ({"depth": 2**64}, "'depth'"),
        ({"depth": 1_000_001}, "'depth'"),
        ({"source": {**COMMAND["source"], "end": 1e300}}, "'source.end'"),
        ({"source": {**COMMAND["source"], "end": -1.0}}, "'source.end'"),
        ({"created_at": 1e300}, "'created_at'"),
        ({"created_at": -5}, "'created_at'"),
    ],
)
def test_malformed_commands(changes: dict, reason: str) -> None:
    with pytest.raises(MalformedRecord, match=reason):
        NextCommand.from_dict({**COMMAND, **changes})


def test_the_bounds_themselves_are_accepted() -> None:
    edge = SpanRecord.from_json(line(timestamp=0, duration_ms=2.0**32 * 1000))
    assert edge.end == 2.0**32
    assert SpanRecord.from_json(line(timestamp=2**32)).timestamp == 2.0**32
    deep = NextCommand.from_dict({**COMMAND, "depth": 1_000_000, "created_at": 0})
    assert deep.depth == 1_000_000


DUPLICATES = [
    # compact, as our writer would put it but for the repeated key
    b'{"name":"a","name":"swarmsh.roberts.open","trace_id":"x"}',
    # json.dumps's separators, with spaces inside strings that vanish on both sides alike
    b'{"name": "a b", "attributes": {"k": "v w", "k": "v w"}}',
    b'{"name": "a", "name": "a"}',
    # whitespace the writer never puts, and escapes: only the exact check can tell
    b'{ "name" :\t"a" ,\r"n\\u0061me": "b" }',
    # a number written longer again hides no repetition either
    b'{"a":1e2,"b":1,"b":1}',
]


@pytest.mark.parametrize("raw", DUPLICATES)
def test_duplicate_keys_are_rejected_however_the_line_is_written(raw: bytes) -> None:
    with pytest.raises(MalformedRecord, match="duplicate key"):
        loads_object(raw)


@pytest.mark.parametrize("raw", [dumps_line(GOOD), line(), json.dumps(GOOD, indent=1).encode()])
def test_lines_without_duplicates_take_no_exact_check(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from swarmsh.bus import records

    def exact(line: bytes) -> None:
        raise AssertionError("the slow exact check ran")

    monkeypatch.setattr(records, "_reject_duplicate_keys", exact)
    assert loads_object(raw) == json.loads(raw)
