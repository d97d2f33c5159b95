"""Plug-ins by Python packaging: agents and command groups other distributions install.

A distribution declares entry points in two groups: `swarmsh.agents` (an `Agent` declaration,
run by `python -m swarmsh.agents NAME` and by a program `swarmsh up` generates) and
`swarmsh.commands` (a click group added under `swarmsh`). `allow_executor` is how a command
group lets the executor run some of its commands; without it, none.
"""

from swarmsh.plugins.permissions import allow_executor, executor_commands

__all__ = ["allow_executor", "executor_commands"]
