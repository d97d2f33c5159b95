"""`python -m swarmsh.plugins [--write-programs CONFIG]`: the installed plug-ins, each problem
reported as a warning; with --write-programs, the file of their supervisord programs (what
`swarmsh up` writes) for a supervisord started without `up`, e.g. by systemd's ExecStartPre."""

from __future__ import annotations

import click


@click.command(name="python -m swarmsh.plugins")
@click.option(
    "--write-programs",
    "config",
    type=click.Path(dir_okay=False, exists=True),
    help="Write var/plugins.conf beside this supervisord.conf.",
)
def main(config: str | None) -> None:
    """List the plug-in command groups and agents this Python environment would use."""
    from swarmsh.plugins.discovery import (
        COMMANDS_GROUP,
        command_names,
        load_command,
        loadable_agents,
    )

    agents = loadable_agents()
    from swarmsh.cli import SUBCOMMANDS

    commands = [n for n in command_names(builtins=SUBCOMMANDS) if load_command(n) is not None]
    click.echo(f"{COMMANDS_GROUP}: {', '.join(commands) or 'none'}")
    click.echo(f"swarmsh.agents: {', '.join(agents) or 'none'}")
    if config is not None:
        from pathlib import Path

        from swarmsh.plugins.programs import write_programs
        from swarmsh.supervisor import make_private_dir, var_dir

        path = write_programs(make_private_dir(var_dir(Path(config).absolute())), agents)
        click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
