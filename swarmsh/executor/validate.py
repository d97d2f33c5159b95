"""Turns a NextCommand into an argv through the CLI's own click parameters, or refuses it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from swarmsh.errors import CommandRejected

if TYPE_CHECKING:
    from swarmsh.bus.records import NextCommand

# Only the groups that record domain actions may be run by agents; operator tools
# (up, down, demo, status, semconv, ...) are never reachable from the queue. Plug-in groups
# add the commands they declare with `swarmsh.plugins.allow_executor`, and only those.
EXECUTABLE_GROUPS = ("roberts", "scrum", "lean")
MAX_ARG_CHARS = 4096
_SCALARS = (str, int, float)


def resolve(root: click.Group, dotted: str) -> tuple[list[str], click.Command]:
    """`swarmsh.scrum.plan` -> (["scrum", "plan"], the click command), or CommandRejected.

    Beside the built-in domain groups, a plug-in group's command (`swarmsh.<plug-in>.<name>`)
    when the plug-in declared it with `swarmsh.plugins.allow_executor`.
    """
    parts = dotted.split(".")
    if len(parts) != 3 or parts[0] != "swarmsh":
        raise CommandRejected(f"unknown command {dotted!r}")
    ctx = click.Context(root, info_name="swarmsh")
    if parts[1] not in EXECUTABLE_GROUPS:
        return parts[1:], _plugin_command(root, ctx, dotted, parts[1], parts[2])
    group = root.get_command(ctx, parts[1])
    if not isinstance(group, click.Group):
        raise CommandRejected(f"unknown command {dotted!r}")
    command = group.get_command(ctx, parts[2])
    if command is None or isinstance(command, click.Group):
        raise CommandRejected(f"unknown command {dotted!r}")
    return parts[1:], command


def _plugin_command(
    root: click.Group, ctx: click.Context, dotted: str, name: str, command: str
) -> click.Command:
    """A plug-in group's command the plug-in lets the executor run; anything else (a built-in
    operator tool, a plug-in command not declared, no such plug-in) is an unknown command."""
    from swarmsh.plugins.permissions import executor_commands

    plugins: set[str] = getattr(root, "plugins", set())  # what LazyGroup loaded (entry points)
    builtin = name in getattr(root, "lazy", {}) or (name in root.commands and name not in plugins)
    group = None if builtin else root.get_command(ctx, name)
    if name not in plugins or not isinstance(group, click.Group):
        raise CommandRejected(f"unknown command {dotted!r}")
    if command not in executor_commands(group):
        raise CommandRejected(
            f"unknown command {dotted!r}: the plug-in {name!r} does not allow the executor "
            f"to run {command!r} (swarmsh.plugins.allow_executor)"
        )
    return group.commands[command]


def _scalar(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, _SCALARS):
        raise CommandRejected(f"argument {name!r} must be a string or a number")
    text = str(value)
    if text.startswith("-"):
        raise CommandRejected(f"argument {name!r} would be read as an option: {text[:40]!r}")
    if len(text) > MAX_ARG_CHARS:
        raise CommandRejected(f"argument {name!r} is too long ({len(text)} characters)")
    return text


def checked_argv(root: click.Group, command: NextCommand, max_depth: int) -> list[str]:
    """The argv that runs `command`, refused (`CommandRejected`) past the loop guard's depth
    or when `build_argv` refuses it: what every executor checks before it runs anything."""
    if command.depth > max_depth:
        raise CommandRejected(
            f"depth {command.depth} exceeds SWARMSH_MAX_DEPTH={max_depth} (a loop?)"
        )
    return build_argv(root, command.command, command.args)


def build_argv(root: click.Group, dotted: str, args: Mapping[str, Any]) -> list[str]:
    """The argv that runs `dotted` with `args`; every name and value checked by click itself.

    Args are keyed by the click parameter's name (`defect_rate`) or its long
    option without dashes (`defect-rate`). Values are scalars (lists for
    repeatable options, booleans for flags); none may start with `-`.
    """
    path, command = resolve(root, dotted)
    by_name: dict[str, click.Parameter] = {}
    for param in command.params:
        if param.name is None or param.name == "help":
            continue
        by_name[param.name] = param
        for opt in param.opts:
            if opt.startswith("--"):
                by_name.setdefault(opt[2:], param)
    positional: list[str] = []
    options: list[str] = []
    seen: set[str] = set()
    for key, value in args.items():
        found = by_name.get(key)
        if found is None:
            raise CommandRejected(f"{dotted} has no argument {key!r}")
        param = found
        if param.name in seen:
            raise CommandRejected(f"argument {key!r} given twice")
        seen.add(param.name)  # type: ignore[arg-type]
        if isinstance(param, click.Argument):
            positional.append(_scalar(key, value))
            continue
        assert isinstance(param, click.Option)
        if param.is_flag:
            if not isinstance(value, bool):
                raise CommandRejected(f"flag {key!r} takes true or false")
            if value:
                options.append(param.opts[0])
            elif param.secondary_opts:
                options.append(param.secondary_opts[0])
        elif param.multiple:
            values = value if isinstance(value, list) else [value]
            for item in values:
                options += [param.opts[0], _scalar(key, item)]
        else:
            options += [param.opts[0], _scalar(key, value)]
    argv = [*path, *positional, *options]
    # Let click check what is missing or ill-typed, exactly as it would for a person.
    try:
        with command.make_context(path[-1], [*positional, *options], resilient_parsing=False):
            pass
    except click.ClickException as exc:
        raise CommandRejected(f"{dotted}: {exc.format_message()}") from None
    return argv
