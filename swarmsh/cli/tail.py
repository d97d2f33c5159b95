"""`swarmsh tail`: the bus as one readable line per span, optionally followed live."""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path

import click

from swarmsh.bus.records import SpanRecord
from swarmsh.cli.context import SAFE_TEXT, CliState, reported_as_errors

_STATUS_COLOURS = {"ERROR": "red", "OK": "green"}


def make_filter(
    agent: str | None, name: str | None, trace_id: str | None, status: str | None
) -> Callable[[SpanRecord], bool]:
    def keep(r: SpanRecord) -> bool:
        if agent and r.attributes.get("swarm.agent") != agent and r.service != f"swarmsh-{agent}":
            return False
        if name and not r.name.startswith(name):
            return False
        if trace_id and r.trace_id != trace_id:
            return False
        return not (status and r.status != status.upper())

    return keep


def format_line(r: SpanRecord) -> str:
    """One line per span; every foreign value escaped and bounded (`swarmsh.safetext`), so
    no record the readers accept can break the terminal or this command."""
    from swarmsh.safetext import clock, shown
    from swarmsh.tracetree import service_label, summary

    status = click.style(shown(r.status), fg=_STATUS_COLOURS.get(r.status))
    name = click.style(shown(r.name), bold=True)
    text = f"{clock(r.timestamp)}  {service_label(r):<9} {name}  {summary(r)}  {status}"
    if r.status == "ERROR" and r.status_message:
        text += f" ({shown(r.status_message)})"
    return f"{text}  trace={shown(r.trace_id[:8])}"


@click.command("tail")
@click.option("-f", "--follow", is_flag=True, help="Keep following the bus, across rotations.")
@click.option(
    "-n",
    "--lines",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="How many of the newest matching spans to show first.",
)
@click.option(
    "--agent",
    type=SAFE_TEXT,
    help="Only spans of this agent or CLI group (roberts, scrum, lean, executor).",
)
@click.option("--name", type=SAFE_TEXT, help="Only spans whose name starts with this prefix.")
@click.option("--trace", "trace_id", type=SAFE_TEXT, help="Only spans of this trace.")
@click.option("--status", type=click.Choice(["error", "ok", "unset"], case_sensitive=False))
@click.option("--json", "as_json", is_flag=True, help="Raw records, one per line (for jq).")
@click.option(
    "--scan",
    type=click.IntRange(min=1),
    default=1_000_000,
    show_default=True,
    help="NATS bus: spans read back at most to find the newest matching ones.",
)
@click.option(
    "--mirror",
    type=click.Path(dir_okay=False, path_type=Path),
    help="NATS bus: also append the spans shown to this local JSONL file.",
)
@click.pass_obj
def tail(
    state: CliState,
    follow: bool,
    lines: int,
    agent: str | None,
    name: str | None,
    trace_id: str | None,
    status: str | None,
    as_json: bool,
    scan: int,
    mirror: Path | None,
) -> None:
    """Show the newest spans on the bus; with -f, keep showing them as they arrive."""
    from swarmsh.bus.backend import is_nats

    keep = make_filter(agent, name, trace_id, status)
    with reported_as_errors():
        if is_nats():
            from swarmsh.cli.tail_nats import tail_nats

            tail_nats(keep, follow, lines, as_json, scan, mirror)
            return
        if mirror is not None:
            raise click.UsageError(f"the file bus is a JSONL file already: {state.paths.bus}")
        _tail(state.paths.bus, keep, follow, lines, as_json)


def _tail(
    bus: Path, keep: Callable[[SpanRecord], bool], follow: bool, lines: int, as_json: bool
) -> None:
    from swarmsh.bus.follower import Follower
    from swarmsh.bus.records import dumps_line
    from swarmsh.errors import MalformedRecord
    from swarmsh.tracetree import iter_lines_reverse

    def show(record: SpanRecord) -> None:
        if as_json:
            click.echo(dumps_line(record.to_dict()).decode(), nl=False)
        else:
            click.echo(format_line(record))
        if follow:
            sys.stdout.flush()  # a pipe would otherwise hold lines back

    # Start following where the backlog ends, so nothing falls between the two.
    follower = (
        Follower(bus, reader="tail", parse=SpanRecord.from_json, deadletter=None, start="end")
        if follow
        else None
    )
    try:
        backlog: deque[SpanRecord] = deque()
        if lines and bus.exists():
            for line in iter_lines_reverse(bus):
                try:
                    record = SpanRecord.from_json(line)
                except MalformedRecord:
                    continue  # readers dead-letter bad lines; tail just shows the good ones
                if keep(record):
                    backlog.appendleft(record)
                    if len(backlog) >= lines:
                        break
        for record in backlog:
            show(record)
        while follower is not None:
            for record, _position in follower.poll(1.0) or ():
                if keep(record):
                    show(record)
    except KeyboardInterrupt:
        pass
    finally:
        if follower is not None:
            follower.close()
