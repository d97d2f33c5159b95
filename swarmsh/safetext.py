"""Safe text: the one definition of the characters that may not enter the swarm, and how
values read from the bus are shown to an operator (escaped, bounded, never raising)."""

from __future__ import annotations

import math
import re
import time

# Unsafe: the Unicode categories Cc (C0 and C1 controls, DEL), Cf (invisible format
# characters: bidirectional marks, embeddings, overrides and isolates, zero-width spaces,
# the BOM, tags), Zl and Zp (line and paragraph separators) and Cs (lone surrogates), except
# ZWNJ and ZWJ (U+200C, U+200D), which Persian, Indic scripts and emoji sequences need.
# Spelled out as ranges so a check is one C-level regex search and needs no unicodedata at
# start-up; tests/cli/test_safe_text.py pins it to the running Unicode database (U+13439 to
# U+1343F are format characters from Unicode 15 on).
UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b"
    "\u200e-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)
SHOWN_CHARS = 1000  # a shown value is cut here (`--json` gives the raw records)


def refusal(text: str) -> str | None:
    """Why `text` may not enter the swarm, or None when it may."""
    found = UNSAFE.search(text)
    if found is None:
        return None
    return (
        f"contains {_codepoint(found.group())} at position {found.start()}: text must be "
        "free of control characters, bidirectional overrides and other invisible format "
        "characters"
    )


def escape(text: str) -> str:
    """`text` with every unsafe character written as `\\xNN`, `\\uNNNN` or `\\UNNNNNNNN`:
    escaped rather than dropped, so an operator sees that something is there."""
    return UNSAFE.sub(_escaped, text)


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """Any value a record may hold (or a caller may pass), as one safe line of at most
    `limit` characters before escaping. Never raises."""
    try:
        if isinstance(value, str):
            text = value
        elif value is None or isinstance(value, bool | int | float):
            text = str(value)  # an int of over 4300 digits raises: see below
        else:
            import orjson

            text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except Exception:
        if isinstance(value, int):
            text = f"<int of {value.bit_length()} bits>"
        else:
            text = f"<{type(value).__name__}>"
    if len(text) > limit:
        text = f"{text[:limit]}…({len(text) - limit} more)"
    return escape(text)


def clock(timestamp: float) -> str:
    """`HH:MM:SS.mmm` in local time; a number that is no time of this era, as it is."""
    try:
        whole = math.floor(timestamp)
        millis = int((timestamp - whole) * 1000)
        return time.strftime("%H:%M:%S", time.localtime(whole)) + f".{millis:03d}"
    except (OverflowError, OSError, ValueError, TypeError):
        return shown(timestamp)


def duration(ms: float) -> str:
    """`1.7 ms`; a huge or non-finite value in short scientific form rather than 300 digits."""
    try:
        return f"{ms:.1f} ms" if abs(ms) < 1e9 else f"{ms:.3g} ms"
    except (TypeError, ValueError):
        return f"{shown(ms)} ms"


def _codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


def _escaped(found: re.Match[str]) -> str:
    code = ord(found.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
