"""`swarmsh top`: the swarm live, full-screen on a terminal, as periodic plain text in a pipe.

Data (`data.py`), rendering (`view.py`, pure) and the terminal (`terminal.py`) are apart; this
module only runs the loop. `rich` is imported here and nowhere else in the CLI."""

from __future__ import annotations

import os
import sys
import time
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

import click

from swarmsh.cli.context import SAFE_TEXT, CliState
from swarmsh.cli.status import CONFIG_OPTION, MAX_LAG_OPTION

if TYPE_CHECKING:
    from swarmsh.cli.top.data import Collector

PIPE_WIDTH = 120  # columns of the plain output when neither a terminal nor COLUMNS says


@click.command("top")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1, max=3600),
    default=1.0,
    show_default=True,
    help="Seconds between refreshes.",
)
@click.option("--once", is_flag=True, help="Print one snapshot and exit (for scripts).")
@click.option(
    "--traces",
    type=click.IntRange(min=0, max=9),
    default=5,
    show_default=True,
    help="How many of the newest traces to show.",
)
@click.option("--agent", type=SAFE_TEXT, help="Start filtered to this agent (keys change it).")
@MAX_LAG_OPTION
@CONFIG_OPTION
@click.pass_obj
def top(
    state: CliState,
    interval: float,
    once: bool,
    traces: int,
    agent: str | None,
    max_lag: int,
    config: str | None,
) -> None:
    """The swarm live: daemons and uptime, readers' lag and lines/s, entities per state,
    commands executed / retried / dead-lettered, and the newest traces as trees.

    Keys: q quits; a cycles the agent filter, 0 clears it, 1-5 pick roberts, scrum, lean,
    rules, executor; t then 1-9 opens that trace full-screen, b goes back. When stdout is
    not a terminal, a plain snapshot is printed every interval instead.
    """
    from swarmsh.cli.top.data import AGENT_CHOICES, Collector

    if agent is not None and agent not in AGENT_CHOICES:
        raise click.BadParameter(f"one of {', '.join(AGENT_CHOICES)}", param_hint="--agent")
    collector = Collector(state, config, max_lag)
    try:
        if once or not sys.stdout.isatty():
            _plain(collector, interval, traces, agent, once)
        else:
            _live(collector, interval, traces, agent)
    except BrokenPipeError:  # `swarmsh top | head`: the reader has seen enough
        sys.stderr.close()
    except (KeyboardInterrupt, EOFError):  # Ctrl-C, or the terminal went away
        pass


def _plain(
    collector: Collector, interval: float, traces: int, agent: str | None, once: bool
) -> None:
    from rich.console import Console

    from swarmsh.cli.top.view import View, overview

    terminal = sys.stdout.isatty()
    width = None if terminal or os.environ.get("COLUMNS") else PIPE_WIDTH
    console = Console(highlight=False, emoji=False, width=width, no_color=not terminal)
    while True:
        snapshot = collector.snapshot(traces, agent)
        console.print(overview(snapshot, View(agent=agent), interval))
        if once:
            return
        console.print("-" * 20)
        sys.stdout.flush()
        time.sleep(interval)  # the refresh period itself: nothing to wake for


def _opened(collector: Collector, trace_id: str | None) -> list[Any] | None:
    """The whole of the opened trace (read once when opened, from the whole bus)."""
    if trace_id is None:
        return None
    from swarmsh.tracetree import build, collect

    bus = collector.state.paths.bus
    return build(collect(bus, trace_id)) if bus.exists() else None


def _live(collector: Collector, interval: float, traces: int, agent: str | None) -> None:
    from rich.console import Console
    from rich.live import Live

    from swarmsh.cli.top.terminal import Stopped, keys_mode
    from swarmsh.cli.top.view import View, press, screen

    console = Console(highlight=False, emoji=False)
    view = View(agent=agent)
    fd = sys.stdin.fileno()
    keys = sys.stdin.isatty()
    opened: list[Any] | None = None
    try:
        with (
            keys_mode(fd) if keys else nullcontext(),
            Live(console=console, screen=True, auto_refresh=False, redirect_stdout=False) as live,
        ):
            snapshot = collector.snapshot(traces, view.agent)
            due = time.monotonic() + interval
            while not view.quit:
                if time.monotonic() >= due:
                    snapshot = collector.snapshot(traces, view.agent)
                    due = time.monotonic() + interval
                live.update(screen(snapshot, view, interval, opened), refresh=True)
                typed = _wait_keys(fd if keys else None, due - time.monotonic())
                for key in typed:
                    before = view
                    view = press(view, key, [t.trace_id for t in snapshot.traces])
                    if view.agent != before.agent:
                        due = 0.0  # show the new filter now, not at the next tick
                    if view.trace_id != before.trace_id:
                        opened = _opened(collector, view.trace_id)
                    if view.quit:
                        break
    except Stopped as stop:
        raise SystemExit(128 + stop.signum) from None


def _wait_keys(fd: int | None, timeout: float) -> str:
    """Keys typed before `timeout` (none when stdin is not a terminal: just the wait)."""
    from swarmsh.cli.top.terminal import read_keys

    if fd is None:
        time.sleep(max(timeout, 0.0))  # the refresh period: no keys can come to wake us
        return ""
    return read_keys(fd, timeout)
