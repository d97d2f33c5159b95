"""Riding out infrastructure failures: a daemon's step is retried, with capped backoff, until
it is done or the daemon is asked to stop. Shared by the agents and the executor."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

from swarmsh.errors import BusWriteError

_log = logging.getLogger(__name__)

# Failures of the machine, not of the input or the command (a full disk, an I/O error, a
# locked database): the step is retried and never counts against what it was working on.
INFRASTRUCTURE_ERRORS = (BusWriteError, OSError, sqlite3.OperationalError)
RETRY_BASE_S = 0.1  # first delay; it doubles per failure
RETRY_MAX_S = 5.0  # cap of the delay between two tries
RETRY_MIN_BASE_S = 0.01  # even with a base of 0, never a busy loop
NEVER = threading.Event()  # for steps before a daemon can be asked to stop (SIGTERM ends it)


def compute_backoff(
    attempt: int, *, base: float = 0.2, factor: float = 2.0, cap: float = 5.0
) -> float:
    """Seconds to wait after failed attempt `attempt` (from 1): base·factor^(n-1), capped.
    Pure, so it is tested as a table."""
    if attempt < 1:
        raise ValueError("attempts count from 1")
    return min(cap, base * factor ** (attempt - 1))


def until_done(
    step: Callable[[], bool],
    stop: threading.Event,
    *,
    what: str = "go on",
    base: float = RETRY_BASE_S,
    on_failure: Callable[[BaseException], None] = lambda exc: None,
) -> bool:
    """`step()`'s result once it ran without an infrastructure failure; False if `stop` was
    set while waiting to try again. Any other error propagates.

    Each try starts the step over, so a step must be safe to repeat after a failure at any
    point of it (the agents' atomic commit and the executor's ledger make theirs so).
    """
    failures = 0
    while True:
        try:
            done = step()
        except INFRASTRUCTURE_ERRORS as exc:
            failures += 1
            delay = compute_backoff(failures, base=max(base, RETRY_MIN_BASE_S), cap=RETRY_MAX_S)
            _log.error(
                "cannot %s (%s: %s; infrastructure failure %d); retrying in %.2fs",
                what,
                type(exc).__name__,
                exc,
                failures,
                delay,
            )
            on_failure(exc)
            if stop.wait(delay):
                return False
            continue
        if failures:
            _log.info("recovered after %d infrastructure failures", failures)
        return done
