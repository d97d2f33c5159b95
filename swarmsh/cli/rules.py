"""`swarmsh rules check|test`: validate rulebooks, and replay a recorded bus through them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from swarmsh.bus.records import SpanRecord


@click.group()
def rules() -> None:
    """Rulebooks of the rules agent (SWARMSH_RULES)."""


@rules.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def check(files: tuple[Path, ...]) -> None:
    """Validate rulebooks (default: the SWARMSH_RULES directory); exit 2 naming the mistake."""
    from swarmsh.agents.rules.load import RulebookError, default_rules_dir, load_rules

    paths = list(files) or [default_rules_dir()]
    try:
        loaded = load_rules(paths)
    except RulebookError as exc:
        raise click.UsageError(str(exc)) from None
    for rule in loaded:
        reads = "every line" if rule.needles is None else ", ".join(rule.needles)
        click.echo(f"ok  {rule.name}  → {rule.rule.then.command}  (reads: {reads})")
    click.echo(f"{len(loaded)} rule(s) in {', '.join(map(str, paths))}")


@rules.command()
@click.argument("rulebooks", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--bus",
    "bus",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A recorded bus (spans.jsonl) to replay.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per firing.")
def test(rulebooks: tuple[Path, ...], bus: Path, as_json: bool) -> None:
    """Replay BUS through RULEBOOKS, writing nothing; print what would fire."""
    from swarmsh.agents.rules.load import RulebookError, load_rules
    from swarmsh.agents.rules.replay import Replay
    from swarmsh.bus.records import SpanRecord
    from swarmsh.errors import MalformedRecord
    from swarmsh.safetext import escape

    try:
        loaded = load_rules(rulebooks)
    except RulebookError as exc:
        raise click.UsageError(str(exc)) from None
    replay = Replay.of(loaded)

    def records() -> Iterator[SpanRecord]:
        with open(bus, "rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    yield SpanRecord.from_json(line)
                except MalformedRecord:
                    replay.counters["unreadable"] += 1

    fired = 0
    for firing in replay.feed(records()):
        fired += 1
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "rule": firing.rule,
                        "group": firing.group,
                        "count": firing.count,
                        "time": firing.record.timestamp,
                        "trace_id": firing.record.trace_id,
                        "span_id": firing.record.span_id,
                        "id": firing.id,
                        "command": firing.command,
                        "args": firing.args,
                        "links": [{"trace_id": t, "span_id": s} for t, s in firing.links],
                    }
                )
            )
            continue
        when = datetime.fromtimestamp(firing.record.timestamp, UTC).strftime("%H:%M:%S.%f")[:-3]
        words = " ".join(f"{k}={v!r}" for k, v in firing.args.items())
        click.echo(
            f"{when}  {escape(firing.rule)}  [{escape(firing.group) or '-'}]  "
            f"count={firing.count}  → {firing.command} {escape(words)}  "
            f"trace={firing.record.trace_id[:8]} links={len(firing.links)}"
        )
    counters = replay.counters
    if not as_json:
        click.echo(
            f"{fired} firing(s); {counters['advanced']} span(s) only advanced a window, "
            f"{counters['throttled']} throttled, {counters['malformed']} missing a field, "
            f"{counters['unreadable']} unreadable line(s)",
            err=True,
        )
