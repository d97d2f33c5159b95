"""`swarmsh example ...`: a plug-in command group. Each command records one span,
`swarmsh.example.<command>`, through swarmsh's own `command_span` (so a run by the executor
carries its `swarm.command.id`)."""

from __future__ import annotations

import click

from swarmsh.cli.context import ENTITY_ID, command_span
from swarmsh.plugins import allow_executor

TARGET = "example.target"


@click.group("example", epilog="Example: swarmsh example ping t1")
def example() -> None:
    """An example plug-in: ping a target; the agent `echo` answers with a pong."""


@example.command("ping", epilog="Example: swarmsh example ping t1")
@click.argument("target", type=ENTITY_ID)
def ping(target: str) -> None:
    """Ping TARGET (the agent `echo` asks for `swarmsh example pong TARGET`)."""
    with command_span("example", "ping", {TARGET: target}, "example.pinged"):
        click.echo(f"pinged {target}")


@example.command("pong", epilog="Example: swarmsh example pong t1")
@click.argument("target", type=ENTITY_ID)
def pong(target: str) -> None:
    """Answer a ping of TARGET (what the agent asks the executor to run)."""
    with command_span("example", "pong", {TARGET: target}, "example.ponged"):
        click.echo(f"ponged {target}")


@example.command("purge", epilog="Example: swarmsh example purge t1")
@click.argument("target", type=ENTITY_ID)
def purge(target: str) -> None:
    """Forget TARGET: for a person only; the executor is not allowed to run it."""
    with command_span("example", "purge", {TARGET: target}, "example.purged"):
        click.echo(f"purged {target}")


# Of this group, the executor (and so any agent's NextCommand) may run `pong` only.
allow_executor(example, "pong")
