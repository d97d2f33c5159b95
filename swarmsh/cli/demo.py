"""`swarmsh demo`: governance → delivery → optimization → governance, through the live swarm."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import click

from swarmsh.bus.records import SpanRecord
from swarmsh.cli.context import CliState, Finite, whole

TEAM = "alpha"
MEETING = "board"


@dataclass(frozen=True)
class Reaction:
    """A span the swarm must write in reply to a step: what, from which agent, how to spot it."""

    what: str
    agent: str
    matches: Callable[[SpanRecord], bool]


def _span(name: str, **attrs: object) -> Callable[[SpanRecord], bool]:
    return lambda r: r.name == name and all(r.attributes.get(k) == v for k, v in attrs.items())


def _store_keys(state: CliState, agent: str, like: str) -> dict[str, str]:
    from swarmsh.bus.backend import is_nats

    if is_nats():  # the agent's key-value bucket
        from swarmsh.cli.demo_nats import entity_states

        return entity_states(agent, like.rstrip("%"))
    path = state.paths.state / f"{agent}.db"
    if not path.exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT key, state FROM entities WHERE key LIKE ?", (like,)))
    except sqlite3.Error:
        return {}
    finally:
        db.close()


def next_sprint(state: CliState) -> int:
    used = [
        k.removeprefix("motion:sprint") for k in _store_keys(state, "roberts", "motion:sprint%")
    ]
    numbers = [int(n) for n in used if n.isdigit()]
    return max(numbers) + 1 if numbers else 42


@click.command("demo")
@click.option(
    "--timeout",
    type=Finite(min=1, max=86400),
    default=30.0,
    show_default=True,
    help="Seconds to wait for each agent's reaction.",
)
@click.option("--sprint", type=whole(1), help="Sprint number [default: 42, then next].")
@click.option("--config", type=click.Path(dir_okay=False, exists=True), help="supervisord.conf.")
@click.option("--no-start", is_flag=True, help="Fail instead of starting a swarm that is down.")
@click.pass_obj
def demo(
    state: CliState, timeout: float, sprint: int | None, config: str | None, no_start: bool
) -> None:
    """Run the scenario against the running swarm (starting it if needed) and show its traces."""
    from swarmsh.bus.backend import is_nats
    from swarmsh.bus.watch import SpanWatcher
    from swarmsh.cli import cli
    from swarmsh.cli.swarm import bind_home, ensure_up
    from swarmsh.errors import SwarmshError
    from swarmsh.safetext import shown
    from swarmsh.tracetree import build, collect, render

    try:  # either way, the demo drives the running swarm's home (a different one is an error)
        if no_start:
            infos = bind_home(state, config).processes()
            down = [p.name for p in infos if p.state != "RUNNING"]
            if down:
                raise click.ClickException(f"not RUNNING: {', '.join(down)} (swarmsh status)")
        else:
            ensure_up(state, config, quiet=True)
    except SwarmshError as exc:
        raise click.ClickException(str(exc)) from None

    n = sprint or next_sprint(state)
    motion, project = f"sprint{n}", f"defect-{TEAM}-{n}"
    board = _store_keys(state, "roberts", f"meeting:{MEETING}").get(f"meeting:{MEETING}")
    traces: list[str] = []
    started = time.monotonic()
    bus = state.paths.bus
    watch: Callable[[], Any]  # a SpanWatcher, or its NATS twin
    if is_nats():  # the spans stream in the bus's place
        from swarmsh.cli import demo_nats

        watch, spans_of = demo_nats.span_watcher, demo_nats.trace_spans
    else:
        watch, spans_of = partial(SpanWatcher, bus), partial(collect, bus)

    def step(argv: list[str], reaction: Reaction | None = None) -> str:
        with watch() as watcher:
            cli.main(args=argv, prog_name="swarmsh", standalone_mode=False, obj=state)
            trace_id = state.last_trace_id
            if reaction is None:
                return trace_id  # type: ignore[return-value]
            click.echo(f"  … waiting for {reaction.what} ({reaction.agent} agent)")
            found = watcher.wait(lambda r: r.trace_id == trace_id and reaction.matches(r), timeout)
        if found is None:
            raise click.ClickException(
                f"no reaction: {reaction.what} did not arrive within {timeout:g}s; "
                f"is the {reaction.agent} agent running? (swarmsh status; var/{reaction.agent}.log)"
            )
        service = shown(found.service, limit=64)  # foreign text: escaped
        click.echo(f"  ✓ {reaction.what}  ({service}, {time.monotonic() - started:.1f}s)")
        return trace_id  # type: ignore[return-value]

    click.echo(f"1. governance: motion {motion} to start sprint {n} for team {TEAM}")
    call = None
    if board not in ("IN_SESSION", "CALLING"):
        call = Reaction(
            f"meeting {MEETING} called to order",
            "roberts",
            _span("swarmsh.roberts.call-to-order", **{"roberts.meeting_id": MEETING}),
        )
    step(
        [
            "roberts",
            "open",
            motion,
            "--kind",
            "sprint",
            "--sprint",
            str(n),
            "--team",
            TEAM,
            "--meeting",
            MEETING,
            "--text",
            f"Start sprint {n}",
        ],
        call,
    )
    step(["roberts", "second", motion])
    step(["roberts", "vote", motion])
    traces.append(
        step(
            ["roberts", "close", motion, "--yes", "5", "--no", "2"],
            Reaction(
                f"sprint {n} planned",
                "roberts → executor",
                _span("swarmsh.scrum.plan", **{"scrum.sprint_number": n, "scrum.team_id": TEAM}),
            ),
        )
    )
    click.echo(f"2. delivery: sprint {n} review finds a 5.2 % defect rate")
    traces.append(
        step(
            ["scrum", "review", str(n), "--team", TEAM, "--velocity", "45", "--defect-rate", "5.2"],
            Reaction(
                f"lean project {project} defined",
                "scrum → executor",
                _span("swarmsh.lean.define", **{"lean.project_id": project}),
            ),
        )
    )
    click.echo(f"3. optimization: DMAIC on {project}")
    step(["lean", "measure", project, "--metric", "defect_rate=5.2"])
    step(["lean", "analyze", project, "--root-cause", "no second reviewer"])
    step(
        [
            "lean",
            "improve",
            project,
            "--improvement",
            "pair review",
            "--pilot-success",
            "--savings",
            "1200",
        ]
    )
    traces.append(
        step(
            ["lean", "control", project, "--process-change", "pair review"],
            Reaction(
                f"motion ratify-{project} opened",
                "lean → executor",
                _span("swarmsh.roberts.open", **{"roberts.motion_id": f"ratify-{project}"}),
            ),
        )
    )
    click.echo("4. governance: the board ratifies the process change")
    ratify = f"ratify-{project}"
    step(["roberts", "second", ratify])
    step(["roberts", "vote", ratify])
    step(["roberts", "close", ratify, "--yes", "6", "--no", "1"])
    step(["roberts", "adjourn", "--meeting", MEETING])

    click.echo(f"\nThe loop closed in {time.monotonic() - started:.1f}s. Its traces:\n")
    for trace_id in traces:
        click.echo(f"trace {trace_id}")
        for line in render(build(spans_of(trace_id))):
            click.echo(f"  {line}")
        click.echo("")
    click.echo("Live: swarmsh tail -f   One trace: swarmsh trace TRACE_ID   Health: swarmsh status")
