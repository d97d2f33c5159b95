"""What `swarmsh top` shows, gathered once per refresh: `status`'s report (daemons, readers,
entities, counters), each reader's throughput since the last refresh, and the newest traces."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swarmsh.bus.records import SpanRecord
from swarmsh.cli.context import CliState
from swarmsh.cli.status import collect_status, count_lines, followed_files, problems_of
from swarmsh.errors import MalformedRecord
from swarmsh.tracetree import Node, build, iter_lines_reverse

WINDOW_LINES = 2000  # the newest bus lines searched for recent traces (bounded per refresh)
AGENT_CHOICES = ("roberts", "scrum", "lean", "rules", "executor")


@dataclass(frozen=True)
class Trace:
    trace_id: str
    roots: list[Node]
    newest: float  # the start of its newest span in the window


@dataclass(frozen=True)
class Snapshot:
    taken_at: float
    report: dict[str, Any]  # as `swarmsh status --json` gives it
    problems: list[str]
    rates: dict[str, float | None]  # reader -> lines/s since the previous snapshot
    traces: list[Trace] = field(default_factory=list)


@dataclass(frozen=True)
class Mark:
    """Where a reader's checkpoint stood at one snapshot."""

    file: tuple[Any, ...]
    offset: int
    at: float


def rate(before: Mark | None, now: Mark, followed: Path) -> float | None:
    """Lines per second the reader committed between two marks; None on the first look."""
    if before is None or now.at <= before.at:
        return None
    if now.file == before.file and now.offset >= before.offset:
        lines = (
            count_lines(followed, before.offset, now.offset) if now.offset > before.offset else 0
        )
    else:  # rotated or truncated: what it read of the new file
        lines = count_lines(followed, 0, now.offset)
    return lines / (now.at - before.at)


def spans_of_agent(agent: str | None) -> Callable[[SpanRecord], bool]:
    from swarmsh.cli.tail import make_filter

    return make_filter(agent, None, None, None)


def recent_traces(bus: Path, count: int, agent: str | None = None) -> list[Trace]:
    """The `count` traces with the newest spans among the bus's last WINDOW_LINES lines
    (with `agent`: traces one of whose spans is that agent's), newest first."""
    if count <= 0 or not bus.exists():
        return []
    keep = spans_of_agent(agent)
    spans: dict[str, list[SpanRecord]] = {}
    wanted: set[str] = set()
    for seen, line in enumerate(iter_lines_reverse(bus)):
        if seen >= WINDOW_LINES:
            break
        try:
            record = SpanRecord.from_json(line)
        except MalformedRecord:
            continue
        spans.setdefault(record.trace_id, []).append(record)
        if agent is None or keep(record):
            wanted.add(record.trace_id)
    traces = [
        Trace(trace_id, build(spans[trace_id]), max(s.timestamp for s in spans[trace_id]))
        for trace_id in wanted
    ]
    traces.sort(key=lambda t: t.newest, reverse=True)
    return traces[:count]


class Collector:
    """One snapshot per call; remembers checkpoints to turn them into throughput."""

    def __init__(self, state: CliState, config: str | None, max_lag: int) -> None:
        self.state = state
        self.config = config
        self.max_lag = max_lag
        self.marks: dict[str, Mark] = {}

    def snapshot(self, traces: int, agent: str | None = None) -> Snapshot:
        from swarmsh.errors import SwarmshError

        try:
            report = collect_status(self.state, self.config)
        except (SwarmshError, OSError) as exc:  # e.g. a home given is not the swarm's: shown
            report = {"supervisor_error": str(exc), "processes": {}, "agents": {}, "executor": {}}
        now = time.time()
        rates: dict[str, float | None] = {}
        if "home" in report:
            readers = {**report["agents"], "executor": report["executor"]}
            readers["shipper"] = report["shipper"]
            for name, (_db, followed) in followed_files(self.state.paths).items():
                info = readers.get(name) or {}
                if info.get("checkpoint") is None:
                    continue
                mark = Mark(tuple(info.get("checkpoint_file") or ()), info["checkpoint"], now)
                rates[name] = rate(self.marks.get(name), mark, followed)
                self.marks[name] = mark
        recent = recent_traces(self.state.paths.bus, traces, agent) if "home" in report else []
        return Snapshot(now, report, problems_of(report, self.max_lag), rates, recent)
