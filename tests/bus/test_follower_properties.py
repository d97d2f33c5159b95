"""Follower properties (hypothesis): any byte stream, split anywhere, reads the same."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarmsh.bus.follower import Follower
from swarmsh.bus.prefilter import name_prefix_filter
from swarmsh.bus.records import SpanRecord, dumps_line

NAMES = st.sampled_from(
    ["swarmsh.roberts.open", "swarmsh.scrum.plan", "http.get", "swarmsh.roberts.close"]
)


def record(name: str, i: int, escaped: bool) -> bytes:
    line = dumps_line(
        {
            "name": name,
            "trace_id": f"{i + 1:032x}",
            "span_id": f"{i + 1:016x}",
            "parent_span_id": None,
            "timestamp": float(i),
            "attributes": {"i": i},
        }
    )
    if escaped:  # the same span as another writer might spell it: escaped, spaced, reordered
        value = json.loads(line)
        line = (
            json.dumps({"attributes": value["attributes"], **value}, ensure_ascii=True).replace(
                "swarmsh.", "swarmsh\\u002e"
            )
            + "\n"
        ).encode()
    return line


LINES = st.lists(
    st.one_of(
        st.tuples(NAMES, st.booleans()).map(lambda t: ("span", t)),
        st.sampled_from([b"garbage", b"[1,2]", b"{}", b"", b'{"name": 5}']).map(
            lambda b: ("junk", b)
        ),
    ),
    max_size=40,
)


def build(items: list) -> tuple[bytes, list[int]]:  # type: ignore[type-arg]
    data, expected = b"", []
    for i, (kind, value) in enumerate(items):
        if kind == "span":
            name, escaped = value
            data += record(name, i, escaped)
            if name.startswith("swarmsh.roberts."):
                expected.append(i)
        else:
            data += value + b"\n"
    return data, expected


def parse(line: bytes) -> SpanRecord:
    return SpanRecord.from_json(line)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=LINES,
    cuts=st.lists(st.integers(min_value=0, max_value=1 << 16), max_size=12),
    chunk=st.integers(min_value=1, max_value=300),
)
def test_any_split_reads_every_record_once_in_order(items, cuts, chunk) -> None:  # type: ignore[no-untyped-def]
    data, expected = build(items)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spans.jsonl"
        path.write_bytes(b"")
        malformed: list[str] = []
        follower: Follower[SpanRecord] = Follower(
            path,
            reader="t",
            parse=parse,
            deadletter=None,
            start="beginning",
            chunk_size=chunk,
            on_malformed=malformed.append,
            use_inotify=False,
            accept=name_prefix_filter(["swarmsh.roberts."]),
        )
        got: list[int] = []
        offsets: list[int] = []
        points = sorted({min(c, len(data)) for c in cuts} | {len(data)})
        written = 0
        with open(path, "ab") as fh:
            for point in points:
                fh.write(data[written:point])
                fh.flush()
                written = point
                while batch := follower.poll(0):
                    for rec, pos in batch:
                        offsets.append(pos.offset)
                        if rec.name.startswith("swarmsh.roberts."):  # a prefilter may pass extras
                            got.append(rec.attributes["i"])
        follower.close()
    assert got == expected
    assert offsets == sorted(offsets) and (not offsets or offsets[-1] <= len(data))
    assert follower.position.offset == len(data)
    # junk is dead-lettered, except a named object that is none of ours
    assert len(malformed) == sum(
        1 for kind, v in items if kind == "junk" and v not in (b"", b'{"name": 5}')
    )


@settings(max_examples=200, deadline=None)
@given(items=LINES)
def test_prefilter_never_drops_a_matching_span(items) -> None:  # type: ignore[no-untyped-def]
    data, _ = build(items)
    accept = name_prefix_filter(["swarmsh.roberts."])
    region_spans = accept.scan(data) if data.endswith(b"\n") else None
    lines = data.split(b"\n")[:-1]
    kept_by_scan = None if region_spans is None else {data[s:e] for s, e in region_spans}
    for line in lines:
        if not line:
            continue
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        # Must pass: our spans (valid or not), and lines no reader would otherwise flag as bad:
        # not JSON, not an object, or without a name. A named object of another service may go.
        must_pass = (
            not isinstance(value, dict)
            or "name" not in value
            or (isinstance(value["name"], str) and value["name"].startswith("swarmsh.roberts."))
        )
        if must_pass:
            assert accept(line), line
            assert kept_by_scan is None or line in kept_by_scan, line
