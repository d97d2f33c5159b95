"""`swarmsh lean …`: DMAIC improvement projects (define, measure, analyze, improve, control)."""

from __future__ import annotations

import re
from typing import Any

import click

from swarmsh.cli.attrs import DomainGroup
from swarmsh.cli.context import ENTITY_ID, TEXT, Finite, command_span, trace_id_of
from swarmsh.safetext import refusal
from swarmsh.semconv._generated import attributes as attr

GROUP = "lean"
_METRIC = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}=\S.{0,199}")


class Metric(click.ParamType):
    """NAME=VALUE: a name from a small alphabet, a value of safe text."""

    name = "name=value"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value)
        reason = refusal(text)
        if reason:
            self.fail(reason, param, ctx)
        if not _METRIC.fullmatch(text):
            self.fail(f"{text[:80]!r} is not NAME=VALUE (e.g. defect_rate=5.2)", param, ctx)
        return text


def _phase(project: str, phase: str, **extra: object) -> dict[str, object]:
    return {attr.LEAN_PROJECT_ID: project, attr.LEAN_PHASE: phase, **extra}


@click.group(cls=DomainGroup)
def lean() -> None:
    """Improvement: run a DMAIC project from define to control."""


@lean.command("define")
@click.argument("project", type=ENTITY_ID)
@click.option("--problem", required=True, type=TEXT, help="The problem statement.")
@click.option("--sponsor", type=ENTITY_ID, help="Who sponsors the project.")
def define(project: str, problem: str, sponsor: str | None) -> None:
    """Define PROJECT: its problem and sponsor."""
    attrs = _phase(
        project,
        "define",
        **{attr.LEAN_PROBLEM_STATEMENT: problem, attr.LEAN_SPONSOR: sponsor},
    )
    with command_span(GROUP, "define", attrs, "project_defined") as span:
        pass
    click.echo(f"project {project} defined  trace={trace_id_of(span)}")


@lean.command("measure")
@click.argument("project", type=ENTITY_ID)
@click.option("--metric", "metrics", multiple=True, type=Metric(), help="NAME=VALUE, repeatable.")
def measure(project: str, metrics: tuple[str, ...]) -> None:
    """Measure PROJECT's baseline."""
    attrs = _phase(project, "measure", **{attr.LEAN_METRICS: metrics or None})
    with command_span(GROUP, "measure", attrs, "phase_measured") as span:
        pass
    click.echo(f"project {project} measured: {len(metrics)} metric(s)  trace={trace_id_of(span)}")


@lean.command("analyze")
@click.argument("project", type=ENTITY_ID)
@click.option("--root-cause", "causes", multiple=True, type=TEXT, help="Repeatable.")
def analyze(project: str, causes: tuple[str, ...]) -> None:
    """Analyze PROJECT's root causes."""
    attrs = _phase(project, "analyze", **{attr.LEAN_ROOT_CAUSES: causes or None})
    with command_span(GROUP, "analyze", attrs, "phase_analyzed") as span:
        pass
    click.echo(
        f"project {project} analyzed: {len(causes)} root cause(s)  trace={trace_id_of(span)}"
    )


@lean.command("improve")
@click.argument("project", type=ENTITY_ID)
@click.option("--improvement", "improvements", multiple=True, type=TEXT, help="Repeatable.")
@click.option("--pilot-success/--pilot-failure", default=None, help="How the pilot went.")
@click.option("--savings", type=Finite(min=0), help="Savings the change brings.")
def improve(
    project: str, improvements: tuple[str, ...], pilot_success: bool | None, savings: float | None
) -> None:
    """Improve PROJECT: the changes piloted and what they save."""
    attrs = _phase(
        project,
        "improve",
        **{
            attr.LEAN_IMPROVEMENTS: improvements or None,
            attr.LEAN_PILOT_SUCCESS: pilot_success,
            attr.LEAN_SAVINGS: savings,
        },
    )
    with command_span(GROUP, "improve", attrs, "phase_improved") as span:
        pass
    click.echo(f"project {project} improved  trace={trace_id_of(span)}")


@lean.command("control")
@click.argument("project", type=ENTITY_ID)
@click.option("--process-change", "changes", multiple=True, type=TEXT, help="Repeatable.")
def control(project: str, changes: tuple[str, ...]) -> None:
    """Control PROJECT: the process changes that keep the gain."""
    attrs = _phase(project, "control", **{attr.LEAN_PROCESS_CHANGES: changes or None})
    with command_span(GROUP, "control", attrs, "phase_controlled") as span:
        pass
    click.echo(
        f"project {project} in control: {len(changes)} process change(s)  trace={trace_id_of(span)}"
    )
