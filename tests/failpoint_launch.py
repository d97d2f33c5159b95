"""Test-only launcher: run a swarmsh daemon with crash points armed.

    python tests/failpoint_launch.py swarmsh.executor [daemon options…]

with `SWARMSH_FAILPOINTS=name,…` in the environment makes the daemon SIGKILL itself when it
reaches one of those `failpoint(name)` calls. The package itself never reads that variable:
its hook is a no-op that only this launcher replaces, in its own process, before the
daemon's modules are imported, so nothing can arm a crash point in an installed swarm.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
from pathlib import Path

ENV_FAILPOINTS = "SWARMSH_FAILPOINTS"
LAUNCHER = Path(__file__).resolve()


def launch_argv(module: str, *args: str) -> list[str]:
    """The argv that runs `python -m module args…` under this launcher."""
    return [sys.executable, str(LAUNCHER), module, *args]


def arm(names: frozenset[str]) -> None:
    import swarmsh.failpoints

    def crash_at(name: str) -> None:
        if name in names:
            os.kill(os.getpid(), signal.SIGKILL)

    swarmsh.failpoints.failpoint = crash_at


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(f"usage: {ENV_FAILPOINTS}=name,… python {LAUNCHER.name} MODULE [ARGS…]")
    module = sys.argv[1]
    arm(frozenset(filter(None, os.environ.get(ENV_FAILPOINTS, "").split(","))))
    sys.argv = [module, *sys.argv[2:]]
    if str(LAUNCHER.parent) in sys.path:  # as `python -m module` would see it
        sys.path.remove(str(LAUNCHER.parent))
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
