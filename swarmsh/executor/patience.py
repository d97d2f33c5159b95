"""Riding out infrastructure failures: a step is retried, with capped backoff, until done."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

from swarmsh.errors import BusWriteError
from swarmsh.executor.backoff import compute_backoff

_log = logging.getLogger(__name__)

# Failures of the disk or the files around a command, not of the command: the step is
# retried (with backoff, until stopped) and never counts as one of the command's attempts.
INFRASTRUCTURE_ERRORS = (BusWriteError, OSError, sqlite3.OperationalError)
RETRY_MAX_S = 5.0  # cap of the delay between two tries
RETRY_MIN_BASE_S = 0.01  # even with a base of 0, never a busy loop


def until_done(
    step: Callable[[], bool],
    stop: threading.Event,
    *,
    base: float,
    on_failure: Callable[[BaseException], None] = lambda exc: None,
) -> bool:
    """`step()`'s result once it ran without an infrastructure failure; False if `stop` was
    set while waiting to try again. Any other error propagates.

    Each try starts the step over, so a step must be safe to repeat after a failure at any
    point of it (the executor's ledger makes handling a command so, as after a crash).
    """
    failures = 0
    while True:
        try:
            done = step()
        except INFRASTRUCTURE_ERRORS as exc:
            failures += 1
            delay = compute_backoff(failures, base=max(base, RETRY_MIN_BASE_S), cap=RETRY_MAX_S)
            _log.error(
                "infrastructure failure %d (%s: %s); retrying in %.2fs",
                failures,
                type(exc).__name__,
                exc,
                delay,
            )
            on_failure(exc)
            if stop.wait(delay):
                return False
            continue
        if failures:
            _log.info("recovered after %d infrastructure failures", failures)
        return done
