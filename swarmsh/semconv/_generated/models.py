"""Typed attributes of every swarmsh span (pydantic models, keyed by span name).

Generated from semconv_registry/ by `python -m swarmsh.semconv.generate`: do not edit.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

Number = StrictInt | StrictFloat


class SpanAttributes(BaseModel):
    """Attributes of one span, by their registry names (aliases); unknown ones are ignored."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class SwarmLoopIterationAttributes(SpanAttributes):
    """An agent handled one span: its transition and the command it asked for."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_trigger: StrictStr = Field(alias="swarm.trigger")
    swarm_state_from: StrictStr = Field(alias="swarm.state.from")
    swarm_state_to: StrictStr = Field(alias="swarm.state.to")
    swarm_command: StrictStr | None = Field(default=None, alias="swarm.command")
    swarm_command_id: StrictStr | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")
    swarm_rejection_reason: StrictStr | None = Field(default=None, alias="swarm.rejection.reason")
    swarm_rule_name: StrictStr | None = Field(default=None, alias="swarm.rule.name")
    swarm_rule_group: StrictStr | None = Field(default=None, alias="swarm.rule.group")
    swarm_rule_count: Annotated[StrictInt, Field(ge=1, le=1000)] | None = Field(default=None, alias="swarm.rule.count")
    roberts_motion_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] | None = Field(default=None, alias="roberts.motion_id")
    roberts_meeting_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] | None = Field(default=None, alias="roberts.meeting_id")
    scrum_sprint_number: Annotated[StrictInt, Field(ge=1, le=9223372036854775807)] | None = Field(default=None, alias="scrum.sprint_number")
    scrum_team_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] | None = Field(default=None, alias="scrum.team_id")
    lean_project_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] | None = Field(default=None, alias="lean.project_id")


class SwarmshCommandExecuteAttributes(SpanAttributes):
    """The executor runs a NextCommand; the CLI command's span is its child."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_command: StrictStr = Field(alias="swarm.command")
    swarm_command_id: StrictStr = Field(alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] = Field(alias="swarm.loop.depth")
    swarm_command_attempt: Annotated[StrictInt, Field(ge=1, le=9223372036854775807)] | None = Field(default=None, alias="swarm.command.attempt")
    swarm_command_outcome: Literal["executed", "failed", "refused", "deadlettered", "duplicate"] | None = Field(default=None, alias="swarm.command.outcome")


class SwarmshCommandRejectedAttributes(SpanAttributes):
    """The executor refused a NextCommand."""

    swarm_command: StrictStr = Field(alias="swarm.command")
    swarm_command_id: StrictStr = Field(alias="swarm.command.id")
    swarm_rejection_reason: StrictStr = Field(alias="swarm.rejection.reason")
    swarm_agent: StrictStr | None = Field(default=None, alias="swarm.agent")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")


class SwarmshLeanAnalyzeAttributes(SpanAttributes):
    """A project's root causes are analysed."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_trigger: StrictStr = Field(alias="swarm.trigger")
    lean_project_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] = Field(alias="lean.project_id")
    lean_phase: Literal["define", "measure", "analyze", "improve", "control"] = Field(alias="lean.phase")
    lean_root_causes: tuple[StrictStr, ...] | None = Field(default=None, alias="lean.root_causes")
    swarm_command_id: StrictStr | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")


class SwarmshLeanControlAttributes(SpanAttributes):
    """A project's control plan is set."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_trigger: StrictStr = Field(alias="swarm.trigger")
    lean_project_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] = Field(alias="lean.project_id")
    lean_phase: Literal["define", "measure", "analyze", "improve", "control"] = Field(alias="lean.phase")
    lean_process_changes: tuple[StrictStr, ...] | None = Field(default=None, alias="lean.process_changes")
    swarm_command_id: StrictStr | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")


class SwarmshLeanDefineAttributes(SpanAttributes):
    """A DMAIC project is defined."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_trigger: StrictStr = Field(alias="swarm.trigger")
    lean_project_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] = Field(alias="lean.project_id")
    lean_problem_statement: StrictStr = Field(alias="lean.problem_statement")
    lean_phase: Literal["define", "measure", "analyze", "improve", "control"] = Field(alias="lean.phase")
    lean_sponsor: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] | None = Field(default=None, alias="lean.sponsor")
    swarm_command_id: StrictStr | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")


class SwarmshLeanImproveAttributes(SpanAttributes):
    """A project's improvement is piloted."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_trigger: StrictStr = Field(alias="swarm.trigger")
    lean_project_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] = Field(alias="lean.project_id")
    lean_phase: Literal["define", "measure", "analyze", "improve", "control"] = Field(alias="lean.phase")
    lean_improvements: tuple[StrictStr, ...] | None = Field(default=None, alias="lean.improvements")
    lean_pilot_success: StrictBool | None = Field(default=None, alias="lean.pilot.success")
    lean_savings: Annotated[Number, Field(ge=0, allow_inf_nan=False)] | None = Field(default=None, alias="lean.savings")
    swarm_command_id: StrictStr | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")


