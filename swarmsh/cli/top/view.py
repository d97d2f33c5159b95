"""Snapshot → rich renderable, and key → view: pure functions, no I/O. Every foreign value
goes in as `rich.text.Text` (never markup), already escaped and bounded by `shown()`."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from swarmsh.cli.top.data import AGENT_CHOICES, WINDOW_LINES, Snapshot
from swarmsh.safetext import shown
from swarmsh.tracetree import render as render_tree

OVERVIEW_TREE_LINES = 8  # per trace in the overview; `t N` shows one whole
KEYS_HELP = "q quit · a next agent · 0 all, 1-5 an agent · t then 1-9 open a trace · b back"


@dataclass(frozen=True)
class View:
    agent: str | None = None
    trace_id: str | None = None  # the trace shown full-screen, if any
    choosing_trace: bool = False  # `t` was pressed: a digit picks the trace
    quit: bool = False


def press(view: View, key: str, trace_ids: list[str]) -> View:
    """The view after `key`; `trace_ids` are the overview's traces, numbered from 1."""
    if key == "q":
        return replace(view, quit=True)
    if view.choosing_trace:
        index = int(key) - 1 if key.isdigit() else -1
        if 0 <= index < len(trace_ids):
            return replace(view, trace_id=trace_ids[index], choosing_trace=False)
        return replace(view, choosing_trace=False)
    if view.trace_id is not None:
        return replace(view, trace_id=None) if key in ("b", "\x1b", "t") else view
    if key == "t":
        return replace(view, choosing_trace=True)
    if key == "a":
        cycle = (None, *AGENT_CHOICES)
        return replace(view, agent=cycle[(cycle.index(view.agent) + 1) % len(cycle)])
    if key.isdigit() and int(key) <= len(AGENT_CHOICES):
        return replace(view, agent=AGENT_CHOICES[int(key) - 1] if key != "0" else None)
    return view


def uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _header(snapshot: Snapshot, view: View, interval: float) -> Text:
    clock = time.strftime("%H:%M:%S", time.localtime(snapshot.taken_at))
    home = shown(snapshot.report.get("home", "?"), limit=200)
    agent = view.agent or "all"
    text = Text(f"swarmsh top  {home}  {clock}  every {interval:g}s  agent: {agent}", style="bold")
    if view.choosing_trace:
        text.append("   open which trace? (1-9)", style="reverse")
    return text


def daemons_table(report: dict[str, Any]) -> RenderableType:
    table = Table("daemon", "state", "pid", "uptime", box=box.SIMPLE, title_justify="left")
    for name, p in sorted(report.get("processes", {}).items()):
        state = shown(p.get("state"), limit=20)
        table.add_row(
            Text(shown(name, limit=40)),
            Text(state, style="green" if state == "RUNNING" else "red"),
            Text(shown(p.get("pid"))),
            Text(uptime(p.get("uptime_s"))),
        )
    if "supervisor_error" in report:
        error = Text(f"supervisor: {shown(report['supervisor_error'])}", style="red")
        return Group(table, error) if table.row_count else error
    return table


def _entities(info: dict[str, Any]) -> str:
    states = info.get("entities") or {}
    return ", ".join(f"{shown(k, limit=40)}={shown(v)}" for k, v in sorted(states.items()))


def readers_table(snapshot: Snapshot, agent: str | None) -> Table:
    report = snapshot.report
    readers = {**report.get("agents", {}), "executor": report.get("executor", {})}
    if "shipper" in report:
        readers["shipper"] = report["shipper"]
    table = Table("reader", "lag lines", "lag bytes", "lines/s", "entities", box=box.SIMPLE)
    for name, info in readers.items():
        if agent is not None and name != agent:
            continue
        if info.get("error"):
            table.add_row(Text(name), Text(shown(info["error"]), style="yellow"), "", "", "")
            continue
        rate = snapshot.rates.get(name)
        table.add_row(
            Text(name),
            Text(shown(info.get("lag_lines", "-"))),
            Text(shown(info.get("lag_bytes", "-"))),
            Text("-" if rate is None else f"{rate:.1f}"),
            Text(_entities(info)),
        )
    return table


def commands_line(report: dict[str, Any]) -> Text:
    counters = report.get("executor", {}).get("counters") or {}
    dead = sum(v for v in (report.get("dead_letters") or {}).values() if isinstance(v, int))
    return Text(
        f"commands  executed {shown(counters.get('executed', 0))}"
        f"  retried {shown(counters.get('failed', 0))}"
        f"  dead-lettered {shown(counters.get('deadlettered', 0))}"
        f"  refused {shown(counters.get('refused', 0))}"
        f"   dead-letter lines {dead}"
    )


def traces_part(snapshot: Snapshot, agent: str | None) -> RenderableType:
    if not snapshot.traces:
        whose = f" with a span of {agent}" if agent else ""
        return Text(f"no traces{whose} among the bus's newest {WINDOW_LINES} lines", style="dim")
    parts: list[RenderableType] = []
    for i, trace in enumerate(snapshot.traces, start=1):
        lines = render_tree(trace.roots)
        parts.append(Text(f"[{i}] trace {trace.trace_id}  ({len(lines)} spans)", style="bold"))
        shown_lines = lines[:OVERVIEW_TREE_LINES]
        if len(lines) > len(shown_lines):
            shown_lines.append(f"… {len(lines) - len(shown_lines)} more (t {i} shows all)")
        parts.extend(Text("    " + line, no_wrap=True, overflow="ellipsis") for line in shown_lines)
    return Group(*parts)


def overview(snapshot: Snapshot, view: View, interval: float) -> RenderableType:
    parts: list[RenderableType] = [
        _header(snapshot, view, interval),
        Text(KEYS_HELP, style="dim"),
        daemons_table(snapshot.report),
        readers_table(snapshot, view.agent),
        commands_line(snapshot.report),
    ]
    parts.extend(Text(f"UNHEALTHY: {shown(p)}", style="red") for p in snapshot.problems)
    parts.extend([Text(""), traces_part(snapshot, view.agent)])
    return Group(*parts)


def trace_screen(trace_id: str, roots: list[Any] | None) -> RenderableType:
    if not roots:
        return Group(Text(f"trace {trace_id} is not on the bus", style="red"), Text(KEYS_HELP))
    lines = render_tree(roots)
    title = Text(f"trace {trace_id}  ({len(lines)} spans)   b back · q quit", style="bold")
    return Group(title, *(Text(line, no_wrap=True, overflow="ellipsis") for line in lines))


def screen(snapshot: Snapshot, view: View, interval: float, opened: list[Any] | None) -> Any:
    """The whole screen for this snapshot and view (`opened`: the open trace's roots)."""
    if view.trace_id is not None:
        return trace_screen(view.trace_id, opened)
    return overview(snapshot, view, interval)
