"""Retry arithmetic for failed commands, kept pure so it is tested as a table."""

from __future__ import annotations


def compute_backoff(
    attempt: int, *, base: float = 0.2, factor: float = 2.0, cap: float = 5.0
) -> float:
    """Seconds to wait after failed attempt `attempt` (from 1): base·factor^(n-1), capped."""
    if attempt < 1:
        raise ValueError("attempts count from 1")
    return min(cap, base * factor ** (attempt - 1))
