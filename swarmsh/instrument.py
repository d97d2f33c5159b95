"""Instrument an existing click application: each run of its commands becomes a span on the
swarmsh bus, so that swarmsh agents (and `swarmsh tail`) see what the application did.

    from swarmsh.instrument import instrument
    instrument(cli, service="myapp")          # every command of the group, nested ones too

    @swarmsh_span("myapp")                    # or one command (above @click.command)
    @click.command()
    def deploy(...): ...

The conventions are swarmsh's own: the span is named `<service>.<command path>` (`myapp`,
`myapp.deploy`, `myapp.db.migrate`), carries `swarm.agent` (the service) and `swarm.trigger`
(the command path), ends OK, or ERROR with the exception recorded (a zero exit is OK), and
joins the trace (and baggage) TRACEPARENT/TRACESTATE/BAGGAGE carry, as swarmsh's CLI does. The
parameters become `cli.param.<name>` attributes, bounded (`param_attributes`), and a
parameter that looks secret is recorded as `REDACTED`. Unlike swarmsh's own commands, a bus
that cannot be written is a warning, never the application's failure.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from opentelemetry.context import Context

    from swarmsh.telemetry import Telemetry

C = TypeVar("C", bound=click.Command)

PARAM_PREFIX = "cli.param."
REDACTED = "REDACTED"
MAX_PARAMS = 32  # attributes from parameters per span
MAX_VALUE_CHARS = 256
MAX_ITEMS = 16  # of a multiple option or nargs argument
MAX_STATUS_CHARS = 1000
# A parameter whose name contains one of these, or that hides its input, is never recorded.
SECRET_WORDS = ("password", "passwd", "secret", "token", "key", "credential", "auth", "cookie")
_WRAPPED = "__swarmsh_instrumented__"


def _is_secret(name: str, param: click.Parameter) -> bool:
    names = f"{name} {param.name or ''}".lower()
    return bool(getattr(param, "hide_input", False)) or any(w in names for w in SECRET_WORDS)


def _scalar(value: Any) -> bool | int | float | str:
    """One value as an attribute value: numbers and booleans as they are, anything else as
    bounded safe text (a file as its name)."""
    from swarmsh.safetext import escape

    if isinstance(value, bool) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return value
    text = escape(str(getattr(value, "name", value)))
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def param_attributes(
    params: Mapping[str, Any], declared: Mapping[str, click.Parameter]
) -> dict[str, Any]:
    """`cli.param.<name>` attributes for a command's parameter values (pure).

    None (not given) is left out; a secret is `REDACTED`; a sequence keeps its first
    MAX_ITEMS items, all as text unless all are of one scalar type; at most MAX_PARAMS.
    """
    attributes: dict[str, Any] = {}
    for name, value in params.items():
        if value is None or len(attributes) >= MAX_PARAMS:
            continue
        param = declared.get(name)
        key = PARAM_PREFIX + name
        if param is None or _is_secret(name, param):
            attributes[key] = REDACTED  # unknown to the command: say nothing of it
        elif isinstance(value, list | tuple):
            items = [_scalar(v) for v in value[:MAX_ITEMS]]
            if len({type(i) for i in items}) > 1:
                items = [str(i) for i in items]
            attributes[key] = tuple(items)
        else:
            attributes[key] = _scalar(value)
    return attributes


def span_name(service: str, ctx: click.Context) -> tuple[str, str]:
    """(span name, command path) from the context chain: `myapp.db.migrate`, `db.migrate`."""
    names = []
    while ctx.parent is not None:
        names.append(ctx.info_name or ctx.command.name or "?")
        ctx = ctx.parent
    path = ".".join(reversed(names))
    return (f"{service}.{path}" if path else service), path


def _warn(message: str) -> None:
    click.echo(f"swarmsh.instrument: {message}", err=True)


def parent_context() -> Context | None:
    """The context TRACEPARENT/TRACESTATE/BAGGAGE carry, read as swarmsh's own CLI reads them
    (`swarmsh.telemetry.carrier`): a malformed value is ignored with a warning."""
    from swarmsh.telemetry.carrier import CARRIERS, read_carriers, to_context

    if not any(name in os.environ for name in CARRIERS):
        return None
    carried, problems = read_carriers(os.environ)
    if problems:
        _warn("; ".join(problems))
    return to_context(carried) if carried is not None else None


@functools.cache
def _telemetry(service: str) -> Telemetry | None:
    """One bus writer per service and process (SWARMSH_HOME), stopped at exit."""
    import atexit

    from swarmsh.config import Paths
    from swarmsh.errors import SwarmshError
    from swarmsh.telemetry import setup_telemetry

    try:
        paths = Paths.from_home(None).secure()
        telemetry = setup_telemetry(service, paths.bus, otlp=False, shutdown_timeout=2.0)
    except (SwarmshError, OSError) as exc:
        _warn(f"no span is recorded: {exc}")
        return None
    atexit.register(telemetry.shutdown)
    return telemetry


def _failed(exc: BaseException) -> bool:
    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code != 0
    if isinstance(exc, SystemExit):
        return exc.code not in (None, 0)
    return True


@contextmanager
def recorded(service: str, ctx: click.Context) -> Iterator[None]:
    """Run the command body inside its span, then write the span to the bus."""
    telemetry = _telemetry(service)
    if telemetry is None:
        yield
        return
    from opentelemetry.trace import Status, StatusCode

    from swarmsh.errors import BusWriteError

    name, path = span_name(service, ctx)
    attributes = {"swarm.agent": service, "swarm.trigger": path or service}
    attributes.update(param_attributes(ctx.params, {p.name or "": p for p in ctx.command.params}))
    try:
        with telemetry.tracer.start_as_current_span(
            name,
            context=parent_context(),
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield
            except BaseException as exc:
                if _failed(exc):
                    span.record_exception(exc)
                    reason = f"{type(exc).__name__}: {exc}"
                    span.set_status(Status(StatusCode.ERROR, reason[:MAX_STATUS_CHARS]))
                else:
                    span.set_status(Status(StatusCode.OK))
                raise
            span.set_status(Status(StatusCode.OK))
    finally:  # on the bus before the command returns, as swarmsh's own commands' spans
        try:
            telemetry.flush_bus(keep_on_error=False)
        except BusWriteError as exc:
            _warn(f"the span {name} was not recorded: {exc}")


def swarmsh_span(service: str) -> Callable[[C], C]:
    """Decorate a click command (put it above `@click.command`) so that each run records its
    span; the same as `instrument(command, service)` for a single command."""

    def decorate(command: C) -> C:
        return instrument(command, service)

    return decorate


def instrument(command: C, service: str) -> C:
    """Record a span for each run of `command` and, for a group, of every command under it
    (those it holds now). Instrumenting twice records once."""
    from swarmsh.safetext import refusal

    if not service or len(service) > 64 or refusal(service) or " " in service:
        raise ValueError(f"service {service[:80]!r}: 1-64 safe characters without spaces")
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            instrument(sub, service)
        return command  # a group's own callback runs as part of its subcommand's span's run
    callback = command.callback
    if callback is None or getattr(callback, _WRAPPED, False):
        return command

    @functools.wraps(callback)
    def traced(*args: Any, **kwargs: Any) -> Any:
        with recorded(service, click.get_current_context()):
            return callback(*args, **kwargs)

    setattr(traced, _WRAPPED, True)
    command.callback = traced
    return command
