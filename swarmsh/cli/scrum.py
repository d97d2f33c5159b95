"""`swarmsh scrum …`: sprint events (plan, daily, review, retro)."""

from __future__ import annotations

import click

from swarmsh.cli.attrs import DomainGroup
from swarmsh.cli.context import ENTITY_ID, TEXT, Finite, command_span, trace_id_of, whole
from swarmsh.semconv._generated import attributes as attr

GROUP = "scrum"
SPRINT = whole(1)


def _ids(sprint: int, team: str) -> dict[str, object]:
    return {attr.SCRUM_SPRINT_NUMBER: sprint, attr.SCRUM_TEAM_ID: team}


@click.group(cls=DomainGroup)
def scrum() -> None:
    """Delivery: plan a sprint, hold dailies, review and retrospect."""


@scrum.command("plan")
@click.argument("sprint", type=SPRINT)
@click.option("--team", required=True, type=ENTITY_ID)
@click.option("--capacity", type=whole(0), help="Capacity in story points.")
def plan(sprint: int, team: str, capacity: int | None) -> None:
    """Plan SPRINT for TEAM."""
    attrs = {**_ids(sprint, team), attr.SCRUM_CAPACITY: capacity}
    with command_span(GROUP, "plan", attrs, "sprint_planned") as span:
        pass
    click.echo(f"sprint {sprint} planned for {team}  trace={trace_id_of(span)}")


@scrum.command("daily")
@click.argument("sprint", type=SPRINT)
@click.option("--team", required=True, type=ENTITY_ID)
@click.option("--blocker", "blockers", multiple=True, type=TEXT, help="A blocker (repeatable).")
def daily(sprint: int, team: str, blockers: tuple[str, ...]) -> None:
    """Hold the daily scrum of SPRINT."""
    attrs = {**_ids(sprint, team), attr.SCRUM_BLOCKERS: blockers or None}
    with command_span(GROUP, "daily", attrs, "daily_scrum_held") as span:
        pass
    click.echo(
        f"daily of sprint {sprint} ({team}): {len(blockers)} blocker(s)  trace={trace_id_of(span)}"
    )


@scrum.command("review")
@click.argument("sprint", type=SPRINT)
@click.option("--team", required=True, type=ENTITY_ID)
@click.option("--velocity", required=True, type=Finite(min=0), help="Points done.")
@click.option("--defect-rate", required=True, type=Finite(0, 100), help="Defects, in percent.")
@click.option("--satisfaction", type=Finite(0, 10), help="Customer score, 0-10.")
def review(
    sprint: int, team: str, velocity: float, defect_rate: float, satisfaction: float | None
) -> None:
    """Review SPRINT: velocity, defect rate and customer satisfaction."""
    attrs = {
        **_ids(sprint, team),
        attr.SCRUM_VELOCITY: velocity,
        attr.SCRUM_DEFECT_RATE: defect_rate,
        attr.SCRUM_CUSTOMER_SATISFACTION: satisfaction,
    }
    with command_span(GROUP, "review", attrs, "sprint_reviewed") as span:
        pass
    click.echo(
        f"sprint {sprint} reviewed ({team}): velocity {velocity:g}, defects {defect_rate:g}%"
        f"  trace={trace_id_of(span)}"
    )


@scrum.command("retro")
@click.argument("sprint", type=SPRINT)
@click.option("--team", required=True, type=ENTITY_ID)
@click.option("--improvement", "improvements", multiple=True, type=TEXT, help="Repeatable.")
def retro(sprint: int, team: str, improvements: tuple[str, ...]) -> None:
    """Hold the retrospective of SPRINT."""
    attrs = {**_ids(sprint, team), attr.SCRUM_IMPROVEMENTS: improvements or None}
    with command_span(GROUP, "retro", attrs, "retro_held") as span:
        pass
    click.echo(f"retro of sprint {sprint} held ({team})  trace={trace_id_of(span)}")
