"""`swarmsh trace`: one trace as a tree across processes."""

from __future__ import annotations

import click

from swarmsh.cli.context import SAFE_TEXT, CliState, reported_as_errors

FORMATS = ("text", "mermaid", "dot", "json")


@click.command("trace")
@click.argument("trace_id", required=False, type=SAFE_TEXT)
@click.option("--last", is_flag=True, help="The trace of the newest span (see --name).")
@click.option(
    "--name",
    "name_prefix",
    type=SAFE_TEXT,
    help="With --last: newest span whose name starts so.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the trace's records as JSONL.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text (a tree), mermaid (flowchart), dot (Graphviz) or json (a tree with children).",
)
@click.option(
    "--scan",
    type=click.IntRange(min=1),
    default=1_000_000,
    show_default=True,
    help="NATS bus: how many of the newest spans to look through.",
)
@click.pass_obj
def trace(
    state: CliState,
    trace_id: str | None,
    last: bool,
    name_prefix: str | None,
    as_json: bool,
    fmt: str,
    scan: int,
) -> None:
    """Show TRACE_ID (or --last) as a tree: service, span, duration, status, key attributes.

    Spans whose parent is not on the bus are shown as orphans, not hidden.
    """
    from functools import partial

    from swarmsh.bus.backend import is_nats
    from swarmsh.bus.records import dumps_line
    from swarmsh.safetext import shown
    from swarmsh.tracetree import build, collect, last_trace_id, render

    bus = state.paths.bus
    if (trace_id is None) == (not last):
        raise click.UsageError("give either TRACE_ID or --last")
    if as_json and fmt != "text":
        raise click.UsageError("--json (the raw records) and --format are exclusive")
    if name_prefix and not last:
        raise click.UsageError("--name goes with --last")
    if is_nats():  # the newest `scan` spans of the spans stream
        from swarmsh.cli.trace_nats import StreamLookup

        lookup = StreamLookup(scan)
        newest_trace, spans_of = lookup.last_trace_id, lookup.spans
    elif not bus.exists():
        raise click.ClickException(f"no bus at {shown(str(bus))}")
    else:
        newest_trace, spans_of = partial(last_trace_id, bus), partial(collect, bus)
    if last:
        with reported_as_errors():
            trace_id = newest_trace(name_prefix)
        if trace_id is None:
            raise click.ClickException("no matching span on the bus")
    assert trace_id is not None
    trace_id = trace_id.lower()
    if len(trace_id) != 32 or any(c not in "0123456789abcdef" for c in trace_id):
        raise click.UsageError(f"{trace_id!r} is not a trace id (32 hex digits)")
    with reported_as_errors():
        spans = spans_of(trace_id)
    if not spans:
        raise click.ClickException(f"trace {trace_id} is not on the bus")
    if as_json:
        for span in sorted(spans, key=lambda s: s.timestamp):
            click.echo(dumps_line(span.to_dict()).decode(), nl=False)
        return
    if fmt != "text":
        from swarmsh import traceformats

        roots = build(spans)
        if fmt == "json":
            click.echo(traceformats.to_json(trace_id, roots))
        elif fmt == "mermaid":
            click.echo(traceformats.to_mermaid(roots), nl=False)
        else:
            click.echo(traceformats.to_dot(trace_id, roots), nl=False)
        return
    click.echo(f"trace {trace_id}  ({len(spans)} spans)")
    for line in render(build(spans)):
        click.echo(line)
