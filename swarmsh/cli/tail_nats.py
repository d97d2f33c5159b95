"""`swarmsh tail` on a NATS bus: the newest matching spans of the spans stream (read back at
most `--scan` spans), then with -f every new one; `--mirror FILE` also appends each span shown
to a local JSONL file (owner-only, locked like the bus), for `tail -F FILE | jq` and friends."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from swarmsh.bus.records import SpanRecord


def tail_nats(
    keep: Callable[[SpanRecord], bool],
    follow: bool,
    lines: int,
    as_json: bool,
    scan: int,
    mirror: Path | None,
) -> None:
    from swarmsh.bus import backend
    from swarmsh.bus.jetstream.view import Follow, newest
    from swarmsh.bus.records import dumps_line
    from swarmsh.bus.writer import JsonlWriter
    from swarmsh.cli.tail import format_line

    copy = JsonlWriter(mirror) if mirror is not None else None

    def show(records: list[SpanRecord]) -> None:
        if copy is not None and records:
            copy.append([dumps_line(r.to_dict()) for r in records])  # BusWriteError: exit 1
        for record in records:
            if as_json:
                click.echo(dumps_line(record.to_dict()).decode(), nl=False)
            else:
                click.echo(format_line(record))
        if follow:
            sys.stdout.flush()  # a pipe would otherwise hold lines back

    if follow:
        backend.as_daemon()  # a follower waits for a restarted server, as the daemons do
    conn = backend.connection("swarmsh-tail")
    follower = None
    try:
        backlog, last = newest(conn, keep, lines, scan)
        show(backlog)
        if follow:
            # from the backlog's end (nothing falls in between), across server restarts
            follower = Follow(conn, last, resume=True)
            while True:
                show([r for r in follower.poll(1.0) if keep(r)])
    except KeyboardInterrupt:
        pass
    finally:
        if follower is not None:
            follower.close()
        backend.close_connection()