class SwarmshLeanMeasureAttributes(SpanAttributes):
    """A project's baseline is measured."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_trigger: StrictStr = Field(alias="swarm.trigger")
    lean_project_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] = Field(alias="lean.project_id")
    lean_phase: Literal["define", "measure", "analyze", "improve", "control"] = Field(alias="lean.phase")
    lean_metrics: tuple[StrictStr, ...] | None = Field(default=None, alias="lean.metrics")
    swarm_command_id: StrictStr | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")


class SwarmshRobertsAdjournAttributes(SpanAttributes):
    """A meeting is adjourned."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_trigger: StrictStr = Field(alias="swarm.trigger")
    roberts_meeting_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] = Field(alias="roberts.meeting_id")
    swarm_command_id: StrictStr | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")


class SwarmshRobertsCallToOrderAttributes(SpanAttributes):
    """A meeting is called to order."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_trigger: StrictStr = Field(alias="swarm.trigger")
    roberts_meeting_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] = Field(alias="roberts.meeting_id")
    swarm_command_id: StrictStr | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")


class SwarmshRobertsCloseAttributes(SpanAttributes):
    """The vote on a motion is closed with its tally and result."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_trigger: StrictStr = Field(alias="swarm.trigger")
    roberts_motion_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] = Field(alias="roberts.motion_id")
    roberts_votes_yes: Annotated[StrictInt, Field(ge=0, le=9223372036854775807)] = Field(alias="roberts.votes.yes")
    roberts_votes_no: Annotated[StrictInt, Field(ge=0, le=9223372036854775807)] = Field(alias="roberts.votes.no")
    roberts_votes_abstain: Annotated[StrictInt, Field(ge=0, le=9223372036854775807)] = Field(alias="roberts.votes.abstain")
    roberts_threshold: Literal["majority", "two-thirds"] = Field(alias="roberts.threshold")
    roberts_result: Literal["passed", "failed"] = Field(alias="roberts.result")
    swarm_command_id: StrictStr | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")


class SwarmshRobertsOpenAttributes(SpanAttributes):
    """A motion is opened in a meeting."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_trigger: StrictStr = Field(alias="swarm.trigger")
    roberts_motion_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] = Field(alias="roberts.motion_id")
    roberts_meeting_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] = Field(alias="roberts.meeting_id")
    roberts_motion_kind: Literal["general", "sprint", "process-change"] = Field(alias="roberts.motion.kind")
    roberts_motion_text: StrictStr | None = Field(default=None, alias="roberts.motion.text")
    scrum_sprint_number: Annotated[StrictInt, Field(ge=1, le=9223372036854775807)] | None = Field(default=None, alias="scrum.sprint_number")
    scrum_team_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] | None = Field(default=None, alias="scrum.team_id")
    lean_project_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] | None = Field(default=None, alias="lean.project_id")
    swarm_command_id: StrictStr | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")


class SwarmshRobertsSecondAttributes(SpanAttributes):
    """A motion is seconded."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_trigger: StrictStr = Field(alias="swarm.trigger")
    roberts_motion_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] = Field(alias="roberts.motion_id")
    swarm_command_id: StrictStr | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")


class SwarmshRobertsVoteAttributes(SpanAttributes):
    """The vote on a motion is called."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_trigger: StrictStr = Field(alias="swarm.trigger")
    roberts_motion_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] = Field(alias="roberts.motion_id")
    roberts_voting_method: Literal["voice", "ballot", "roll-call", "show-of-hands"] = Field(alias="roberts.voting_method")
    swarm_command_id: StrictStr | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")


class SwarmshRunAttributes(SpanAttributes):
    """`swarmsh run` ran a program; status ERROR when it exited non-zero, was killed by a signal or could not be started. `--name` replaces the span name; the attributes stay these."""

    process_command: Annotated[StrictStr, Field(max_length=1000)] = Field(alias="process.command")
    process_command_args: tuple[Annotated[StrictStr, Field(max_length=1000)], ...] = Field(alias="process.command_args")
    process_executable_name: Annotated[StrictStr, Field(max_length=255)] = Field(alias="process.executable.name")
    process_exit_code: Annotated[StrictInt, Field(ge=0, le=255)] = Field(alias="process.exit.code")
    process_pid: Annotated[StrictInt, Field(ge=1, le=2147483647)] | None = Field(default=None, alias="process.pid")
    swarm_run_signal: StrictStr | None = Field(default=None, alias="swarm.run.signal")


class SwarmshScrumDailyAttributes(SpanAttributes):
    """A daily scrum is held."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_trigger: StrictStr = Field(alias="swarm.trigger")
    scrum_sprint_number: Annotated[StrictInt, Field(ge=1, le=9223372036854775807)] = Field(alias="scrum.sprint_number")
    scrum_team_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] = Field(alias="scrum.team_id")
    scrum_blockers: tuple[StrictStr, ...] | None = Field(default=None, alias="scrum.blockers")
    swarm_command_id: StrictStr | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")


