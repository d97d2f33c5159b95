"""Names on the JetStream bus: span name <-> subject, streams, consumers and buckets.

A span named `swarmsh.roberts.open` is published on `swarmsh.spans.swarmsh.roberts.open`:
each dot-separated token of the name becomes one subject token. Tokens made only of
`[A-Za-z0-9_-]` stay as they are; any other token is percent-escaped (every byte of its UTF-8
outside that set as `%XX`), and an empty token (`a..b`, a leading dot) is the lone `%`. So every
subject is valid (no spaces, `*`, `>`, empty tokens), `span_name(span_subject(n)) == n` for every
name, and a prefix filter (`spans_filter("swarmsh.roberts.")`) selects exactly the names that
start with that prefix. Pure functions, no nats import.
"""

from __future__ import annotations

import re

SPANS_STREAM = "SWARMSH_SPANS"
COMMANDS_STREAM = "SWARMSH_COMMANDS"
SPANS_ROOT = "swarmsh.spans"
COMMANDS_SUBJECT = "swarmsh.commands"
EXECUTOR_CONSUMER = "swarmsh-executor"  # the executors' one shared durable consumer
LEDGER_BUCKET = "swarmsh-ledger"  # the executors' command ledger


_PLAIN = re.compile(r"[A-Za-z0-9_-]+")
_PLAIN_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_ESCAPED = re.compile(r"(?:[A-Za-z0-9_-]|%[0-9A-F]{2})+")
_EMPTY_TOKEN = "%"  # noqa: S105 (a token of a subject, not a password)


class BadSubject(ValueError):
    """A subject that `span_subject` cannot have produced."""


def escape_token(token: str) -> str:
    """One name token as a valid subject token (unchanged when it is plain)."""
    if _PLAIN.fullmatch(token):
        return token
    if not token:
        return _EMPTY_TOKEN
    return "".join(chr(byte) if byte in _PLAIN_BYTES else f"%{byte:02X}" for byte in token.encode())


def unescape_token(token: str) -> str:
    if token == _EMPTY_TOKEN:
        return ""
    if not _ESCAPED.fullmatch(token):
        raise BadSubject(f"not an escaped subject token: {token[:80]!r}")
    if "%" not in token:
        return token
    out = bytearray()
    i = 0
    while i < len(token):
        if token[i] == "%":
            out.append(int(token[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(ord(token[i]))
            i += 1
    try:
        name = out.decode()
    except UnicodeDecodeError:
        raise BadSubject(f"escaped token is not UTF-8: {token[:80]!r}") from None
    if escape_token(name) != token:  # one spelling per name (e.g. no needless %41)
        raise BadSubject(f"not the canonical escape: {token[:80]!r}")
    return name


def span_subject(name: str) -> str:
    """The subject a span named `name` is published on."""
    return SPANS_ROOT + "." + ".".join(escape_token(token) for token in name.split("."))


def span_name(subject: str) -> str:
    """The span name a subject of the spans stream stands for (inverse of `span_subject`)."""
    head = SPANS_ROOT + "."
    if not subject.startswith(head):
        raise BadSubject(f"not a span subject: {subject[:80]!r}")
    return ".".join(unescape_token(token) for token in subject[len(head) :].split("."))


def spans_filter(prefix: str = "") -> str:
    """The consumer filter for span names starting with `prefix`, which is "" (every span) or
    whole tokens ending in a dot, e.g. `swarmsh.roberts.`."""
    if not prefix:
        return SPANS_ROOT + ".>"
    if not prefix.endswith("."):
        raise ValueError(f"a span prefix ends with a dot: {prefix!r}")
    return span_subject(prefix[:-1]) + ".>"


def consumer_name(role: str) -> str:
    """A durable consumer's or bucket's name for a role such as an agent's name. Such names
    allow only `[A-Za-z0-9_-]`; roles are ours (agent names), so anything else is refused."""
    if not _PLAIN.fullmatch(role) or len(role) > 64:
        raise ValueError(f"a role name is 1 to 64 of [A-Za-z0-9_-], not {role[:80]!r}")
    return role


def state_bucket(agent: str) -> str:
    """The key-value bucket holding one agent's entity states."""
    return "swarmsh-state-" + consumer_name(agent)
