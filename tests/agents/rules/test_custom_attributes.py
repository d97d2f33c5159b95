"""A rulebook matches on attributes given with --attr: names outside the registry validate, and
the typed values compare as numbers, booleans and text through the rules engine."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from swarmsh.bus.records import SpanRecord
from swarmsh.cli import cli
from tests.agents.rules.helpers import fire

RULEBOOK = """
rules:
  - name: valuable-risky-motion
    match:
      span: swarmsh.roberts.open
      attributes:
        business.value: {gte: 3}
        risk.level: [high, critical]
        approval.required: true
    group_by: [business.unit]
    then:
      command: swarmsh.lean.define
      args: {project: "review-{roberts.motion_id}", problem: "risky motion in {business.unit}"}
"""


def cli_spans(home: Path, *attrs: tuple[str, ...]) -> list[SpanRecord]:
    """One `roberts open` per tuple of --attr items, run by the real CLI; the bus read back."""
    runner = CliRunner()
    for i, items in enumerate(attrs):
        argv = ["roberts", "open", f"m{i}", "--meeting", "board"]
        argv += [part for item in items for part in ("--attr", item)]
        result = runner.invoke(cli, argv)
        assert result.exit_code == 0, result.output
    return [SpanRecord.from_json(line) for line in (home / "spans.jsonl").read_bytes().splitlines()]


def test_a_rule_fires_on_custom_attributes_only_when_they_hold(home: Path) -> None:
    base = ("risk.level=high", "approval.required=true", "business.unit=retail")
    spans = cli_spans(
        home,
        ("business.value=5", *base),  # fires
        ("business.value=2", *base),  # below the threshold
        ('business.value="5"', *base),  # text, not a number: no match
        ("business.value=9", "risk.level=low", "approval.required=true"),
        ("business.value=9", "risk.level=critical", "approval.required=false"),
        (
            "business.value=9.5",
            "risk.level=critical",
            "approval.required=true",
            "business.unit=b2b",
        ),
        ("business.value=9", "risk.level=high", "approval.required=true"),  # no group: no match
    )
    firings = fire(RULEBOOK, spans)
    assert [f.record.attributes["roberts.motion_id"] for f in firings] == ["m0", "m5"]
    assert firings[0].args == {"project": "review-m0", "problem": "risky motion in retail"}
    assert [f.group for f in firings] == ["business.unit=retail", "business.unit=b2b"]
