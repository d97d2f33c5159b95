"""What every CLI command shares: its state (home, telemetry) and the one span it emits."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from swarmsh.config import Paths
from swarmsh.errors import EXIT_BUS_UNWRITABLE, BusWriteError, SwarmshError
from swarmsh.safetext import refusal
from swarmsh.semconv._generated import attributes as attr

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.trace import Span

    from swarmsh.telemetry import Telemetry

CLI_SERVICE = "swarmsh-cli"
# A short bound on stopping telemetry in a short-lived process.
CLI_SHUTDOWN_TIMEOUT_S = 2.0
_CARRIERS = ("TRACEPARENT", "TRACESTATE", "BAGGAGE")  # swarmsh.telemetry.carrier.CARRIERS


class BusUnwritable(click.ClickException):
    """The command's span could not be written: the action was not recorded."""

    exit_code = EXIT_BUS_UNWRITABLE


@dataclass
class CliState:
    """Per-invocation state. The executor builds one around its own telemetry."""

    home: str | None = None
    console: bool | None = None
    otlp: bool | None = None
    command_id: str | None = None  # set when the executor runs the command
    depth: int | None = None  # the command's loop depth, likewise
    last_span_end: float | None = None  # epoch seconds; the executor's loop-duration metric
    last_trace_id: str | None = None  # the trace the last command started (demo follows it)
    _telemetry: Telemetry | None = field(default=None, repr=False)
    owns_telemetry: bool = True
    _parent: Context | None = field(default=None, repr=False)
    _parent_read: bool = field(default=False, repr=False)

    @classmethod
    def for_executor(cls, telemetry: Telemetry, home: str, command_id: str, depth: int) -> CliState:
        """Run under the executor's telemetry; it flushes our span with its own, in one write."""
        return cls(
            home=home,
            command_id=command_id,
            depth=depth,
            _telemetry=telemetry,
            owns_telemetry=False,
        )

    @property
    def paths(self) -> Paths:
        return Paths.from_home(self.home)

    @property
    def telemetry(self) -> Telemetry:
        if self._telemetry is None:
            from swarmsh.telemetry import setup_telemetry

            try:
                self.paths.secure()  # a home others could tamper with is a usage error
                self._telemetry = setup_telemetry(
                    CLI_SERVICE,
                    self.paths.bus,
                    console=self.console,
                    otlp=False,  # the CLI writes the bus only: no OTLP import, no wait
                    shutdown_timeout=CLI_SHUTDOWN_TIMEOUT_S,
                )
            except SwarmshError as exc:
                raise click.UsageError(str(exc)) from None
        return self._telemetry

    def shutdown(self) -> None:
        if self.owns_telemetry and self._telemetry is not None:
            self._telemetry.shutdown()

    def parent_context(self) -> Context | None:
        """The context a command's span starts in: TRACEPARENT, TRACESTATE and BAGGAGE from the
        environment (a malformed one ignored with one warning on stderr), else none. Under the
        executor, never the environment: its execute span is the parent."""
        if not self.owns_telemetry:
            return None
        if not self._parent_read:
            self._parent_read = True
            if not any(name in os.environ for name in _CARRIERS):
                return None  # the common case: nothing to import, nothing to parse
            from swarmsh.telemetry.carrier import read_carriers, to_context

            carried, problems = read_carriers(os.environ)
            if problems:
                click.echo(f"swarmsh: warning: {'; '.join(problems)}", err=True)
            self._parent = to_context(carried) if carried is not None else None
        return self._parent


@contextmanager
def command_span(
    group: str, trigger: str, attributes: Mapping[str, Any], event: str
) -> Iterator[Span]:
    """Run a command body inside its span `swarmsh.<group>.<trigger>`.

    The span gets `swarm.agent`/`swarm.trigger`, the command's domain
    attributes and those given with --attr, an event naming the state change,
    status OK or ERROR (with the exception recorded), and is on the bus before
    this returns: if it cannot be written the command fails, since an
    unrecorded action is no action.
    """
    span_attributes: dict[str, Any] = {attr.SWARM_AGENT: group, attr.SWARM_TRIGGER: trigger}
    span_attributes.update((k, v) for k, v in attributes.items() if v is not None)
    with recorded_span(f"swarmsh.{group}.{trigger}", span_attributes, group) as span:
        yield span
        span.add_event(event)


