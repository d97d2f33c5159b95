"""The registry's bounds become the models' constraints: what a model accepts, a rule can use."""

from __future__ import annotations

import math
from typing import Any

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from swarmsh.bus.records import MAX_DEPTH
from swarmsh.cli.context import ENTITY_ID
from swarmsh.semconv._generated import models as m
from swarmsh.semconv.registry import load

CLOSE = {
    "swarm.agent": "roberts",
    "swarm.trigger": "close",
    "roberts.motion_id": "m",
    "roberts.votes.yes": 5,
    "roberts.votes.no": 2,
    "roberts.votes.abstain": 0,
    "roberts.threshold": "majority",
    "roberts.result": "passed",
}
REVIEW = {
    "swarm.agent": "scrum",
    "swarm.trigger": "review",
    "scrum.sprint_number": 1,
    "scrum.team_id": "t",
    "scrum.velocity": 10.0,
    "scrum.defect_rate": 5.0,
}


@pytest.mark.parametrize(
    ("model", "base", "changes", "problem"),
    [
        (m.SwarmshRobertsCloseAttributes, CLOSE, {"roberts.votes.yes": -1}, "votes.yes"),
        (m.SwarmshRobertsCloseAttributes, CLOSE, {"roberts.votes.no": -3}, "votes.no"),
        (m.SwarmshRobertsCloseAttributes, CLOSE, {"roberts.votes.abstain": -1}, "abstain"),
        (m.SwarmshRobertsCloseAttributes, CLOSE, {"swarm.loop.depth": -1}, "loop.depth"),
        (m.SwarmshRobertsCloseAttributes, CLOSE, {"swarm.loop.depth": 2**64}, "loop.depth"),
        (m.SwarmshRobertsCloseAttributes, CLOSE, {"swarm.loop.depth": MAX_DEPTH}, "loop.depth"),
        (m.SwarmshRobertsCloseAttributes, CLOSE, {"roberts.motion_id": "a b"}, "motion_id"),
        (m.SwarmshRobertsCloseAttributes, CLOSE, {"roberts.motion_id": "../x"}, "motion_id"),
        (m.SwarmshRobertsCloseAttributes, CLOSE, {"roberts.motion_id": "a..b"}, "motion_id"),
        (m.SwarmshRobertsCloseAttributes, CLOSE, {"roberts.motion_id": "-rf"}, "motion_id"),
        (m.SwarmshRobertsCloseAttributes, CLOSE, {"roberts.motion_id": "x" * 129}, "motion_id"),
        (m.SwarmshScrumReviewAttributes, REVIEW, {"scrum.defect_rate": -0.1}, "defect_rate"),
        (m.SwarmshScrumReviewAttributes, REVIEW, {"scrum.defect_rate": 100.5}, "defect_rate"),
        (m.SwarmshScrumReviewAttributes, REVIEW, {"scrum.defect_rate": math.nan}, "defect_rate"),
        (m.SwarmshScrumReviewAttributes, REVIEW, {"scrum.velocity": -1}, "velocity"),
        (m.SwarmshScrumReviewAttributes, REVIEW, {"scrum.velocity": math.inf}, "velocity"),
        (m.SwarmshScrumReviewAttributes, REVIEW, {"scrum.sprint_number": 0}, "sprint_number"),
        (m.SwarmshScrumReviewAttributes, REVIEW, {"scrum.sprint_number": -4}, "sprint_number"),
        (
            m.SwarmshScrumReviewAttributes,
            REVIEW,
            {"scrum.customer_satisfaction": 11},
            "satisfaction",
        ),
    ],
)
def test_the_models_refuse_what_the_registry_bounds(
    model: Any, base: dict[str, Any], changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate({**base, **changes})
    assert problem in str(caught.value)


@pytest.mark.parametrize(
    ("model", "base", "changes"),
    [
        (m.SwarmshRobertsCloseAttributes, CLOSE, {"roberts.votes.yes": 0, "roberts.votes.no": 0}),
        (m.SwarmshRobertsCloseAttributes, CLOSE, {"swarm.loop.depth": MAX_DEPTH - 1}),
        (m.SwarmshRobertsCloseAttributes, CLOSE, {"roberts.motion_id": "a.b:c@d_e-f."}),
        (m.SwarmshRobertsCloseAttributes, CLOSE, {"roberts.motion_id": "x" * 128}),
        (m.SwarmshScrumReviewAttributes, REVIEW, {"scrum.defect_rate": 100}),
        (m.SwarmshScrumReviewAttributes, REVIEW, {"scrum.defect_rate": 0.0}),
        (m.SwarmshScrumReviewAttributes, REVIEW, {"scrum.velocity": 1e300}),
    ],
)
def test_the_bounds_themselves_are_accepted(
    model: Any, base: dict[str, Any], changes: dict[str, Any]
) -> None:
    model.model_validate({**base, **changes})


def test_every_count_and_number_in_the_registry_is_bounded() -> None:
    """A new int or double attribute must say its bounds (or that it needs none)."""
    unbounded = [
        a
        for a, attr in load().attributes.items()
        if attr["type"] in ("int", "double") and "swarmsh" not in attr.get("annotations", {})
    ]
    assert unbounded == []


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(codec="ascii"), min_size=1, max_size=130))
def test_the_models_accept_exactly_the_ids_the_cli_accepts(text: str) -> None:
    try:
        ENTITY_ID.convert(text, None, None)
        cli_ok = True
    except click.BadParameter:
        cli_ok = False
    try:
        m.SwarmshRobertsSecondAttributes.model_validate(
            {"swarm.agent": "roberts", "swarm.trigger": "second", "roberts.motion_id": text}
        )
        model_ok = True
    except ValidationError:
        model_ok = False
    assert model_ok == cli_ok
