"""Trace context in environment variables (TRACEPARENT, TRACESTATE, BAGGAGE), as the OpenTelemetry
specification's "environment variables as context propagation carriers" names them: read and
validated on the way in (W3C formats, bounded), written for child processes on the way out."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import SpanContext

ENV_TRACEPARENT = "TRACEPARENT"
ENV_TRACESTATE = "TRACESTATE"
ENV_BAGGAGE = "BAGGAGE"
CARRIERS = (ENV_TRACEPARENT, ENV_TRACESTATE, ENV_BAGGAGE)

# Bounds from the W3C recommendations: a traceparent of a future version may be longer than
# version 00's 55 characters, tracestate holds at most 32 entries (512 characters are what
# every platform must pass on), baggage at most 64 entries and 8,192 bytes.
MAX_TRACEPARENT_CHARS = 512
MAX_TRACESTATE_CHARS = 512
MAX_TRACESTATE_ENTRIES = 32
MAX_BAGGAGE_CHARS = 8192
MAX_BAGGAGE_ENTRIES = 64
_ECHOED = 80  # how much of a refused value a warning repeats

_OWS = " \t"


@functools.cache
def _patterns() -> dict[str, re.Pattern[str]]:
    """Compiled on first use: the common case (nothing in the environment) never needs them."""
    return {
        "traceparent": re.compile(
            r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?"
        ),
        "tracestate_key": re.compile(
            r"[a-z][a-z0-9_*/-]{0,255}|[a-z0-9][a-z0-9_*/-]{0,240}@[a-z][a-z0-9_*/-]{0,13}"
        ),
        "tracestate_value": re.compile(
            r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
        ),
        "token": re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}"),  # RFC 9110: a baggage key
        "baggage_value": re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"),
    }


class CarrierError(ValueError):
    """A carrier value that is not what its W3C format allows (the message says why)."""


class Carried(NamedTuple):  # a NamedTuple: a quarter of a frozen dataclass's import cost
    """What the environment carried: a remote parent span (or none) and baggage entries."""

    trace_id: int | None = None
    span_id: int | None = None
    flags: int = 0
    tracestate: tuple[tuple[str, str], ...] = ()
    baggage: tuple[tuple[str, str], ...] = ()


def _echo(value: str) -> str:
    from swarmsh.safetext import shown

    return f"'{shown(value, limit=_ECHOED)}'"


def parse_traceparent(value: str) -> tuple[int, int, int]:
    """(trace id, span id, flags) of a W3C traceparent, or CarrierError."""
    text = value.strip(_OWS)
    if len(text) > MAX_TRACEPARENT_CHARS:
        raise CarrierError(f"longer than {MAX_TRACEPARENT_CHARS} characters")
    found = _patterns()["traceparent"].fullmatch(text)
    if found is None:
        raise CarrierError("not VERSION-TRACEID-SPANID-FLAGS (00-<32 hex>-<16 hex>-<2 hex>)")
    version, trace_id, span_id, flags, rest = found.groups()
    if version == "ff" or (version == "00" and rest is not None):
        raise CarrierError(f"version {version} does not allow this form")
    if trace_id == "0" * 32 or span_id == "0" * 16:
        raise CarrierError("an all-zero trace id or span id is invalid")
    return int(trace_id, 16), int(span_id, 16), int(flags, 16)


def parse_tracestate(value: str) -> tuple[tuple[str, str], ...]:
    """The entries of a W3C tracestate, in order, or CarrierError."""
    if len(value) > MAX_TRACESTATE_CHARS:
        raise CarrierError(f"longer than {MAX_TRACESTATE_CHARS} characters")
    entries: list[tuple[str, str]] = []
    for member in value.split(","):
        member = member.strip(_OWS)
        if not member:
            continue
        key, eq, val = member.partition("=")
        pattern = _patterns()
        if (
            not eq
            or not pattern["tracestate_key"].fullmatch(key)
            or not pattern["tracestate_value"].fullmatch(val)
        ):
            raise CarrierError(f"entry {_echo(member)} is not key=value in the W3C alphabet")
        if any(key == seen for seen, _ in entries):
            raise CarrierError(f"key {key!r} appears twice")
        entries.append((key, val))
    if len(entries) > MAX_TRACESTATE_ENTRIES:
        raise CarrierError(f"more than {MAX_TRACESTATE_ENTRIES} entries")
    return tuple(entries)


def parse_baggage(value: str) -> tuple[tuple[str, str], ...]:
    """The (key, decoded value) entries of a W3C baggage header, or CarrierError. Properties
    after `;` are accepted and not kept."""
    from urllib.parse import unquote

    if len(value.encode("utf-8", "surrogateescape")) > MAX_BAGGAGE_CHARS:
        raise CarrierError(f"longer than {MAX_BAGGAGE_CHARS} bytes")
    entries: list[tuple[str, str]] = []
    for member in value.split(","):
        head = member.split(";", 1)[0].strip(_OWS)
        if not head and not member.strip(_OWS):
            continue
        key, eq, val = head.partition("=")
        key, val = key.strip(_OWS), val.strip(_OWS)
        pattern = _patterns()
        if (
            not eq
            or not pattern["token"].fullmatch(key)
            or not pattern["baggage_value"].fullmatch(val)
        ):
            raise CarrierError(f"entry {_echo(member)} is not key=value in the W3C alphabet")
        entries.append((key, unquote(val, errors="strict")))
    if len(entries) > MAX_BAGGAGE_ENTRIES:
        raise CarrierError(f"more than {MAX_BAGGAGE_ENTRIES} entries")
    return tuple(entries)


def read_carriers(environ: Mapping[str, str]) -> tuple[Carried | None, list[str]]:
    """What `environ` carries, and one line per variable ignored as malformed. A bad
    TRACESTATE is dropped on its own; TRACESTATE without a TRACEPARENT means nothing."""
    traceparent, tracestate, baggage = (environ.get(name) for name in CARRIERS)
    if traceparent is None and baggage is None:
        return None, []
    problems: list[str] = []
    parent: tuple[int, int, int] | None = None
    state: tuple[tuple[str, str], ...] = ()
    entries: tuple[tuple[str, str], ...] = ()
    if traceparent is not None:
        try:
            parent = parse_traceparent(traceparent)
        except CarrierError as exc:
            problems.append(f"{ENV_TRACEPARENT} {_echo(traceparent)} ignored: {exc}")
    if parent is not None and tracestate:
        try:
            state = parse_tracestate(tracestate)
        except (CarrierError, UnicodeError) as exc:
            problems.append(f"{ENV_TRACESTATE} ignored: {exc}")
    if baggage:
        try:
            entries = parse_baggage(baggage)
        except (CarrierError, UnicodeError) as exc:
            problems.append(f"{ENV_BAGGAGE} ignored: {exc}")
    if parent is None and not entries:
        return None, problems
    trace_id, span_id, flags = parent if parent is not None else (None, None, 0)
    return Carried(trace_id, span_id, flags & 0xFF, state, entries), problems


def to_context(carried: Carried) -> Context:
    """An OpenTelemetry context holding the carried remote parent span and baggage."""
    from opentelemetry import trace
    from opentelemetry.context import Context as OtelContext
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

    context = OtelContext()
    if carried.trace_id is not None and carried.span_id is not None:
        parent = SpanContext(
            carried.trace_id,
            carried.span_id,
            is_remote=True,
            trace_flags=TraceFlags(carried.flags & TraceFlags.SAMPLED),
            trace_state=TraceState(list(carried.tracestate)),
        )
        context = trace.set_span_in_context(NonRecordingSpan(parent), context)
    if carried.baggage:  # imported only for baggage: a millisecond the common case saves
        from opentelemetry import baggage

        for key, value in carried.baggage:
            context = baggage.set_baggage(key, value, context)
    return context


def carrier_values(span_context: SpanContext) -> dict[str, str | None]:
    """TRACEPARENT and TRACESTATE for a child of `span_context` (None: unset the variable)."""
    traceparent = (
        f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-"
        f"{int(span_context.trace_flags) & 0xFF:02x}"
    )
    tracestate = span_context.trace_state.to_header() if span_context.trace_state else ""
    return {ENV_TRACEPARENT: traceparent, ENV_TRACESTATE: tracestate or None}


def child_environment(span_context: SpanContext, base: Mapping[str, str]) -> dict[str, str]:
    """`base` with the carriers of `span_context`: the environment of a child process."""
    env = dict(base)
    for name, value in carrier_values(span_context).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


@contextmanager
def exported(
    span_context: SpanContext, environ: MutableMapping[str, str] | None = None
) -> Iterator[None]:
    """While the block runs, the process environment (what children inherit) carries
    `span_context`; afterwards it is as it was."""
    env = os.environ if environ is None else environ
    saved = {name: env.get(name) for name in (ENV_TRACEPARENT, ENV_TRACESTATE)}
    _apply(env, carrier_values(span_context))
    try:
        yield
    finally:
        _apply(env, saved)


def _apply(env: MutableMapping[str, str], values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            env.pop(name, None)
        elif env.get(name) != value:
            env[name] = value