@contextmanager
def recorded_span(
    name: str, attributes: Mapping[str, Any], agent: str, metric_name: str | None = None
) -> Iterator[Span]:
    """The one span of a CLI command, on the bus when this returns (or BusUnwritable).

    Its parent is the environment's trace context (or, under the executor, the execute span);
    it carries the --attr attributes; while the body runs, TRACEPARENT/TRACESTATE in the
    environment name it, so a program the command starts joins the trace. Status: ERROR with
    the exception recorded if the body raises, else what the body set, else OK.
    """
    from opentelemetry.trace import Status, StatusCode

    from swarmsh.cli.attrs import given_attributes
    from swarmsh.telemetry.carrier import exported

    state = click.get_current_context().find_object(CliState)
    assert state is not None, "the swarmsh group always installs a CliState"
    telemetry = state.telemetry
    span_attributes: dict[str, Any] = {**given_attributes(), **attributes}
    if state.command_id:
        span_attributes[attr.SWARM_COMMAND_ID] = state.command_id
        span_attributes[attr.SWARM_LOOP_DEPTH] = state.depth or 0
    with telemetry.tracer.start_as_current_span(
        name,
        context=state.parent_context(),
        attributes=span_attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            with exported(span.get_span_context()):
                yield span
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise
        if span.status.status_code is StatusCode.UNSET:  # type: ignore[attr-defined]
            span.set_status(Status(StatusCode.OK))
    telemetry.instruments.spans_total.add(
        1, {attr.SWARM_SPAN_NAME: metric_name or name, attr.SWARM_AGENT: agent}
    )
    state.last_span_end = (span.end_time or 0) / 1e9  # type: ignore[attr-defined]
    state.last_trace_id = trace_id_of(span)
    if not state.owns_telemetry:
        return  # the executor writes this span together with its own execute span
    try:
        telemetry.flush_bus(keep_on_error=False)
    except BusWriteError as exc:
        raise BusUnwritable(f"{exc}; the action was not recorded") from None


@contextmanager
def reported_as_errors() -> Iterator[None]:
    """For operator commands: a swarmsh error (a symlinked bus, say) is a message, exit 1,
    never a traceback."""
    try:
        yield
    except SwarmshError as exc:
        raise click.ClickException(str(exc)) from None


def trace_id_of(span: Span) -> str:
    return format(span.get_span_context().trace_id, "032x")


# Entity ids reach file names, argv and attribute values: keep them to a safe alphabet,
# never starting with '-' (no option injection) and never containing '/' (no traversal).
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
_ECHOED = 140  # how much of a refused value an error message repeats


class EntityId(click.ParamType):
    name = "id"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if not _ID.fullmatch(text) or ".." in text:
            self.fail(
                f"{text[:_ECHOED]!r} is not a valid id: use 1-128 letters, digits and . _ : @ -, "
                "starting with a letter or digit",
                param,
                ctx,
            )
        return text


class SafeText(click.ParamType):
    """Any text that is safe text (`swarmsh.safetext`): no control, bidirectional or other
    invisible format characters, at most `max_length` characters. For filters and names."""

    name = "text"
    max_length = 1000

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if len(text) > self.max_length:
            self.fail(f"is {len(text)} characters long; at most {self.max_length}", param, ctx)
        reason = refusal(text)
        if reason:
            self.fail(reason, param, ctx)
        return text


class Text(SafeText):
    """Free text for attributes: safe text, bounded and not blank."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = super().convert(value, param, ctx)
        if not text.strip():
            self.fail("must not be empty", param, ctx)
        return text


class Finite(click.FloatRange):
    """A float range that also refuses NaN and the infinities (which click's range lets by,
    and which the bus could only write as null)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{number} is not a finite number", param, ctx)
        return number


INT64_MAX = 2**63 - 1  # the largest integer an OTel attribute (and OTLP) carries


def whole(minimum: int = 0) -> click.IntRange:
    """A whole number from `minimum` up to what an attribute can carry."""
    return click.IntRange(min=minimum, max=INT64_MAX)


ENTITY_ID = EntityId()
SAFE_TEXT = SafeText()
TEXT = Text()
