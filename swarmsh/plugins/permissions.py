"""Which commands of a plug-in group the executor may run: only those the group declares."""

from __future__ import annotations

import logging
import re
from typing import TypeVar

import click

_log = logging.getLogger("swarmsh.plugins")

# The attribute `allow_executor` sets on a group: a frozenset of its subcommands' names.
EXECUTOR_ATTRIBUTE = "swarmsh_executor_commands"
_COMMAND_NAME = re.compile(r"[a-z][a-z0-9-]{0,63}")
G = TypeVar("G", bound=click.Group)


def allow_executor(group: G, *names: str) -> G:
    """Let the executor (and so the agents' NextCommands) run these subcommands of `group`.

    Called by the plug-in after its commands are defined; each name must be a plain command
    of `group` (not a subgroup) when the executor resolves it, and is checked again then.
    """
    for name in names:
        if not isinstance(name, str) or not _COMMAND_NAME.fullmatch(name):
            raise ValueError(f"allow_executor: {name!r} is not a command name")
    setattr(group, EXECUTOR_ATTRIBUTE, frozenset(names))
    return group


def executor_commands(group: click.Group) -> frozenset[str]:
    """The subcommands of `group` the executor may run: those declared, that exist and are
    plain commands; a declaration of the wrong shape counts as none (with a warning)."""
    declared = getattr(group, EXECUTOR_ATTRIBUTE, None)
    if declared is None:
        return frozenset()
    if not isinstance(declared, frozenset | set | tuple | list) or not all(
        isinstance(n, str) for n in declared
    ):
        _log.warning(
            "swarmsh: plug-in group %r: %s must be a set of command names, not %s; "
            "the executor runs none of its commands",
            group.name,
            EXECUTOR_ATTRIBUTE,
            type(declared).__name__,
        )
        return frozenset()
    return frozenset(
        name
        for name in declared
        if _COMMAND_NAME.fullmatch(name)
        and isinstance(group.commands.get(name), click.Command)
        and not isinstance(group.commands[name], click.Group)
    )