class SwarmshScrumPlanAttributes(SpanAttributes):
    """A sprint is planned."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_trigger: StrictStr = Field(alias="swarm.trigger")
    scrum_sprint_number: Annotated[StrictInt, Field(ge=1, le=9223372036854775807)] = Field(alias="scrum.sprint_number")
    scrum_team_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] = Field(alias="scrum.team_id")
    scrum_capacity: Annotated[StrictInt, Field(ge=0, le=9223372036854775807)] | None = Field(default=None, alias="scrum.capacity")
    swarm_command_id: StrictStr | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")


class SwarmshScrumRetroAttributes(SpanAttributes):
    """A retrospective is held."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_trigger: StrictStr = Field(alias="swarm.trigger")
    scrum_sprint_number: Annotated[StrictInt, Field(ge=1, le=9223372036854775807)] = Field(alias="scrum.sprint_number")
    scrum_team_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] = Field(alias="scrum.team_id")
    scrum_improvements: tuple[StrictStr, ...] | None = Field(default=None, alias="scrum.improvements")
    swarm_command_id: StrictStr | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")


class SwarmshScrumReviewAttributes(SpanAttributes):
    """A sprint is reviewed."""

    swarm_agent: StrictStr = Field(alias="swarm.agent")
    swarm_trigger: StrictStr = Field(alias="swarm.trigger")
    scrum_sprint_number: Annotated[StrictInt, Field(ge=1, le=9223372036854775807)] = Field(alias="scrum.sprint_number")
    scrum_team_id: Annotated[StrictStr, Field(pattern='^[A-Za-z0-9](?:\\.?[A-Za-z0-9_:@-])*\\.?$', max_length=128)] = Field(alias="scrum.team_id")
    scrum_velocity: Annotated[Number, Field(ge=0, allow_inf_nan=False)] = Field(alias="scrum.velocity")
    scrum_defect_rate: Annotated[Number, Field(ge=0, le=100, allow_inf_nan=False)] = Field(alias="scrum.defect_rate")
    scrum_customer_satisfaction: Annotated[Number, Field(ge=0, le=10, allow_inf_nan=False)] | None = Field(default=None, alias="scrum.customer_satisfaction")
    swarm_command_id: StrictStr | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: Annotated[StrictInt, Field(ge=0, le=999999)] | None = Field(default=None, alias="swarm.loop.depth")


SPAN_MODELS: dict[str, type[SpanAttributes]] = {
    "swarm.loop.iteration": SwarmLoopIterationAttributes,
    "swarmsh.command.execute": SwarmshCommandExecuteAttributes,
    "swarmsh.command.rejected": SwarmshCommandRejectedAttributes,
    "swarmsh.lean.analyze": SwarmshLeanAnalyzeAttributes,
    "swarmsh.lean.control": SwarmshLeanControlAttributes,
    "swarmsh.lean.define": SwarmshLeanDefineAttributes,
    "swarmsh.lean.improve": SwarmshLeanImproveAttributes,
    "swarmsh.lean.measure": SwarmshLeanMeasureAttributes,
    "swarmsh.roberts.adjourn": SwarmshRobertsAdjournAttributes,
    "swarmsh.roberts.call-to-order": SwarmshRobertsCallToOrderAttributes,
    "swarmsh.roberts.close": SwarmshRobertsCloseAttributes,
    "swarmsh.roberts.open": SwarmshRobertsOpenAttributes,
    "swarmsh.roberts.second": SwarmshRobertsSecondAttributes,
    "swarmsh.roberts.vote": SwarmshRobertsVoteAttributes,
    "swarmsh.run": SwarmshRunAttributes,
    "swarmsh.scrum.daily": SwarmshScrumDailyAttributes,
    "swarmsh.scrum.plan": SwarmshScrumPlanAttributes,
    "swarmsh.scrum.retro": SwarmshScrumRetroAttributes,
    "swarmsh.scrum.review": SwarmshScrumReviewAttributes,
}


def from_attributes(span_name: str, attributes: dict[str, Any]) -> SpanAttributes:
    """Validate `attributes` against the model of `span_name` (KeyError if there is none)."""
    return SPAN_MODELS[span_name].model_validate(attributes)
