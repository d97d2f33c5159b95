# TEMPORARY hand-written stand-in until the generator lands.
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt


class _Base(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")
    swarm_agent: str = Field(alias="swarm.agent")
    swarm_trigger: str = Field(alias="swarm.trigger")
    swarm_command_id: str | None = Field(default=None, alias="swarm.command.id")
    swarm_loop_depth: StrictInt | None = Field(default=None, alias="swarm.loop.depth")


Num = StrictInt | StrictFloat


class SwarmshRobertsCallToOrderAttributes(_Base):
    roberts_meeting_id: str = Field(alias="roberts.meeting_id")


class SwarmshRobertsAdjournAttributes(_Base):
    roberts_meeting_id: str = Field(alias="roberts.meeting_id")


class SwarmshRobertsOpenAttributes(_Base):
    roberts_motion_id: str = Field(alias="roberts.motion_id")
    roberts_meeting_id: str = Field(alias="roberts.meeting_id")
    roberts_motion_kind: Literal["general", "sprint", "process-change"] = Field(alias="roberts.motion.kind")
    roberts_motion_text: str | None = Field(default=None, alias="roberts.motion.text")
    scrum_sprint_number: StrictInt | None = Field(default=None, alias="scrum.sprint_number")
    scrum_team_id: str | None = Field(default=None, alias="scrum.team_id")
    lean_project_id: str | None = Field(default=None, alias="lean.project_id")


class SwarmshRobertsSecondAttributes(_Base):
    roberts_motion_id: str = Field(alias="roberts.motion_id")


class SwarmshRobertsVoteAttributes(_Base):
    roberts_motion_id: str = Field(alias="roberts.motion_id")
    roberts_voting_method: Literal["voice", "ballot", "roll-call", "show-of-hands"] = Field(alias="roberts.voting_method")


class SwarmshRobertsCloseAttributes(_Base):
    roberts_motion_id: str = Field(alias="roberts.motion_id")
    roberts_votes_yes: StrictInt = Field(alias="roberts.votes.yes")
    roberts_votes_no: StrictInt = Field(alias="roberts.votes.no")
    roberts_votes_abstain: StrictInt = Field(alias="roberts.votes.abstain")
    roberts_threshold: Literal["majority", "two-thirds"] = Field(alias="roberts.threshold")
    roberts_result: Literal["passed", "failed"] = Field(alias="roberts.result")


class _Scrum(_Base):
    scrum_sprint_number: StrictInt = Field(alias="scrum.sprint_number")
    scrum_team_id: str = Field(alias="scrum.team_id")


class SwarmshScrumPlanAttributes(_Scrum):
    scrum_capacity: StrictInt | None = Field(default=None, alias="scrum.capacity")


class SwarmshScrumDailyAttributes(_Scrum):
    scrum_blockers: tuple[str, ...] | None = Field(default=None, alias="scrum.blockers")


class SwarmshScrumReviewAttributes(_Scrum):
    scrum_velocity: Num = Field(alias="scrum.velocity")
    scrum_defect_rate: Num = Field(alias="scrum.defect_rate")
    scrum_customer_satisfaction: Num | None = Field(default=None, alias="scrum.customer_satisfaction")


class SwarmshScrumRetroAttributes(_Scrum):
    scrum_improvements: tuple[str, ...] | None = Field(default=None, alias="scrum.improvements")


class _Lean(_Base):
    lean_project_id: str = Field(alias="lean.project_id")
    lean_phase: Literal["define", "measure", "analyze", "improve", "control"] = Field(alias="lean.phase")


class SwarmshLeanDefineAttributes(_Lean):
    lean_problem_statement: str = Field(alias="lean.problem_statement")
    lean_sponsor: str | None = Field(default=None, alias="lean.sponsor")


class SwarmshLeanMeasureAttributes(_Lean):
    lean_metrics: tuple[str, ...] | None = Field(default=None, alias="lean.metrics")


class SwarmshLeanAnalyzeAttributes(_Lean):
    lean_root_causes: tuple[str, ...] | None = Field(default=None, alias="lean.root_causes")


class SwarmshLeanImproveAttributes(_Lean):
    lean_improvements: tuple[str, ...] | None = Field(default=None, alias="lean.improvements")
    lean_pilot_success: bool | None = Field(default=None, alias="lean.pilot.success")
    lean_savings: Num | None = Field(default=None, alias="lean.savings")


class SwarmshLeanControlAttributes(_Lean):
    lean_process_changes: tuple[str, ...] | None = Field(default=None, alias="lean.process_changes")
