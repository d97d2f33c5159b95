"""`python -m swarmsh.agents NAME [--from ...]`: run a built-in or plug-in agent by name.

The plug-in agents are the `swarmsh.agents` entry points of installed distributions; each
runs under the same runner (and `run_daemon` life cycle) as the built-in agents.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

# The built-in agents by name: the module whose `python -m` runs each.
BUILTIN = {
    "roberts": "swarmsh.agents.roberts",
    "scrum": "swarmsh.agents.scrum",
    "lean": "swarmsh.agents.lean",
    "rules": "swarmsh.agents.rules.agent",
}
USAGE = "usage: python -m swarmsh.agents NAME [--from checkpoint|beginning|end] [--home DIR]"


def _fail(message: str) -> NoReturn:
    click.echo(f"swarmsh-agents: {message}", err=True)
    raise SystemExit(2)


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1].startswith("-"):
        _fail(f"name the agent to run\n{USAGE}")
    name = argv[1]
    # The agent's own options follow its name; run_daemon's command reads them from argv.
    sys.argv = [f"{argv[0]} {name}", *argv[2:]]
    if name in BUILTIN:
        import importlib

        module = importlib.import_module(BUILTIN[name])
        if name == "rules":
            module.main()
        else:
            from swarmsh.agents.runner import main as run

            run(module.AGENT)
        return
    from swarmsh.plugins.discovery import agent_names, load_agent

    agent = load_agent(name)
    if agent is None:
        installed = ", ".join(agent_names()) or "none"
        _fail(f"no agent {name[:64]!r} (built-in: {', '.join(BUILTIN)}; plug-ins: {installed})")
    from swarmsh.agents.runner import main as run

    run(agent)


if __name__ == "__main__":
    main(sys.argv)
