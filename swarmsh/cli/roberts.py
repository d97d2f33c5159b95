"""`swarmsh roberts …`: Robert's Rules governance actions (meetings, motions, votes)."""

from __future__ import annotations

import click

from swarmsh.cli.attrs import DomainGroup
from swarmsh.cli.context import ENTITY_ID, TEXT, command_span, trace_id_of, whole
from swarmsh.semconv._generated import attributes as attr
from swarmsh.votes import THRESHOLDS, vote_result

GROUP = "roberts"
KINDS = ("general", "sprint", "process-change")
METHODS = ("voice", "ballot", "roll-call", "show-of-hands")
COUNT = click.IntRange(min=0, max=1_000_000)


@click.group(cls=DomainGroup)
def roberts() -> None:
    """Governance: call meetings to order, open, second, vote on and close motions."""


@roberts.command("call-to-order")
@click.option("--meeting", required=True, type=ENTITY_ID, help="The meeting to open.")
def call_to_order(meeting: str) -> None:
    """Call MEETING to order (it is then in session)."""
    attrs = {attr.ROBERTS_MEETING_ID: meeting}
    with command_span(GROUP, "call-to-order", attrs, "meeting_called_to_order") as span:
        pass
    click.echo(f"meeting {meeting} called to order  trace={trace_id_of(span)}")


@roberts.command("open")
@click.argument("motion", type=ENTITY_ID)
@click.option("--meeting", required=True, type=ENTITY_ID, help="The meeting the motion is in.")
@click.option("--kind", type=click.Choice(KINDS), default="general", show_default=True)
@click.option("--sprint", type=whole(1), help="Sprint number (kind sprint).")
@click.option("--team", type=ENTITY_ID, help="Team (kind sprint).")
@click.option("--project", type=ENTITY_ID, help="Lean project the motion concerns.")
@click.option("--text", type=TEXT, help="The motion's wording.")
def open_motion(
    motion: str,
    meeting: str,
    kind: str,
    sprint: int | None,
    team: str | None,
    project: str | None,
    text: str | None,
) -> None:
    """Open MOTION in MEETING."""
    if kind == "sprint" and (sprint is None or team is None):
        raise click.UsageError("a motion of kind 'sprint' needs --sprint N and --team TEAM")
    attrs = {
        attr.ROBERTS_MOTION_ID: motion,
        attr.ROBERTS_MEETING_ID: meeting,
        attr.ROBERTS_MOTION_KIND: kind,
        attr.ROBERTS_MOTION_TEXT: text,
        attr.SCRUM_SPRINT_NUMBER: sprint,
        attr.SCRUM_TEAM_ID: team,
        attr.LEAN_PROJECT_ID: project,
    }
    with command_span(GROUP, "open", attrs, "motion_opened") as span:
        pass
    click.echo(f"motion {motion} ({kind}) opened in {meeting}  trace={trace_id_of(span)}")


@roberts.command("second")
@click.argument("motion", type=ENTITY_ID)
def second(motion: str) -> None:
    """Second MOTION."""
    with command_span(GROUP, "second", {attr.ROBERTS_MOTION_ID: motion}, "motion_seconded") as span:
        pass
    click.echo(f"motion {motion} seconded  trace={trace_id_of(span)}")


@roberts.command("vote")
@click.argument("motion", type=ENTITY_ID)
@click.option("--method", type=click.Choice(METHODS), default="voice", show_default=True)
def vote(motion: str, method: str) -> None:
    """Call the vote on MOTION."""
    attrs = {attr.ROBERTS_MOTION_ID: motion, attr.ROBERTS_VOTING_METHOD: method}
    with command_span(GROUP, "vote", attrs, "vote_called") as span:
        pass
    click.echo(f"vote on {motion} called ({method})  trace={trace_id_of(span)}")


@roberts.command("close")
@click.argument("motion", type=ENTITY_ID)
@click.option("--yes", "yes", required=True, type=COUNT, help="Votes in favour.")
@click.option("--no", "no", required=True, type=COUNT, help="Votes against.")
@click.option("--abstain", type=COUNT, default=0, show_default=True)
@click.option("--threshold", type=click.Choice(THRESHOLDS), default="majority", show_default=True)
def close(motion: str, yes: int, no: int, abstain: int, threshold: str) -> None:
    """Close the vote on MOTION with its tally; the result follows from the threshold."""
    result = vote_result(yes, no, threshold)
    attrs = {
        attr.ROBERTS_MOTION_ID: motion,
        attr.ROBERTS_VOTES_YES: yes,
        attr.ROBERTS_VOTES_NO: no,
        attr.ROBERTS_VOTES_ABSTAIN: abstain,
        attr.ROBERTS_THRESHOLD: threshold,
        attr.ROBERTS_RESULT: result,
    }
    with command_span(GROUP, "close", attrs, f"motion_{result}") as span:
        pass
    click.echo(f"motion {motion} {result} {yes}-{no}  trace={trace_id_of(span)}")


@roberts.command("adjourn")
@click.option("--meeting", required=True, type=ENTITY_ID, help="The meeting to adjourn.")
def adjourn(meeting: str) -> None:
    """Adjourn MEETING."""
    with command_span(
        GROUP, "adjourn", {attr.ROBERTS_MEETING_ID: meeting}, "meeting_adjourned"
    ) as span:
        pass
    click.echo(f"meeting {meeting} adjourned  trace={trace_id_of(span)}")
