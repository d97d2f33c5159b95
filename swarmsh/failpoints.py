"""Named crash points for the fault tests: `SWARMSH_FAILPOINTS=name,…` makes the process
SIGKILL itself when it reaches one, so a test can crash it at an exact instant."""

from __future__ import annotations

import os
import signal

ENV_FAILPOINTS = "SWARMSH_FAILPOINTS"
_ARMED = frozenset(filter(None, os.environ.get(ENV_FAILPOINTS, "").split(",")))


def failpoint(name: str) -> None:
    if name in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
