"""The `swarmsh` command line: a thin, lazily loaded layer over the library."""

from __future__ import annotations

import importlib
import signal
import sys
from typing import Any

import click

from swarmsh import __version__
from swarmsh.config import ENV_HOME

# name -> "module:attribute"; a subcommand's module is imported only when it runs
# (or when help lists it), which keeps `swarmsh roberts open` from paying for `status`.
SUBCOMMANDS: dict[str, str] = {
    "roberts": "swarmsh.cli.roberts:roberts",
    "scrum": "swarmsh.cli.scrum:scrum",
    "lean": "swarmsh.cli.lean:lean",
    "semconv": "swarmsh.cli.semconv:semconv",
    "up": "swarmsh.cli.swarm:up",
    "down": "swarmsh.cli.swarm:down",
    "demo": "swarmsh.cli.demo:demo",
    "tail": "swarmsh.cli.tail:tail",
    "trace": "swarmsh.cli.trace:trace",
    "status": "swarmsh.cli.status:status",
    "rules": "swarmsh.cli.rules:rules",
    "run": "swarmsh.cli.run:run",
    "top": "swarmsh.cli.top:top",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(
        self, *args: Any, lazy: dict[str, str] | None = None, plugins: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})
        # Plug-in command groups (entry points `swarmsh.commands`) are looked for only for a
        # name that is not built in, and in help listings: start-up never scans for them.
        self.find_plugins = plugins
        self.plugins: set[str] = set()  # the plug-in groups added so far
        self.example_path = ""  # this group's path under `swarmsh`, for examples.EXAMPLES

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if not self.epilog:
            from swarmsh.cli import examples

            self.epilog = examples.epilog(self.example_path)
        super().format_epilog(ctx, formatter)

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = {*super().list_commands(ctx), *self.lazy}
        if self.find_plugins:
            from swarmsh.plugins.discovery import command_names

            names.update(command_names(builtins={*self.lazy, *self.commands} - self.plugins))
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module_name, attr = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            self.add_command(command, cmd_name)
        elif self.find_plugins and cmd_name not in self.commands:
            from swarmsh.plugins.discovery import load_command

            plugin = load_command(cmd_name)
            if plugin is not None:
                self.add_command(plugin, cmd_name)
                self.plugins.add(cmd_name)
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            from swarmsh.cli import examples  # every command's --help ends with an example

            path = f"{self.example_path} {cmd_name}".strip()
            if isinstance(command, LazyGroup):
                command.example_path = path
            examples.apply(command, path)  # idempotent: a command's own epilog is kept
        return command


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """Looked up only when asked, so start-up never reads package metadata."""
    if not value or ctx.resilient_parsing:
        return
    from importlib import metadata

    def installed(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    click.echo(f"swarmsh, version {__version__}")
    click.echo(f"opentelemetry-sdk {installed('opentelemetry-sdk')}")
    click.echo(f"supervisor {installed('supervisor')}")
    click.echo(f"python {sys.version.split()[0]}")
    ctx.exit()


@click.group(
    cls=LazyGroup,
    lazy=SUBCOMMANDS,
    plugins=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--home",
    envvar=ENV_HOME,
    type=click.Path(file_okay=False),
    help=f"Where the bus, queue and state live [env {ENV_HOME}; default ~/.swarmsh].",
)
@click.option(
    "--console",
    is_flag=True,
    default=None,
    help="Also print spans to stdout [env SWARMSH_CONSOLE].",
)
@click.option(
    "--otlp/--no-otlp",
    default=None,
    help="Accepted and ignored: the CLI writes the bus only; the shipper exports to OTLP.",
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the versions of swarmsh, the OpenTelemetry SDK and supervisor, and exit.",
)
@click.pass_context
def cli(ctx: click.Context, home: str | None, console: bool | None, otlp: bool | None) -> None:
    """swarmsh: a telemetry-driven agent swarm. Every command is an OpenTelemetry span."""
    from swarmsh.cli.context import CliState

    # The executor runs commands in-process and hands in its own state.
    if not isinstance(ctx.obj, CliState):
        ctx.obj = CliState(home=home, console=console, otlp=otlp)
        ctx.call_on_close(ctx.obj.shutdown)


def main() -> None:
    # A file-size limit must surface as EFBIG (a clear error), not kill us with SIGXFSZ.
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    cli(prog_name="swarmsh")
    sys.exit(0)
