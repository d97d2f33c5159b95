"""`swarmsh top`'s pure parts: keys → view, checkpoints → lines/s, snapshot → screen (hostile
values stay text, never markup or escape codes)."""

from __future__ import annotations

import io
import os
from pathlib import Path

from rich.console import Console

from swarmsh.bus.records import SpanRecord
from swarmsh.cli.top.data import AGENT_CHOICES, Mark, Snapshot, Trace, rate, recent_traces
from swarmsh.cli.top.view import View, overview, press, trace_screen, uptime
from swarmsh.tracetree import build


def test_keys_filter_cycle_open_and_quit() -> None:
    ids = ["a" * 32, "b" * 32]
    view = View()
    view = press(view, "2", ids)
    assert view.agent == "scrum"
    view = press(view, "a", ids)
    assert view.agent == "lean"
    for _ in AGENT_CHOICES[2:]:
        view = press(view, "a", ids)
    assert view.agent is None  # the cycle comes back to all
    assert press(View(agent="lean"), "0", ids).agent is None
    opened = press(press(view, "t", ids), "2", ids)
    assert opened.trace_id == "b" * 32 and not opened.choosing_trace
    assert press(opened, "3", ids) == opened  # digits do nothing inside a trace
    assert press(opened, "b", ids).trace_id is None
    assert press(press(view, "t", ids), "7", ids) == view  # no 7th trace: cancelled
    assert press(opened, "q", ids).quit and press(View(choosing_trace=True), "q", ids).quit


def test_rate_counts_lines_committed_between_marks(tmp_path: Path) -> None:
    bus = tmp_path / "bus"
    bus.write_bytes(b"x\n" * 10)
    st = os.stat(bus)
    f = (st.st_dev, st.st_ino)
    assert rate(None, Mark(f, 4, 10.0), bus) is None  # first look
    assert rate(Mark(f, 4, 10.0), Mark(f, 14, 12.0), bus) == 2.5  # 5 lines in 2 s
    assert rate(Mark(f, 14, 10.0), Mark(f, 14, 11.0), bus) == 0.0
    assert rate(Mark((0, 1), 18, 10.0), Mark(f, 6, 11.0), bus) == 3.0  # rotated: from 0


def span(name: str, span_id: str, parent: str | None, t: float, **attrs: object) -> SpanRecord:
    return SpanRecord.from_dict(
        {
            "name": name,
            "trace_id": "c" * 32,
            "span_id": span_id,
            "parent_span_id": parent,
            "timestamp": t,
            "attributes": attrs,
            "resource": {"service.name": "swarmsh-roberts"},
        }
    )


HOSTILE = "[bold red]boom[/] \x1b[2J\u202e"


def render(renderable: object) -> str:
    out = io.StringIO()
    Console(file=out, width=160, no_color=True, highlight=False).print(renderable)
    return out.getvalue()


def test_overview_shows_hostile_values_as_text() -> None:
    report = {
        "home": HOSTILE,
        "processes": {HOSTILE: {"state": "FATAL", "pid": 7, "uptime_s": 3725.0}},
        "agents": {"roberts": {"lag_lines": 3, "lag_bytes": 90, "entities": {HOSTILE: 2}}},
        "executor": {"counters": {"executed": 4, "failed": 2, "deadlettered": 1}},
        "dead_letters": {"executor": 1},
    }
    roots = build([span(HOSTILE, "1" * 16, None, 1.0), span("child", "2" * 16, "1" * 16, 2.0)])
    snap = Snapshot(0.0, report, ["roberts lags"], {"roberts": 1.5}, [Trace("c" * 32, roots, 2.0)])
    text = render(overview(snap, View(), 1.0))
    assert "\x1b" not in text and "\u202e" not in text
    assert text.count("[bold red]boom[/]") == 4  # home, daemon, entity state, span name
    assert "1h02m" in text and "1.5" in text and "UNHEALTHY: roberts lags" in text
    assert "executed 4  retried 2  dead-lettered 1" in text
    assert "[1] trace " + "c" * 32 + "  (2 spans)" in text and "└─ child" in text
    filtered = render(overview(snap, View(agent="scrum"), 1.0))
    assert "lag lines" in filtered and "roberts " not in filtered.split("lag lines")[1][:200]
    assert "child" in render(trace_screen("c" * 32, roots))
    assert "not on the bus" in render(trace_screen("c" * 32, None))
    assert uptime(59) == "59s" and uptime(61) == "1m01s" and uptime(None) == "-"


def test_recent_traces_newest_first_filtered_by_agent(tmp_path: Path) -> None:
    from swarmsh.bus.records import dumps_line

    bus = tmp_path / "spans.jsonl"
    with open(bus, "wb") as fh:
        for i in range(6):
            record = span("s", f"{i + 1:016x}", None, float(i)).to_dict()
            record["trace_id"] = f"{i + 1:032x}"
            if i % 2:
                record["resource"] = {"service.name": "swarmsh-scrum"}
            fh.write(dumps_line(record))
        fh.write(b"not json\n")
    newest = recent_traces(bus, 3)
    assert [t.trace_id for t in newest] == [f"{i:032x}" for i in (6, 5, 4)]
    scrum = recent_traces(bus, 9, agent="scrum")
    assert [t.trace_id for t in scrum] == [f"{i:032x}" for i in (6, 4, 2)]
