"""The roberts agent: Robert's Rules motions and meetings (`python -m swarmsh.agents.roberts`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from swarmsh.agents.base import Agent, CommandRequest, EntityState, Outcome, Settings, States
from swarmsh.semconv._generated import models as m
from swarmsh.votes import PASSED, vote_result

IDLE, OPEN, SECONDED, VOTING, PASSED_, FAILED_ = (
    "IDLE",
    "OPEN",
    "SECONDED",
    "VOTING",
    "PASSED",
    "FAILED",
)
# Meetings have their own small machine beside the motions.
NOT_IN_SESSION, CALLING, IN_SESSION = "NOT_IN_SESSION", "CALLING", "IN_SESSION"
RATIFY_MEETING = "board"


def motion_key(motion: str) -> str:
    return f"motion:{motion}"


def meeting_key(meeting: str) -> str:
    return f"meeting:{meeting}"


def _meeting(states: Mapping[str, EntityState], meeting: str) -> EntityState:
    return states.get(meeting_key(meeting)) or EntityState(NOT_IN_SESSION)


def _motion(states: Mapping[str, EntityState], motion: str) -> EntityState:
    return states.get(motion_key(motion)) or EntityState(IDLE)


def call_to_order(
    span: m.SwarmshRobertsCallToOrderAttributes, states: States, settings: Settings
) -> Outcome:
    meeting = _meeting(states, span.roberts_meeting_id)
    if meeting.state == IN_SESSION:
        return Outcome.reject(
            IN_SESSION, f"meeting {span.roberts_meeting_id} is already in session"
        )
    key = meeting_key(span.roberts_meeting_id)
    return Outcome(meeting.state, IN_SESSION, {key: meeting.with_state(IN_SESSION)})


def adjourn(span: m.SwarmshRobertsAdjournAttributes, states: States, settings: Settings) -> Outcome:
    meeting = _meeting(states, span.roberts_meeting_id)
    if meeting.state != IN_SESSION:
        return Outcome.reject(meeting.state, f"meeting {span.roberts_meeting_id} is not in session")
    key = meeting_key(span.roberts_meeting_id)
    return Outcome(IN_SESSION, NOT_IN_SESSION, {key: meeting.with_state(NOT_IN_SESSION)})


def open_motion(
    span: m.SwarmshRobertsOpenAttributes, states: States, settings: Settings
) -> Outcome:
    motion = _motion(states, span.roberts_motion_id)
    if motion.state != IDLE:
        return Outcome.reject(
            motion.state, f"motion {span.roberts_motion_id} is already {motion.state}"
        )
    opened = EntityState(IDLE).with_state(
        OPEN,
        kind=span.roberts_motion_kind,
        meeting=span.roberts_meeting_id,
        sprint=span.scrum_sprint_number,
        team=span.scrum_team_id,
        project=span.lean_project_id,
    )
    updates = {motion_key(span.roberts_motion_id): opened}
    commands: tuple[CommandRequest, ...] = ()
    meeting = _meeting(states, span.roberts_meeting_id)
    if meeting.state == NOT_IN_SESSION:
        # A motion needs a meeting in session: ask for it once (CALLING until the span comes back).
        updates[meeting_key(span.roberts_meeting_id)] = meeting.with_state(CALLING)
        commands = (
            CommandRequest(
                rule="call-to-order",
                command="swarmsh.roberts.call-to-order",
                args={"meeting": span.roberts_meeting_id},
                reason=f"motion {span.roberts_motion_id} opened in {span.roberts_meeting_id}, "
                "which is not in session",
            ),
        )
    return Outcome(IDLE, OPEN, updates, commands)


def _step(expected: str, to: str):  # type: ignore[no-untyped-def]
    def rule(span: Any, states: Mapping[str, EntityState], settings: Settings) -> Outcome:
        motion = _motion(states, span.roberts_motion_id)
        if motion.state != expected:
            return Outcome.reject(
                motion.state,
                f"motion {span.roberts_motion_id} is {motion.state}, not {expected}",
            )
        return Outcome(expected, to, {motion_key(span.roberts_motion_id): motion.with_state(to)})

    return rule


def close(span: m.SwarmshRobertsCloseAttributes, states: States, settings: Settings) -> Outcome:
    motion = _motion(states, span.roberts_motion_id)
    if motion.state != VOTING:
        return Outcome.reject(
            motion.state, f"motion {span.roberts_motion_id} is {motion.state}, not VOTING"
        )
    yes, no = span.roberts_votes_yes, span.roberts_votes_no
    result = vote_result(yes, no, span.roberts_threshold)  # our own count, not the span's word
    to = PASSED_ if result == PASSED else FAILED_
    closed = motion.with_state(to, yes=yes, no=no, threshold=span.roberts_threshold)
    commands: tuple[CommandRequest, ...] = ()
    data = motion.data
    if to == PASSED_ and data.get("kind") == "sprint" and data.get("sprint") and data.get("team"):
        commands = (
            CommandRequest(
                rule="sprint-plan",
                command="swarmsh.scrum.plan",
                args={"sprint": data["sprint"], "team": data["team"]},
                reason=f"motion {span.roberts_motion_id} passed {yes}-{no}",
            ),
        )
    return Outcome(VOTING, to, {motion_key(span.roberts_motion_id): closed}, commands)


def _keys_meeting(span: Any) -> tuple[str, ...]:
    return (meeting_key(span.roberts_meeting_id),)


def _keys_motion(span: Any) -> tuple[str, ...]:
    return (motion_key(span.roberts_motion_id),)


def _keys_open(span: Any) -> tuple[str, ...]:
    return (motion_key(span.roberts_motion_id), meeting_key(span.roberts_meeting_id))


def _describe(span: Any) -> dict[str, Any]:
    # The model's fields by name: a getattr on a field its type lacks goes through pydantic's
    # __getattr__ and an exception (≈ 2 µs a handled span).
    fields = vars(span)
    out = {}
    if fields.get("roberts_motion_id"):
        out["roberts.motion_id"] = fields["roberts_motion_id"]
    if fields.get("roberts_meeting_id"):
        out["roberts.meeting_id"] = fields["roberts_meeting_id"]
    return out


AGENT = Agent(
    name="roberts",
    prefix="swarmsh.roberts.",
    initial_state=IDLE,
    states=(IDLE, OPEN, SECONDED, VOTING, PASSED_, FAILED_, NOT_IN_SESSION, CALLING, IN_SESSION),
    final_states=frozenset({PASSED_, FAILED_, NOT_IN_SESSION}),
    models={
        "call-to-order": m.SwarmshRobertsCallToOrderAttributes,
        "open": m.SwarmshRobertsOpenAttributes,
        "second": m.SwarmshRobertsSecondAttributes,
        "vote": m.SwarmshRobertsVoteAttributes,
        "close": m.SwarmshRobertsCloseAttributes,
        "adjourn": m.SwarmshRobertsAdjournAttributes,
    },
    keys={
        "call-to-order": _keys_meeting,
        "open": _keys_open,
        "second": _keys_motion,
        "vote": _keys_motion,
        "close": _keys_motion,
        "adjourn": _keys_meeting,
    },
    rules={
        "call-to-order": call_to_order,
        "open": open_motion,
        "second": _step(OPEN, SECONDED),
        "vote": _step(SECONDED, VOTING),
        "close": close,
        "adjourn": adjourn,
    },
    describe=_describe,
)

if __name__ == "__main__":
    from swarmsh.agents.runner import main

    main(AGENT)
