"""SpanRecord.from_json's one-pass decode (msgspec) reads every line exactly as the checks of
from_dict do: the same record, or the same reason to refuse it."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swarmsh.bus.records import SpanRecord, dumps_line, loads_object
from swarmsh.errors import MalformedRecord

BASE: dict[str, Any] = {
    "name": "swarmsh.roberts.open",
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "span_id": "00f067aa0ba902b7",
    "parent_span_id": "00f067aa0ba902b8",
    "kind": "INTERNAL",
    "timestamp": 1764000000.123,
    "duration_ms": 1.7,
    "status": "OK",
    "status_message": None,
    "sampled": True,
    "attributes": {"swarm.agent": "roberts", "roberts.motion_id": "m1", "n": 3},
    "events": [],
    "links": [],
    "resource": {"service.name": "swarmsh-cli"},
}
ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, 2**32, 2**32 + 1, float(2**32) * 1000, 1e300, -0.0, "",
    "x", "0" * 16, "0" * 32, "A" * 16, "a" * 16, "a" * 32, "F" * 32, "g" * 32, "a" * 15 + "\n",
    "a" * 31 + "\n", "ab" * 8, "ab" * 16, [], {}, [1], {"a": 1}, "OK", "ERROR", 10**20,
]  # fmt: skip


def authority(line: bytes) -> SpanRecord | str:
    """What the field-by-field checks make of a line: the record, or why it is refused."""
    try:
        return SpanRecord.from_dict(loads_object(line))
    except MalformedRecord as exc:
        return f"refused: {exc}"


def fast(line: bytes) -> SpanRecord | str:
    try:
        return SpanRecord.from_json(line)
    except MalformedRecord as exc:
        return f"refused: {exc}"


def writings(record: dict[str, Any]) -> list[bytes]:
    """One record as our writer, json.dumps and a reordering writer put it."""
    return [
        dumps_line(record).rstrip(b"\n"),
        json.dumps(record).encode(),
        json.dumps(dict(reversed(record.items()))).encode(),
    ]


@pytest.mark.parametrize("field", sorted(BASE))
@pytest.mark.parametrize("value", ODD_VALUES, ids=repr)
def test_every_field_with_odd_values_reads_as_the_checks_say(field: str, value: Any) -> None:
    for line in writings({**BASE, field: value}):
        assert fast(line) == authority(line), line


@pytest.mark.parametrize("field", sorted(BASE))
def test_a_missing_field_reads_as_the_checks_say(field: str) -> None:
    record = {k: v for k, v in BASE.items() if k != field}
    for line in writings(record):
        assert fast(line) == authority(line), line


@pytest.mark.parametrize(
    "line",
    [
        b'{"name":"a","name":"b","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736",'
        b'"span_id":"00f067aa0ba902b7","timestamp":1}',
        dumps_line(BASE).rstrip(b"\n").replace(b'"n":3', b'"n":3,"n":4'),
        dumps_line(BASE).rstrip(b"\n").replace(b'"kind":"INTERNAL"', b'"kind":"A","kind":"B"'),
        dumps_line(BASE).rstrip(b"\n").replace(b'{"service.name"', b'{"x":1,"x":1,"service.name"'),
        json.dumps(BASE).replace('"n": 3', '"n": 3, "n": 3').encode(),
        dumps_line(BASE).rstrip(b"\n").replace(b"open", b"\\u006fpen"),
        dumps_line(BASE).replace(b'"n":3', b'"\\u006e":3,"n":3'),
        dumps_line(BASE).rstrip(b"\n").replace(b'"timestamp":1764000000.123', b'"timestamp":true'),
        dumps_line(BASE).rstrip(b"\n").replace(b'"n":3', b'"n":1e400'),
        dumps_line(BASE).rstrip(b"\n").replace(b'"n":3', b'"n":"\xff"'),
        dumps_line(BASE).rstrip(b"\n").replace(b'"n":3', b'"n":"\\ud800"'),
        dumps_line(BASE).rstrip(b"\n").replace(b'"n":3', b'"n":' + b"[" * 900 + b"]" * 900),
        dumps_line(BASE).rstrip(b"\n").replace(b'"n":3', b'"n":' + b"[" * 2000 + b"]" * 2000),
        b"[1,2]",
        b"not json",
        b"  " + dumps_line(BASE),
    ],
)
def test_odd_lines_read_as_the_checks_say(line: bytes) -> None:
    assert fast(line) == authority(line)


def test_a_repeated_key_is_refused_on_the_fast_path_too() -> None:
    line = dumps_line(BASE).rstrip(b"\n").replace(b'"n":3', b'"n":3,"n":4')
    with pytest.raises(MalformedRecord, match="duplicate key 'n'"):
        SpanRecord.from_json(line)


def test_an_id_with_a_final_newline_escaped_is_refused() -> None:
    # The hex check must cover the whole id: `$` in a pattern would let "…\n" through.
    line = orjson.dumps({**BASE, "span_id": "a" * 15 + "\n"})
    with pytest.raises(MalformedRecord, match="'span_id'"):
        SpanRecord.from_json(line)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    changes=st.dictionaries(st.sampled_from(sorted(BASE) + ["extra"]), JSON_VALUES, max_size=4),
    dropped=st.sets(st.sampled_from(sorted(BASE)), max_size=2),
)
def test_any_record_reads_as_the_checks_say(changes: dict[str, Any], dropped: set[str]) -> None:
    record = {k: v for k, v in {**BASE, **changes}.items() if k not in dropped}
    try:
        lines = writings(record)
    except (TypeError, ValueError):  # a float json cannot write (inf)
        return
    for line in lines:
        assert fast(line) == authority(line), line
