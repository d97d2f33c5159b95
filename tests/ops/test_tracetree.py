"""Trace collection and the reverse scan on a bus larger than their chunks."""

from __future__ import annotations

from pathlib import Path

from swarmsh.bus.records import dumps_line
from swarmsh.tracetree import build, collect, iter_lines_reverse, last_trace_id


def write_bus(path: Path, n: int) -> None:
    with open(path, "wb") as fh:
        for i in range(n):
            fh.write(
                dumps_line(
                    {
                        "name": f"s{i}",
                        "trace_id": f"{i % 7 + 1:032x}",
                        "span_id": f"{i + 1:016x}",
                        "parent_span_id": f"{i:016x}" if i % 7 else None,
                        "timestamp": float(i),
                        "attributes": {},
                    }
                )
            )


def test_collect_finds_every_span_of_a_trace_across_chunk_boundaries(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    write_bus(bus, 500)
    for chunk in (37, 1000, 1 << 20):
        spans = collect(bus, f"{3:032x}", chunk=chunk)
        assert [s.name for s in spans] == [f"s{i}" for i in range(2, 500, 7)]


def test_reverse_scan_yields_every_line_backwards(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    write_bus(bus, 300)
    lines = bus.read_bytes().splitlines()
    for chunk in (50, 4096):
        assert list(iter_lines_reverse(bus, chunk=chunk)) == lines[::-1]
    assert last_trace_id(bus) == f"{299 % 7 + 1:032x}"
    assert last_trace_id(bus, "s29") == f"{299 % 7 + 1:032x}"
    assert last_trace_id(bus, "s1") == f"{199 % 7 + 1:032x}"


def test_build_nests_children_and_marks_orphans(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    write_bus(bus, 14)
    roots = build(collect(bus, f"{1:032x}"))  # s0 and s7: roots of their own
    assert [r.span.name for r in roots] == ["s0", "s7"]
    assert not any(r.orphan for r in roots)
    roots = build(collect(bus, f"{2:032x}"))  # s1 and s8: parents s0/s7 are in another trace
    assert [(r.span.name, r.orphan) for r in roots] == [("s1", True), ("s8", True)]
