"""`swarmsh up`, `swarmsh down`: start and stop the supervised swarm."""

from __future__ import annotations

import os

import click

from swarmsh.cli.context import CliState

CONFIG_OPTION = click.option(
    "--config",
    type=click.Path(dir_okay=False, exists=True),
    help="supervisord.conf [env SWARMSH_SUPERVISOR_CONF; default: the checkout's].",
)


def ensure_up(state: CliState, config: str | None, *, quiet: bool = False) -> object:
    """Start supervisord with this home unless it already runs; return its client."""
    from swarmsh.supervisor import SupervisorClient, find_config

    client = SupervisorClient(find_config(config))
    if client.reachable():
        if not quiet:
            click.echo(f"the swarm is already running ({client.config})")
    else:
        env = dict(os.environ, SWARMSH_HOME=str(state.paths.home))
        click.echo(f"starting the swarm: supervisord -c {client.config}")
        client.start(env)
    client.wait_running()
    return client


@click.command("up")
@CONFIG_OPTION
@click.pass_obj
def up(state: CliState, config: str | None) -> None:
    """Start the swarm (roberts, scrum, lean, executor) under supervisord."""
    from swarmsh.supervisor import SupervisorError

    try:
        client = ensure_up(state, config)
    except SupervisorError as exc:
        raise click.ClickException(str(exc)) from None
    var = client.config.parent / "var"  # type: ignore[attr-defined]
    paths = state.paths
    click.echo(f"all four daemons RUNNING\n  bus:    {paths.bus}\n  queue:  {paths.queue}")
    click.echo(
        f"  logs:   {var}/<program>.log  (supervisorctl -c {client.config} tail -f swarm:roberts)"
    )  # type: ignore[attr-defined]
    click.echo("  watch:  swarmsh tail -f      health: swarmsh status      stop: swarmsh down")


@click.command("down")
@CONFIG_OPTION
def down(config: str | None) -> None:
    """Stop the swarm and its supervisord (each daemon gets SIGTERM and stops cleanly)."""
    from swarmsh.supervisor import SupervisorClient, SupervisorError, find_config

    try:
        client = SupervisorClient(find_config(config))
        if not client.reachable():
            click.echo("the swarm is not running")
            return
        client.shutdown()
    except SupervisorError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("the swarm is stopped")
