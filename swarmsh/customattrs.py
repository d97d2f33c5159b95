"""Custom span attributes (`--attr KEY=VALUE`): which keys a person may set, how a value is
typed, and how they are shown beside a span. Pure: no click, no I/O."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

MAX_ATTRS = 32  # per command
MAX_KEY_CHARS = 128
MAX_VALUE_CHARS = 1000
# Namespaces a person may not write into: the registry's own (semconv_registry/), the one
# OpenTelemetry reserves for itself (otel.*), the resource's (service.*, telemetry.*, which
# rulebooks fall back to for group_by), and process.*, which `swarmsh run` sets.
RESERVED_NAMESPACES = (
    "swarm",
    "swarmsh",
    "roberts",
    "scrum",
    "lean",
    "otel",
    "service",
    "telemetry",
    "process",
)
_RESERVED_PREFIXES = tuple(f"{ns}." for ns in RESERVED_NAMESPACES)
_KEY, _INT, _FLOAT = (
    r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+",
    r"[+-]?(?:0|[1-9][0-9]*)",  # a leading zero (an id such as 007) stays text
    r"[+-]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][+-]?[0-9]+)?",
)  # compiled by `re` on first use: a command without --attr never needs them
_TRUE, _FALSE = ("true", "True", "TRUE"), ("false", "False", "FALSE")
_QUOTES = ('"', "'")
INT64 = range(-(2**63), 2**63)
SHOWN = 8  # custom attributes shown beside a span in `tail` and `trace` (--json has all)
SHOWN_VALUE_CHARS = 100

Value = str | bool | int | float


class AttrRefused(ValueError):
    """A KEY=VALUE that may not become a span attribute; the message says why."""


def check_key(key: str) -> str:
    if len(key) > MAX_KEY_CHARS:
        raise AttrRefused(f"key is {len(key)} characters long; at most {MAX_KEY_CHARS}")
    if not re.fullmatch(_KEY, key):
        raise AttrRefused(
            f"key {key[:MAX_KEY_CHARS]!r} is not a dotted lowercase name such as business.value "
            "(segments of a-z, 0-9 and _, each starting with a letter, at least two)"
        )
    if key.startswith(_RESERVED_PREFIXES):
        namespace = key.split(".", 1)[0]
        raise AttrRefused(
            f"key {key!r} is in the {namespace}.* namespace, which swarmsh or OpenTelemetry "
            f"owns; reserved: {', '.join(f'{ns}.*' for ns in RESERVED_NAMESPACES)}"
        )
    return key


def typed(text: str) -> Value:
    """The value as written: a whole number (int64), a decimal or exponent number, true or
    false, else text. Quotes around it ("42", '007') keep it text and are taken off."""
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] == text[0]:
        return text[1:-1]
    if re.fullmatch(_INT, text):
        number = int(text)
        if number not in INT64:
            raise AttrRefused(
                f"{text[:40]} is beyond a 64-bit integer; quote it to keep it as text"
            )
        return number
    if re.fullmatch(_FLOAT, text):
        real = float(text)
        if not math.isfinite(real):
            raise AttrRefused(f"{text[:40]} is too large a number; quote it to keep it as text")
        return real
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return text


def parse(item: str) -> tuple[str, Value]:
    """`KEY=VALUE` -> (key, typed value), or AttrRefused saying what is wrong."""
    from swarmsh.safetext import refusal

    key, eq, text = item.partition("=")
    if not eq:
        raise AttrRefused(f"{item[:80]!r} is not KEY=VALUE (e.g. business.value=5)")
    check_key(key)
    if not text:
        raise AttrRefused(f"{key} has no value (write {key}='\"\"' for empty text)")
    if len(text) > MAX_VALUE_CHARS:
        raise AttrRefused(f"{key}: value is {len(text)} characters; at most {MAX_VALUE_CHARS}")
    reason = refusal(text)
    if reason:
        raise AttrRefused(f"{key}: value {reason}")
    return key, typed(text)


def collect(items: tuple[tuple[str, Value], ...]) -> dict[str, Value]:
    """Parsed items as one mapping: at most MAX_ATTRS, each key once."""
    if len(items) > MAX_ATTRS:
        raise AttrRefused(f"{len(items)} attributes given; at most {MAX_ATTRS}")
    found: dict[str, Value] = {}
    for key, value in items:
        if key in found:
            raise AttrRefused(f"{key} is given twice")
        found[key] = value
    return found


def is_custom(key: str) -> bool:
    """Whether `key` is one a person may have set with --attr (outside every reserved one)."""
    return not key.startswith(_RESERVED_PREFIXES)


def summary_parts(attributes: Mapping[str, Any], service: str) -> list[str]:
    """What `tail` and `trace` add for a swarmsh span: the program and exit code of a
    `swarmsh run`, then its custom attributes (bounded); nothing for other services' spans."""
    from swarmsh.safetext import shown

    if not service.startswith("swarmsh"):
        return []
    parts: list[str] = []
    if "process.command" in attributes:
        parts.append(f"cmd={shown(attributes['process.command'], limit=SHOWN_VALUE_CHARS)}")
        if "process.exit.code" in attributes:
            parts.append(f"exit={shown(attributes['process.exit.code'])}")
    custom = [key for key in attributes if isinstance(key, str) and is_custom(key)]
    for key in custom[:SHOWN]:
        value = attributes[key]
        text = ("true" if value else "false") if isinstance(value, bool) else value
        parts.append(f"{shown(key, limit=MAX_KEY_CHARS)}={shown(text, limit=SHOWN_VALUE_CHARS)}")
    if len(custom) > SHOWN:
        parts.append(f"(+{len(custom) - SHOWN} more)")
    return parts
