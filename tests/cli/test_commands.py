"""Every CLI command writes exactly one span line to the bus; bad input writes nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from swarmsh.cli import cli
from tests.conftest import read_jsonl

CASES = [
    (
        ["roberts", "call-to-order", "--meeting", "board"],
        "swarmsh.roberts.call-to-order",
        {"roberts.meeting_id": "board"},
        "meeting_called_to_order",
    ),
    (
        [
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
            "--text",
            "Start sprint 42",
        ],
        "swarmsh.roberts.open",
        {
            "roberts.motion_id": "sprint42",
            "roberts.meeting_id": "board",
            "roberts.motion.kind": "sprint",
            "roberts.motion.text": "Start sprint 42",
            "scrum.sprint_number": 42,
            "scrum.team_id": "alpha",
        },
        "motion_opened",
    ),
    (
        ["roberts", "open", "m1", "--meeting", "board", "--project", "p1"],
        "swarmsh.roberts.open",
        {
            "roberts.motion_id": "m1",
            "roberts.meeting_id": "board",
            "roberts.motion.kind": "general",
            "lean.project_id": "p1",
        },
        "motion_opened",
    ),
    (
        ["roberts", "second", "m1"],
        "swarmsh.roberts.second",
        {"roberts.motion_id": "m1"},
        "motion_seconded",
    ),
    (
        ["roberts", "vote", "m1", "--method", "roll-call"],
        "swarmsh.roberts.vote",
        {"roberts.motion_id": "m1", "roberts.voting_method": "roll-call"},
        "vote_called",
    ),
    (
        ["roberts", "close", "m1", "--yes", "5", "--no", "2"],
        "swarmsh.roberts.close",
        {
            "roberts.motion_id": "m1",
            "roberts.votes.yes": 5,
            "roberts.votes.no": 2,
            "roberts.votes.abstain": 0,
            "roberts.threshold": "majority",
            "roberts.result": "passed",
        },
        "motion_passed",
    ),
    (
        [
            "roberts",
            "close",
            "m1",
            "--yes",
            "6",
            "--no",
            "4",
            "--abstain",
            "1",
            "--threshold",
            "two-thirds",
        ],
        "swarmsh.roberts.close",
        {
            "roberts.motion_id": "m1",
            "roberts.votes.yes": 6,
            "roberts.votes.no": 4,
            "roberts.votes.abstain": 1,
            "roberts.threshold": "two-thirds",
            "roberts.result": "failed",
        },
        "motion_failed",
    ),
    (
        ["roberts", "adjourn", "--meeting", "board"],
        "swarmsh.roberts.adjourn",
        {"roberts.meeting_id": "board"},
        "meeting_adjourned",
    ),
    (
        ["scrum", "plan", "42", "--team", "alpha", "--capacity", "40"],
        "swarmsh.scrum.plan",
        {"scrum.sprint_number": 42, "scrum.team_id": "alpha", "scrum.capacity": 40},
        "sprint_planned",
    ),
    (
        [
            "scrum",
            "daily",
            "42",
            "--team",
            "alpha",
            "--blocker",
            "ci down",
            "--blocker",
            "flaky db",
        ],
        "swarmsh.scrum.daily",
        {
            "scrum.sprint_number": 42,
            "scrum.team_id": "alpha",
            "scrum.blockers": ["ci down", "flaky db"],
        },
        "daily_scrum_held",
    ),
    (
        [
            "scrum",
            "review",
            "42",
            "--team",
            "alpha",
            "--velocity",
            "45",
            "--defect-rate",
            "5.2",
            "--satisfaction",
            "8.5",
        ],
        "swarmsh.scrum.review",
        {
            "scrum.sprint_number": 42,
            "scrum.team_id": "alpha",
            "scrum.velocity": 45.0,
            "scrum.defect_rate": 5.2,
            "scrum.customer_satisfaction": 8.5,
        },
        "sprint_reviewed",
    ),
    (
        ["scrum", "retro", "42", "--team", "alpha", "--improvement", "pair review"],
        "swarmsh.scrum.retro",
        {
            "scrum.sprint_number": 42,
            "scrum.team_id": "alpha",
            "scrum.improvements": ["pair review"],
        },
        "retro_held",
    ),
    (
        ["lean", "define", "p1", "--problem", "too many defects", "--sponsor", "scrum"],
        "swarmsh.lean.define",
        {
            "lean.project_id": "p1",
            "lean.phase": "define",
            "lean.problem_statement": "too many defects",
            "lean.sponsor": "scrum",
        },
        "project_defined",
    ),
    (
        ["lean", "measure", "p1", "--metric", "defect_rate=5.2", "--metric", "lead_time=3d"],
        "swarmsh.lean.measure",
        {
            "lean.project_id": "p1",
            "lean.phase": "measure",
            "lean.metrics": ["defect_rate=5.2", "lead_time=3d"],
        },
        "phase_measured",
    ),
    (
        ["lean", "analyze", "p1", "--root-cause", "no review"],
        "swarmsh.lean.analyze",
        {"lean.project_id": "p1", "lean.phase": "analyze", "lean.root_causes": ["no review"]},
        "phase_analyzed",
    ),
    (
        [
            "lean",
            "improve",
            "p1",
            "--improvement",
            "pair review",
            "--pilot-success",
            "--savings",
            "1200.5",
        ],
        "swarmsh.lean.improve",
        {
            "lean.project_id": "p1",
            "lean.phase": "improve",
            "lean.improvements": ["pair review"],
            "lean.pilot.success": True,
            "lean.savings": 1200.5,
        },
        "phase_improved",
    ),
    (
        ["lean", "improve", "p1", "--pilot-failure"],
        "swarmsh.lean.improve",
        {"lean.project_id": "p1", "lean.phase": "improve", "lean.pilot.success": False},
        "phase_improved",
    ),
    (
        ["lean", "control", "p1", "--process-change", "pair review", "--process-change", "CI gate"],
        "swarmsh.lean.control",
        {
            "lean.project_id": "p1",
            "lean.phase": "control",
            "lean.process_changes": ["pair review", "CI gate"],
        },
        "phase_controlled",
    ),
]


@pytest.mark.parametrize(
    ("argv", "name", "domain", "event"), CASES, ids=[" ".join(c[0][:2]) for c in CASES]
)
def test_command_writes_its_span(
    home: Path, argv: list[str], name: str, domain: dict, event: str
) -> None:
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 0, result.output
    [line] = read_jsonl(home / "spans.jsonl")
    group, trigger = name.split(".")[1:]
    assert line["name"] == name
    assert re.fullmatch(r"[0-9a-f]{32}", line["trace_id"])
    assert re.fullmatch(r"[0-9a-f]{16}", line["span_id"])
    assert line["parent_span_id"] is None
    assert line["kind"] == "INTERNAL"
    assert line["status"] == "OK"
    assert line["attributes"] == {"swarm.agent": group, "swarm.trigger": trigger, **domain}
    assert [e["name"] for e in line["events"]] == [event]
    assert line["resource"]["service.name"] == "swarmsh-cli"
    assert line["duration_ms"] >= 0
    assert f"trace={line['trace_id']}" in result.output


BAD = [
    (
        ["scrum", "review", "42", "--team", "alpha", "--velocity", "fast", "--defect-rate", "1"],
        "fast",
    ),
    (["roberts", "close", "m1", "--yes", "-1", "--no", "2"], "-1"),
    (["roberts", "open", "m1", "--meeting", "board", "--kind", "coup"], "coup"),
    (["roberts", "open", "m1"], "--meeting"),
    (["roberts", "open", "m1", "--meeting", "board", "--kind", "sprint"], "--sprint"),
    (["scrum", "plan", "42"], "--team"),
    (["scrum", "plan", "0", "--team", "alpha"], "0"),
    (
        ["scrum", "review", "42", "--team", "alpha", "--velocity", "3", "--defect-rate", "101"],
        "101",
    ),
    (["lean", "define", "../etc/passwd", "--problem", "x"], "not a valid id"),
    (["lean", "define", "p1", "--problem", "x\ny"], "control characters"),
    (["lean", "measure", "p1", "--metric", "novalue"], "NAME=VALUE"),
    (["roberts", "second"], "MOTION"),
    (["roberts", "frobnicate"], "frobnicate"),
]


@pytest.mark.parametrize(("argv", "named"), BAD, ids=[" ".join(b[0]) for b in BAD])
def test_bad_input_is_a_usage_error_and_writes_nothing(
    home: Path, argv: list[str], named: str
) -> None:
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert named in result.output
    assert "Traceback" not in result.output
    assert not (home / "spans.jsonl").exists()


@pytest.mark.parametrize("group", ["roberts", "scrum", "lean", "semconv"])
def test_help_for_every_command(group: str) -> None:
    result = CliRunner().invoke(cli, [group, "--help"])
    assert result.exit_code == 0
    command = cli.get_command(None, group)  # type: ignore[arg-type]
    for name in command.list_commands(None):  # type: ignore[union-attr,arg-type]
        sub = CliRunner().invoke(cli, [group, name, "--help"])
        assert sub.exit_code == 0, sub.output
        assert "Usage:" in sub.output


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert "swarmsh, version" in result.output


def test_files_are_owner_only(home: Path) -> None:
    assert CliRunner().invoke(cli, ["roberts", "second", "m1"]).exit_code == 0
    assert (home.stat().st_mode & 0o777) == 0o700
    assert ((home / "spans.jsonl").stat().st_mode & 0o777) == 0o600
    assert ((home / "spans.jsonl.lock").stat().st_mode & 0o777) == 0o600


def test_spans_append_in_order(home: Path) -> None:
    runner = CliRunner()
    for motion in ("a", "b", "c"):
        assert runner.invoke(cli, ["roberts", "second", motion]).exit_code == 0
    assert [r["attributes"]["roberts.motion_id"] for r in read_jsonl(home / "spans.jsonl")] == [
        "a",
        "b",
        "c",
    ]
