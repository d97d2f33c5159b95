"""`swarmsh up`, `swarmsh down`: start and stop the supervised swarm."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from swarmsh.cli.context import CliState

if TYPE_CHECKING:
    from swarmsh.config import Paths
    from swarmsh.supervisor import ProcessInfo, SupervisorClient

CONFIG_OPTION = click.option(
    "--config",
    type=click.Path(dir_okay=False, exists=True),
    help="supervisord.conf [env SWARMSH_SUPERVISOR_CONF; default: the checkout's].",
)
START_TIMEOUT_S = 60.0


def bind_home(state: CliState, config: str | None) -> SupervisorClient:
    """The supervisord client, with `state`'s home set to the running swarm's when none was
    given; a different home given explicitly is an error (HomeMismatch) naming both."""
    from swarmsh.supervisor import HOME_RECORD, SupervisorClient, find_config
    from swarmsh.swarmops import choose_home

    client = SupervisorClient(find_config(config))
    running = client.swarm_home() if client.reachable() else None
    chosen = state.paths.home if state.home else None
    home = choose_home(chosen, running, client.var / HOME_RECORD)
    if home is not None:
        state.home = str(home)
    return client


def write_plugin_programs(client: SupervisorClient) -> list[str]:
    """A supervisord program for each installed plug-in agent that loads (the others are
    reported as warnings): the file supervisord.conf includes. Its names."""
    from swarmsh.plugins.discovery import loadable_agents
    from swarmsh.plugins.programs import write_programs
    from swarmsh.supervisor import make_private_dir

    names = loadable_agents()
    write_programs(make_private_dir(client.var), names)
    return names


def wait_plugins_started(paths: Paths, infos: list[ProcessInfo]) -> None:
    """Until each supervised plug-in agent has committed where it starts (as wait_started does
    for the built-in readers), so that a first start begins at the mark `up` made."""
    import time

    from swarmsh import startmark
    from swarmsh.bus.backend import is_nats
    from swarmsh.plugins.programs import GROUP
    from swarmsh.supervisor import SupervisorError

    if is_nats():  # no start file on JetStream: nats_up.wait_started waits for consumers
        return
    names = [p.name for p in infos if p.group == GROUP]
    deadline = time.monotonic() + START_TIMEOUT_S
    while waiting := [n for n in names if not startmark.committed(paths.state, n)]:
        if time.monotonic() > deadline:
            raise SupervisorError(
                f"no start position committed by the plug-in agent(s) {', '.join(waiting)} "
                f"within {START_TIMEOUT_S:.0f}s; see their logs in var/"
            )
        time.sleep(0.05)  # a daemon's commit offers no event to wait on


def ensure_up(state: CliState, config: str | None, *, quiet: bool = False) -> SupervisorClient:
    """Start supervisord with this home unless it already runs; return once every daemon runs
    and has committed where it starts reading (never after this was called)."""
    from swarmsh.bus.backend import is_nats
    from swarmsh.cli import nats_up
    from swarmsh.supervisor import LOCAL_NATS, SupervisorError
    from swarmsh.swarmops import lock_problems, mark_start, unmark_start, wait_started

    # on JetStream a reader has started once its durable consumer exists (cli.nats_up)
    started = nats_up.wait_started if is_nats() else wait_started
    client = bind_home(state, config)
    paths = state.paths.secure()  # a home others could tamper with: say so before starting
    local = nats_up.local_server()  # checked even on a file bus: a mistake
    if client.reachable():
        if not quiet:
            click.echo(f"the swarm is already running ({client.config})")
        if local is not None:
            client.start_program(LOCAL_NATS)
        wait_plugins_started(paths, started(paths, client, START_TIMEOUT_S))
        return client
    stopping = client.pid()
    if stopping is not None:  # a `down` in progress: let it finish first
        client.wait_exited(stopping)
    if strays := lock_problems(paths, None):
        raise SupervisorError("; ".join(strays))
    mark_start(paths)
    write_plugin_programs(client)
    click.echo(f"starting the swarm: supervisord -c {client.config}")
    client.start(dict(os.environ, SWARMSH_HOME=str(paths.home)), paths.home)
    if local is not None:  # the daemons retry their connection until it listens
        client.start_program(LOCAL_NATS)
    wait_plugins_started(paths, started(paths, client, START_TIMEOUT_S))
    # Only now: should a daemon still be on its way, it must begin at the mark, not later.
    unmark_start(paths)
    return client


def plugin_programs(client: SupervisorClient) -> list[str]:
    from swarmsh.plugins.programs import GROUP
    from swarmsh.supervisor import SupervisorError

    try:
        return [p.name for p in client.processes() if p.group == GROUP]
    except SupervisorError:
        return []


@click.command("up")
@CONFIG_OPTION
@click.pass_obj
def up(state: CliState, config: str | None) -> None:
    """Start the swarm (agents, executor, receiver, shipper, and the installed plug-in
    agents) under supervisord; return once each daemon runs and reads the bus from where it
    stood when `up` was asked (or from its checkpoint)."""
    from swarmsh.bus.backend import is_nats
    from swarmsh.errors import SwarmshError
    from swarmsh.safetext import shown
    from swarmsh.supervisor import PROGRAMS

    try:
        client = ensure_up(state, config)
    except SwarmshError as exc:
        raise click.ClickException(str(exc)) from None
    paths = state.paths
    click.echo(f"all {len(PROGRAMS)} daemons RUNNING ({', '.join(PROGRAMS)})")
    plugins = plugin_programs(client)
    if plugins:
        click.echo(f"plug-in agents RUNNING: {', '.join(plugins)}")
    click.echo(f"  home:   {paths.home}")
    if is_nats():
        from swarmsh.cli.nats_up import local_server

        local = local_server()
        where = f"local nats-server {local.url}, store {local.store}" if local else "JetStream"
        click.echo(f"  bus:    {shown(os.environ['SWARMSH_BUS'])} ({where})")
    else:
        click.echo(f"  bus:    {paths.bus}\n  queue:  {paths.queue}")
    tail = f"supervisorctl -c {client.config} tail -f swarm:roberts"
    click.echo(f"  logs:   {client.var}/<program>.log  ({tail})")
    click.echo("  watch:  swarmsh tail -f      health: swarmsh status      stop: swarmsh down")


@click.command("down")
@CONFIG_OPTION
@click.pass_obj
def down(state: CliState, config: str | None) -> None:
    """Stop the swarm and its supervisord; return once supervisord has exited (each daemon
    gets SIGTERM and stops cleanly)."""
    from swarmsh.errors import SwarmshError

    try:
        client = bind_home(state, config)
        if not client.reachable():
            stopping = client.pid()
            if stopping is None:
                click.echo("the swarm is not running")
                return
            client.wait_exited(stopping)  # already stopping
        else:
            client.shutdown()
    except SwarmshError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("the swarm is stopped")
