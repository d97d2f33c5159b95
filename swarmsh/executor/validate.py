"""Turns a NextCommand into an argv through the CLI's own click parameters, or refuses it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from swarmsh.errors import CommandRejected

# Only the groups that record domain actions may be run by agents; operator tools
# (up, down, demo, status, semconv, ...) are never reachable from the queue.
EXECUTABLE_GROUPS = ("roberts", "scrum", "lean")
MAX_ARG_CHARS = 4096
_SCALARS = (str, int, float)


def resolve(root: click.Group, dotted: str) -> tuple[list[str], click.Command]:
    """`swarmsh.scrum.plan` -> (["scrum", "plan"], the click command), or CommandRejected."""
    parts = dotted.split(".")
    if len(parts) != 3 or parts[0] != "swarmsh" or parts[1] not in EXECUTABLE_GROUPS:
        raise CommandRejected(f"unknown command {dotted!r}")
    ctx = click.Context(root, info_name="swarmsh")
    group = root.get_command(ctx, parts[1])
    if not isinstance(group, click.Group):
        raise CommandRejected(f"unknown command {dotted!r}")
    command = group.get_command(ctx, parts[2])
    if command is None or isinstance(command, click.Group):
        raise CommandRejected(f"unknown command {dotted!r}")
    return parts[1:], command


def _scalar(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, _SCALARS):
        raise CommandRejected(f"argument {name!r} must be a string or a number")
    text = str(value)
    if text.startswith("-"):
        raise CommandRejected(f"argument {name!r} would be read as an option: {text[:40]!r}")
    if len(text) > MAX_ARG_CHARS:
        raise CommandRejected(f"argument {name!r} is too long ({len(text)} characters)")
    return text


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
