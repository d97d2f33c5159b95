"""Trace trees from bus records: gather one trace's spans, nest them, render them as text
(every foreign value escaped and bounded by `swarmsh.safetext`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from swarmsh.bus.records import SpanRecord
from swarmsh.customattrs import summary_parts
from swarmsh.errors import MalformedRecord
from swarmsh.fsutil import open_file
from swarmsh.safetext import duration, shown

CHUNK = 1 << 20

_SERVICE_SHORT = {"swarmsh-cli": "cli", "swarmsh-executor": "executor"}


@dataclass
class Node:
    span: SpanRecord
    children: list[Node] = field(default_factory=list)
    orphan: bool = False  # its parent is not on the bus


def iter_lines_reverse(path: Path, chunk: int = CHUNK) -> Iterator[bytes]:
    """The file's lines from last to first, reading backwards in chunks (bounded memory)."""
    fd = open_file(path, os.O_RDONLY)
    try:
        end = os.fstat(fd).st_size
        tail = b""
        while end > 0:
            start = max(0, end - chunk)
            block = os.pread(fd, end - start, start) + tail
            end = start
            lines = block.split(b"\n")
            tail = lines.pop(0)  # may be cut by the chunk boundary: keep it for the next round
            yield from reversed([line for line in lines if line])
        if tail:
            yield tail
    finally:
        os.close(fd)


def _parse(line: bytes) -> SpanRecord | None:
    try:
        return SpanRecord.from_json(line)
    except MalformedRecord:
        return None


def last_trace_id(bus: Path, name_prefix: str | None = None) -> str | None:
    """The trace of the newest span (whose name starts with `name_prefix`), by a reverse scan."""
    needle = name_prefix.encode() if name_prefix else b""
    for line in iter_lines_reverse(bus):
        if needle and needle not in line:
            continue
        record = _parse(line)
        if record and (not name_prefix or record.name.startswith(name_prefix)):
            return record.trace_id
    return None


def collect(bus: Path, trace_id: str, chunk: int = CHUNK) -> list[SpanRecord]:
    """Every span of `trace_id`: the bus is read in chunks and only lines holding the id
    (found with bytes.find) are parsed, so a large bus costs little more than its reading."""
    needle = trace_id.encode()
    found: list[SpanRecord] = []
    tail = b""
    with open(open_file(bus, os.O_RDONLY), "rb") as handle:
        while block := handle.read(chunk):
            data = tail + block
            end = data.rfind(b"\n") + 1
            data, tail = data[:end], data[end:]
            at = data.find(needle)
            while at != -1:
                start = data.rfind(b"\n", 0, at) + 1
                stop = data.find(b"\n", at)
                record = _parse(data[start:stop])
                if record and record.trace_id == trace_id:
                    found.append(record)
                at = data.find(needle, stop)
    if tail:
        record = _parse(tail)
        if record and record.trace_id == trace_id:
            found.append(record)
    return found


def build(spans: list[SpanRecord]) -> list[Node]:
    """Roots first by start time; a span whose parent is missing becomes a root marked orphan."""
    nodes = {s.span_id: Node(s) for s in spans}
    roots: list[Node] = []
    for node in nodes.values():
        parent = node.span.parent_span_id
        if parent and parent in nodes and parent != node.span.span_id:
            nodes[parent].children.append(node)
        else:
            node.orphan = parent is not None
            roots.append(node)
    for node in nodes.values():
        node.children.sort(key=lambda n: n.span.timestamp)
    return sorted(roots, key=lambda n: n.span.timestamp)


def service_label(span: SpanRecord) -> str:
    service = shown(span.resource.get("service.name", "?"), limit=64)
    return _SERVICE_SHORT.get(service, service.removeprefix("swarmsh-"))


def summary(span: SpanRecord) -> str:
    """The few attributes that matter for this kind of span."""
    a = {key: shown(value, limit=200) for key, value in span.attributes.items()}
    if span.name == "swarm.loop.iteration":
        text = f"{a.get('swarm.state.from', '?')}→{a.get('swarm.state.to', '?')}"
        if span.attributes.get("swarm.command"):
            text += f"  → {a['swarm.command']}"
        if span.attributes.get("swarm.rejection.reason"):
            text += f"  rejected: {a['swarm.rejection.reason']}"
        return text
    if span.name.startswith("swarmsh.command."):
        parts = [f"cmd={a.get('swarm.command', '?')}", f"depth={a.get('swarm.loop.depth', '?')}"]
        if span.attributes.get("swarm.rejection.reason"):
            parts.append(f"refused: {a['swarm.rejection.reason']}")
        return "  ".join(parts)
    keys = {
        "roberts.motion_id": "motion",
        "roberts.meeting_id": "meeting",
        "scrum.sprint_number": "sprint",
        "scrum.team_id": "team",
        "lean.project_id": "project",
        "scrum.defect_rate": "defects%",
    }
    parts = [f"{short}={a[key]}" for key, short in keys.items() if key in a]
    if "roberts.result" in a:
        parts.append(
            f"result={a['roberts.result']} {a.get('roberts.votes.yes')}-{a.get('roberts.votes.no')}"
        )
    parts += summary_parts(span.attributes, span.service)  # `swarmsh run` and --attr ones
    return " ".join(parts)


def render(roots: list[Node]) -> list[str]:
    lines: list[str] = []

    def walk(node: Node, prefix: str, connector: str, child_prefix: str) -> None:
        span = node.span
        status = "" if span.status in ("OK", "UNSET") else f"  {shown(span.status)}"
        if span.name != "swarm.loop.iteration" and span.status == "OK":
            status = "  OK"
        orphan = (
            f"  (orphan: parent {shown(span.parent_span_id)} not on the bus)" if node.orphan else ""
        )
        what = f"{shown(span.name)}  {service_label(span)}  {duration(span.duration_ms)}"
        lines.append(f"{prefix}{connector}{what}{status}  {summary(span)}{orphan}".rstrip())
        for i, child in enumerate(node.children):
            last = i == len(node.children) - 1
            walk(child, prefix + child_prefix, "└─ " if last else "├─ ", "   " if last else "│  ")

    for root in roots:
        walk(root, "", "", "")
    return lines
