"""Named instants where the fault tests crash a process: `failpoint(name)` does nothing here.

Nothing in an installed swarm can arm one (no environment variable, no file): only the test
suite's launcher, `tests/failpoint_launch.py`, replaces this hook in its own process before
it runs a daemon's main.
"""

from __future__ import annotations


def failpoint(name: str) -> None:
    """The fault tests may crash the process here; in production, a no-op."""
