"""The whole loop under a real supervisord: governance → delivery → optimization → governance."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from swarmsh.bus.records import SpanRecord
from tests.e2e.swarm import PROGRAMS, Swarm, running_swarm

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def swarm() -> Iterator[Swarm]:
    with running_swarm() as s:
        yield s


def cli(swarm: Swarm, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "swarmsh", *args],
        env=swarm.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result


def last(swarm: Swarm, name: str, **attrs: object) -> dict:
    matches = [
        s
        for s in swarm.spans()
        if s["name"] == name and all(s["attributes"].get(k) == v for k, v in attrs.items())
    ]
    assert matches, f"no {name} {attrs}"
    return matches[-1]


def has(name: str, trace_id: str, **attrs: object):  # type: ignore[no-untyped-def]
    def match(r: SpanRecord) -> bool:
        return (
            r.name == name
            and r.trace_id == trace_id
            and all(r.attributes.get(k) == v for k, v in attrs.items())
        )

    return match


def chain(swarm: Swarm, leaf: dict) -> list[str]:
    """Span names from the root of `leaf`'s trace down to `leaf`."""
    by_id = {s["span_id"]: s for s in swarm.spans() if s["trace_id"] == leaf["trace_id"]}
    names, node = [], leaf
    while node is not None:
        names.append(node["name"])
        node = by_id.get(node["parent_span_id"]) if node["parent_span_id"] else None
    return names[::-1]


def all_running(swarm: Swarm) -> bool:
    return all(info["statename"] == "RUNNING" for info in swarm.states().values())


def test_the_loop_closes_in_one_trace_per_hop(swarm: Swarm) -> None:
    # 1. opening a motion in a meeting not in session makes roberts call it to order
    cli(
        swarm,
        "roberts",
        "open",
        "sprint42",
        "--kind",
        "sprint",
        "--sprint",
        "42",
        "--team",
        "alpha",
        "--meeting",
        "board",
    )
    opened = last(swarm, "swarmsh.roberts.open", **{"roberts.motion_id": "sprint42"})
    call = swarm.wait_for(
        has("swarmsh.roberts.call-to-order", opened["trace_id"], **{"roberts.meeting_id": "board"}),
        what="call-to-order",
    )
    assert call.attributes["swarm.command.id"]
    assert all_running(swarm)

    # 2. a passed sprint motion starts sprint planning, in the trace of the close
    cli(swarm, "roberts", "second", "sprint42")
    cli(swarm, "roberts", "vote", "sprint42")
    cli(swarm, "roberts", "close", "sprint42", "--yes", "5", "--no", "2")
    close = last(swarm, "swarmsh.roberts.close", **{"roberts.motion_id": "sprint42"})
    assert close["attributes"]["roberts.result"] == "passed"
    plan = swarm.wait_for(
        has(
            "swarmsh.scrum.plan",
            close["trace_id"],
            **{"scrum.sprint_number": 42, "scrum.team_id": "alpha"},
        ),
        what="scrum plan",
    )
    assert chain(swarm, plan.to_dict()) == [
        "swarmsh.roberts.close",
        "swarm.loop.iteration",
        "swarmsh.command.execute",
        "swarmsh.scrum.plan",
    ]
    assert all_running(swarm)

    # 3. a review with too many defects starts a lean project
    cli(
        swarm,
        "scrum",
        "review",
        "42",
        "--team",
        "alpha",
        "--velocity",
        "45",
        "--defect-rate",
        "5.2",
    )
    review = last(swarm, "swarmsh.scrum.review", **{"scrum.sprint_number": 42})
    define = swarm.wait_for(
        has("swarmsh.lean.define", review["trace_id"], **{"lean.project_id": "defect-alpha-42"}),
        what="lean define",
    )
    assert "5.2%" in define.attributes["lean.problem_statement"]
    assert define.attributes["lean.sponsor"] == "scrum"

    # 4. DMAIC, then a process change goes back to governance
    project = "defect-alpha-42"
    cli(swarm, "lean", "measure", project, "--metric", "defect_rate=5.2")
    cli(swarm, "lean", "analyze", project, "--root-cause", "no second reviewer")
    cli(swarm, "lean", "improve", project, "--improvement", "pair review", "--pilot-success")
    cli(swarm, "lean", "control", project, "--process-change", "pair review")
    control = last(swarm, "swarmsh.lean.control", **{"lean.project_id": project})
    ratify = swarm.wait_for(
        has(
            "swarmsh.roberts.open",
            control["trace_id"],
            **{"roberts.motion_id": f"ratify-{project}"},
        ),
        what="ratification motion",
    )
    assert ratify.attributes["roberts.motion.kind"] == "process-change"
    assert ratify.attributes["roberts.meeting_id"] == "board"
    assert chain(swarm, ratify.to_dict())[0] == "swarmsh.lean.control"

    # 5. every daemon ran throughout; each hop's iteration span is OK
    assert all_running(swarm)
    iterations = [s for s in swarm.spans() if s["name"] == "swarm.loop.iteration"]
    assert iterations and all(s["status"] == "OK" for s in iterations)


def test_rejected_transition_is_an_error_span_and_the_agent_goes_on(swarm: Swarm) -> None:
    cli(swarm, "roberts", "close", "never-opened", "--yes", "1", "--no", "0")
    close = last(swarm, "swarmsh.roberts.close", **{"roberts.motion_id": "never-opened"})
    rejected = swarm.wait_for(
        lambda r: r.name == "swarm.loop.iteration" and r.parent_span_id == close["span_id"],
        what="rejected iteration",
    )
    assert rejected.status == "ERROR"
    assert "never-opened" in rejected.attributes["swarm.rejection.reason"]
    assert all_running(swarm)


def test_supervisorctl_stop_is_graceful(swarm: Swarm) -> None:
    status = swarm.ctl("status")
    assert status.returncode == 0, status.stdout
    for name in PROGRAMS:
        assert f"swarm:{name}" in status.stdout and "RUNNING" in status.stdout
    stopped = swarm.ctl("stop", "swarm:*")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    infos = swarm.states()
    for name in PROGRAMS:
        assert infos[name]["statename"] == "STOPPED"
        assert infos[name]["exitstatus"] == 0, f"{name} exited {infos[name]['exitstatus']}"
    log = (swarm.base / "var" / "supervisord.log").read_text()
    assert "SIGKILL" not in log
    assert swarm.ctl("start", "swarm:*").returncode == 0
    swarm.wait_running()
