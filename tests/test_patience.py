"""`until_done`: infrastructure failures are retried until the step is done or we stop."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from swarmsh.errors import BusWriteError, CommandRejected
from swarmsh.patience import until_done


class Step:
    """Fails with each of `failures` in turn, then returns `result`."""

    def __init__(self, failures: list[BaseException], result: bool = True) -> None:
        self.failures = list(failures)
        self.result = result
        self.tries = 0

    def __call__(self) -> bool:
        self.tries += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.result


@pytest.mark.parametrize(
    "failures",
    [
        [],
        [BusWriteError("cannot write spans.jsonl: no space left on the device")],
        [OSError(28, "No space left on device"), sqlite3.OperationalError("disk I/O error")],
        [sqlite3.OperationalError("database or disk is full")] * 5,
    ],
)
def test_infrastructure_failures_are_retried_until_done(failures: list[BaseException]) -> None:
    seen: list[BaseException] = []
    step = Step(failures)
    assert until_done(step, threading.Event(), base=0.001, on_failure=seen.append)
    assert step.tries == len(failures) + 1
    assert seen == failures


def test_the_steps_own_result_is_returned() -> None:
    assert until_done(Step([OSError(5, "EIO")], result=False), threading.Event(), base=0) is False


def test_a_stop_ends_the_wait_for_the_next_try() -> None:
    stop = threading.Event()
    step = Step([OSError(28, "ENOSPC")] * 100)
    threading.Timer(0.05, stop.set).start()
    assert until_done(step, stop, base=0.01) is False
    assert 1 < step.tries < 100


@pytest.mark.parametrize(
    "error",
    [CommandRejected("unknown command"), ValueError("a bug"), sqlite3.IntegrityError("bug")],
)
def test_other_errors_are_not_retried(error: Exception) -> None:
    step = Step([error])
    with pytest.raises(type(error)):
        until_done(step, threading.Event(), base=0)
    assert step.tries == 1
