"""What every CLI command shares: its state (home, telemetry) and the one span it emits."""

from __future__ import annotations

import math
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
    from opentelemetry.trace import Span

    from swarmsh.telemetry import Telemetry

CLI_SERVICE = "swarmsh-cli"
# A short bound on stopping telemetry in a short-lived process.
CLI_SHUTDOWN_TIMEOUT_S = 2.0


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


@contextmanager
def command_span(
    group: str, trigger: str, attributes: Mapping[str, Any], event: str
) -> Iterator[Span]:
    """Run a command body inside its span `swarmsh.<group>.<trigger>`.

    The span gets `swarm.agent`/`swarm.trigger`, the command's domain
    attributes, an event naming the state change, status OK or ERROR (with the
    exception recorded), and is on the bus before this returns: if it cannot
    be written the command fails, since an unrecorded action is no action.
    """
    from opentelemetry.trace import Status, StatusCode

    state = click.get_current_context().find_object(CliState)
    assert state is not None, "the swarmsh group always installs a CliState"
    telemetry = state.telemetry
    name = f"swarmsh.{group}.{trigger}"
    span_attributes: dict[str, Any] = {attr.SWARM_AGENT: group, attr.SWARM_TRIGGER: trigger}
    span_attributes.update((k, v) for k, v in attributes.items() if v is not None)
    if state.command_id:
        span_attributes[attr.SWARM_COMMAND_ID] = state.command_id
        span_attributes[attr.SWARM_LOOP_DEPTH] = state.depth or 0
    with telemetry.tracer.start_as_current_span(
        name, attributes=span_attributes, record_exception=False, set_status_on_exception=False
    ) as span:
        try:
            yield span
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise
        span.add_event(event)
        span.set_status(Status(StatusCode.OK))
    telemetry.instruments.spans_total.add(1, {attr.SWARM_SPAN_NAME: name, attr.SWARM_AGENT: group})
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
