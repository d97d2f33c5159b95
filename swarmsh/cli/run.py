"""`swarmsh run -- COMMAND [ARGS...]`: any program under a span of its own, its trace context
exported to it, its exit status recorded, and its exit code passed on."""

from __future__ import annotations

import os
import re
from typing import Any

import click

from swarmsh.cli.attrs import with_attrs
from swarmsh.cli.context import BusUnwritable, recorded_span
from swarmsh.semconv._generated import attributes as attr

SPAN_NAME = attr.SPAN_SWARMSH_RUN
MAX_ARGS_RECORDED = 64
MAX_ARG_CHARS = 1000
# A span name of the user's: a safe alphabet, never one of swarmsh's own (agents react to those).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:/@-]{0,127}")
_OWN_PREFIXES = ("swarmsh.", "swarm.")


class SpanName(click.ParamType):
    name = "name"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        if not _NAME.fullmatch(text) or text.endswith(" "):
            self.fail(
                f"{text[:80]!r} is not a span name: 1-128 letters, digits, spaces and . _ : / @ -, "
                "starting with a letter or digit",
                param,
                ctx,
            )
        if text != SPAN_NAME and text.startswith(_OWN_PREFIXES):
            self.fail(f"{text!r}: names in swarmsh.* and swarm.* are swarmsh's own", param, ctx)
        return text


def recordable(arg: str) -> str:
    """An argv item as an attribute value: valid UTF-8 (undecodable bytes as \\xNN), bounded."""
    text = arg.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text if len(text) <= MAX_ARG_CHARS else text[: MAX_ARG_CHARS - 1] + "…"


def argv_attributes(argv: tuple[str, ...]) -> dict[str, Any]:
    args = [recordable(a) for a in argv[:MAX_ARGS_RECORDED]]
    if len(argv) > MAX_ARGS_RECORDED:
        args[-1] = f"… (+{len(argv) - MAX_ARGS_RECORDED + 1} more)"
    program = recordable(argv[0])
    return {
        attr.PROCESS_COMMAND: program,
        attr.PROCESS_COMMAND_ARGS: args,
        attr.PROCESS_EXECUTABLE_NAME: (os.path.basename(program) or program)[:255],
    }


@click.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.option(
    "--name",
    "span_name",
    type=SpanName(),
    default=SPAN_NAME,
    show_default=True,
    help="The span's name (a step name such as 'nightly backup').",
)
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def run(ctx: click.Context, span_name: str, command: tuple[str, ...]) -> None:
    """Run COMMAND (no shell) under a span of its own and exit with its exit code.

    The program gets TRACEPARENT/TRACESTATE naming that span, so swarmsh commands and
    instrumented programs it starts join the trace. A non-zero exit, a killing signal or a
    program that cannot be started (127: not found, 126: not executable) make the span ERROR.
    SIGINT, SIGTERM and SIGHUP sent to swarmsh run are passed on to the program.
    """
    from opentelemetry.trace import Status, StatusCode

    from swarmsh.cli.child import WATCHED, ChildResult, drain, signals_blocked, supervise
    from swarmsh.telemetry.carrier import child_environment

    unrecorded = None
    with signals_blocked(WATCHED) as mask:
        try:
            with recorded_span(span_name, argv_attributes(command), "run", SPAN_NAME) as span:
                env = child_environment(span.get_span_context(), os.environ)
                result: ChildResult = supervise(list(command), env, mask)
                if result.pid is not None:
                    span.set_attribute(attr.PROCESS_PID, result.pid)
                span.set_attribute(attr.PROCESS_EXIT_CODE, result.exit_code)
                if result.killed_by:
                    span.set_attribute(attr.SWARM_RUN_SIGNAL, result.killed_by)
                if result.error:
                    span.set_status(Status(StatusCode.ERROR, result.error))
        except BusUnwritable as exc:
            # The program has run: its exit code matters more to the script than our record.
            unrecorded = exc.format_message()
        drain(WATCHED)  # a signal that came after the program ended: we are ending too
    if unrecorded:
        click.echo(f"swarmsh run: warning: {unrecorded}", err=True)
    if result.error and result.pid is None:
        click.echo(f"swarmsh run: {result.error}", err=True)
    ctx.exit(result.exit_code)


with_attrs(run)
