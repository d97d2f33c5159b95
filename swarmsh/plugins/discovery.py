"""Finding and loading plug-ins from installed distributions' entry points.

Every problem with a plug-in (it fails to import, exports the wrong type, takes a name that
is a built-in's or another plug-in's) is a warning naming the distribution and the entry
point, and the plug-in is left out: a broken plug-in never breaks the built-in commands or
another daemon. Scanning happens once per process, and only when asked (a command name
that is not built in, a help listing, `swarmsh up`).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    import click

    from swarmsh.agents.base import Agent

_log = logging.getLogger("swarmsh.plugins")

AGENTS_GROUP = "swarmsh.agents"
COMMANDS_GROUP = "swarmsh.commands"
# A plug-in's name becomes a span-name segment (`swarmsh.<group>.<command>`), a supervisord
# program name and state file names (`<agent>.db`, `<agent>.lock`): a short safe alphabet.
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
# Names swarmsh keeps for itself beside its subcommands and daemons: `swarmsh.command.*` spans
# are the executor's, and `plugins` is the supervisord group of the plug-in agents.
RESERVED = frozenset({"command", "plugins", "swarm", "swarmsh"})
BUILTIN_AGENTS = ("roberts", "scrum", "lean", "rules")
BUILTIN_DAEMONS = frozenset({*BUILTIN_AGENTS, "executor", "receiver", "shipper"})


def describe(ep: EntryPoint) -> str:
    """`distribution 1.0, entry point swarmsh.commands: name = module:attr` for messages."""
    dist = getattr(ep, "dist", None)
    where = f"{dist.name} {dist.version}" if dist is not None else "an unknown distribution"
    return f"distribution {where}, entry point {ep.group}: {ep.name} = {ep.value}"


def warn(ep: EntryPoint, problem: str) -> None:
    _log.warning("swarmsh: plug-in %r ignored (%s): %s", ep.name, describe(ep), problem)


@functools.cache
def entry_points(group: str) -> dict[str, EntryPoint]:
    """The group's entry points by name; a name that two distributions claim is nobody's
    (which one would run is an accident of sys.path order), nor is a malformed name."""
    from importlib.metadata import entry_points as scan

    by_name: dict[str, list[EntryPoint]] = {}
    for ep in scan(group=group):
        by_name.setdefault(ep.name, []).append(ep)
    found: dict[str, EntryPoint] = {}
    for name, eps in sorted(by_name.items()):
        if len(eps) > 1:
            for ep in eps:
                warn(ep, f"{len(eps)} distributions declare the name {name!r}")
        elif not _NAME.fullmatch(name) or name in RESERVED:
            warn(
                eps[0],
                "the name must be 1-32 of a-z 0-9 _ -, start with a letter, and not "
                f"be one of {', '.join(sorted(RESERVED))}",
            )
        else:
            found[name] = eps[0]
    return found


def _load(ep: EntryPoint) -> Any:
    """The entry point's object, or None (with a warning) when importing it fails."""
    try:
        return ep.load()
    except (Exception, SystemExit) as exc:  # any failure of someone else's import
        warn(ep, f"loading it failed: {type(exc).__name__}: {str(exc)[:300]}")
        return None


def command_names(builtins: Collection[str]) -> list[str]:
    """The plug-in command names (for help listings); one that a built-in has is reported."""
    names = []
    for name, ep in entry_points(COMMANDS_GROUP).items():
        if name in builtins:
            _warn_once(ep, f"{name!r} is a built-in swarmsh command")
        else:
            names.append(name)
    return names


@functools.cache
def _warn_once(ep: EntryPoint, problem: str) -> None:
    warn(ep, problem)


def load_command(name: str) -> click.Group | None:
    """The plug-in command group `name` (the caller has checked it is not a built-in)."""
    ep = entry_points(COMMANDS_GROUP).get(name)
    # cached per entry point, not per name asked for: a queue's names are anyone's
    return None if ep is None else _command_group(ep)


@functools.cache
def _command_group(ep: EntryPoint) -> click.Group | None:
    import click

    group = _load(ep)
    if group is None:
        return None
    if not isinstance(group, click.Group):
        warn(ep, f"it is a {type(group).__name__}, not a click group")
        return None
    return group


def agent_names() -> list[str]:
    """The plug-in agent names (not loaded yet); one that a built-in daemon has is reported."""
    names = []
    for name, ep in entry_points(AGENTS_GROUP).items():
        if name in BUILTIN_DAEMONS:
            _warn_once(ep, f"{name!r} is a built-in swarmsh daemon")
        else:
            names.append(name)
    return names


def load_agent(name: str) -> Agent | None:
    """The plug-in `Agent` named `name`, checked, or None (with a warning)."""
    ep = entry_points(AGENTS_GROUP).get(name)
    return None if ep is None or name in BUILTIN_DAEMONS else _agent(ep)


@functools.cache
def _agent(ep: EntryPoint) -> Agent | None:
    from swarmsh.agents.base import Agent

    name = ep.name
    agent = _load(ep)
    if agent is None:
        return None
    if not isinstance(agent, Agent):
        warn(ep, f"it is a {type(agent).__name__}, not a swarmsh.agents.base.Agent")
        return None
    if agent.name != name:
        # the runner names its lock, state file and spans after agent.name
        warn(ep, f"the entry point is named {name!r} but its Agent is named {agent.name!r}")
        return None
    return agent


def loadable_agents() -> list[str]:
    """The plug-in agents that load and check out (what `swarmsh up` makes programs of)."""
    return [name for name in agent_names() if load_agent(name) is not None]
