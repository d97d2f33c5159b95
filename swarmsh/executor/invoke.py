"""One command run in-process through the CLI, under its `swarmsh.command.execute` span."""

from __future__ import annotations

import io
import logging
from contextlib import redirect_stdout
from dataclasses import dataclass
from typing import Any

import click
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from swarmsh.bus.records import NextCommand
from swarmsh.semconv._generated import attributes as attr
from swarmsh.telemetry import Telemetry
from swarmsh.telemetry.carrier import exported

_log = logging.getLogger(__name__)

# What one run of a command came to (also the `swarm.command.outcome` attribute).
EXECUTED, REFUSED, FAILED = "executed", "refused", "failed"
EXECUTE_SPAN = "swarmsh.command.execute"
REJECTED_SPAN = "swarmsh.command.rejected"
_propagator = TraceContextTextMapPropagator()


@dataclass(frozen=True)
class Run:
    """The outcome of one run; `error` says why it was refused or failed."""

    outcome: str
    error: str = ""
    cli_span_end: float | None = None  # epoch seconds, for the loop-duration metric


def _attributes(command: NextCommand) -> dict[str, Any]:
    return {
        attr.SWARM_AGENT: command.agent,
        attr.SWARM_COMMAND: command.command,
        attr.SWARM_COMMAND_ID: command.id,
        attr.SWARM_LOOP_DEPTH: command.depth,
    }


def run_command(
    root: click.Group,
    telemetry: Telemetry,
    home: str,
    command: NextCommand,
    argv: list[str],
    attempt: int,
) -> Run:
    """Run `argv` through the CLI in this process, in the command's trace.

    The CLI span and its execute span stay pending in `telemetry` for the caller to write in
    one bus write (so after a crash the bus says whether the command ran).
    """
    from swarmsh.cli.context import CliState

    state = CliState.for_executor(telemetry, home, command.id, command.depth)
    run = Run(EXECUTED)
    with telemetry.tracer.start_as_current_span(
        EXECUTE_SPAN,
        context=_propagator.extract({"traceparent": command.traceparent}),
        attributes={**_attributes(command), attr.SWARM_COMMAND_ATTEMPT: attempt},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        # What the command says is for a person at a terminal: the executor keeps it for its
        # log. Written to our stdout (supervisord's pipe), a dead supervisord's EPIPE would
        # make click call sys.exit() in the middle of the command.
        said = io.StringIO()
        try:
            # What the command starts inherits TRACEPARENT/TRACESTATE naming this span (the CLI
            # span names itself while its body runs); the executor's own are restored after.
            with redirect_stdout(said), exported(span.get_span_context()):
                root.main(args=argv, prog_name="swarmsh", standalone_mode=False, obj=state)
        except click.UsageError as exc:
            run = Run(REFUSED, f"{command.command}: {exc.format_message()}")
        except (Exception, SystemExit) as exc:  # failed: retried, then dead-lettered
            run = Run(FAILED, f"{type(exc).__name__}: {exc}")
            span.record_exception(exc)
        if said.getvalue():
            _log.debug("command %s said: %s", command.id, said.getvalue().rstrip())
        span.set_attribute(attr.SWARM_COMMAND_OUTCOME, run.outcome)
        if run.outcome == EXECUTED:
            span.set_status(Status(StatusCode.OK))
        else:
            span.set_status(Status(StatusCode.ERROR, run.error))
    if run.outcome == EXECUTED:
        return Run(EXECUTED, cli_span_end=state.last_span_end)
    return run


def record_refusal(telemetry: Telemetry, command: NextCommand, reason: str) -> None:
    """An ERROR `swarmsh.command.rejected` span in the command's trace (pending, unwritten)."""
    with telemetry.tracer.start_as_current_span(
        REJECTED_SPAN,
        context=_propagator.extract({"traceparent": command.traceparent}),
        attributes={**_attributes(command), attr.SWARM_REJECTION_REASON: reason},
    ) as rejected:
        rejected.set_status(Status(StatusCode.ERROR, reason))
