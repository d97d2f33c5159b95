"""Robert's Rules vote arithmetic: a pure function of the tally and the threshold."""

from __future__ import annotations

MAJORITY = "majority"
TWO_THIRDS = "two-thirds"
THRESHOLDS = (MAJORITY, TWO_THIRDS)
PASSED = "passed"
FAILED = "failed"


def vote_result(yes: int, no: int, threshold: str = MAJORITY) -> str:
    """`passed` or `failed`. Abstentions do not count: the base is the votes cast.

    Majority: more than half of the votes cast. Two-thirds: at least two thirds
    of the votes cast. No votes cast fails the motion.
    """
    if yes < 0 or no < 0:
        raise ValueError("vote counts cannot be negative")
    cast = yes + no
    if cast == 0:
        return FAILED
    if threshold == MAJORITY:
        return PASSED if 2 * yes > cast else FAILED
    if threshold == TWO_THIRDS:
        return PASSED if 3 * yes >= 2 * cast else FAILED
    raise ValueError(f"unknown threshold {threshold!r}")
