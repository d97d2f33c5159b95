"""`swarmsh rules check|test` through click's runner: exact exit codes and output."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from swarmsh.agents.runner import command_id
from swarmsh.cli import cli
from tests.agents.rules.helpers import write_service_spans
from tests.agents.rules.test_rules_agent import RULEBOOK, errors

REPO = Path(__file__).resolve().parents[2]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_help_of_each_command() -> None:
    for args in (["rules"], ["rules", "check"], ["rules", "test"]):
        code, out, _ = run(*args, "--help")
        assert code == 0 and "Usage: cli rules" in out


def test_check_the_shipped_rulebooks(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("SWARMSH_RULES", raising=False)
    code, out, _ = run("rules", "check")
    assert code == 0
    assert (
        out.splitlines()[0] == "ok  checkout-errors  → swarmsh.lean.define  (reads: http.server.)"
    )
    assert out.splitlines()[-1] == f"4 rule(s) in {REPO / 'rules'}"


def test_check_a_broken_rulebook_exits_2_naming_file_rule_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(RULEBOOK.replace("status: ERROR", "status: BROKEN"))
    code, _, err = run("rules", "check", str(path))
    assert code == 2
    assert f"{path}: rule 'checkout-errors': match.status: 'BROKEN' is no span status" in err


def test_test_replays_a_bus_and_writes_nothing(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    spans = write_service_spans(bus, errors([0, 10, 20, 30, 40, 50]))
    before = bus.read_bytes()
    book = tmp_path / "book.yaml"
    book.write_text(RULEBOOK)
    code, out, err = run("rules", "test", str(book), "--bus", str(bus))
    assert code == 0
    (line,) = out.splitlines()
    assert line == (
        "16:00:40.000  checkout-errors  [service.name=checkout]  count=5  → swarmsh.lean.define "
        "project='incident-checkout' problem='5 errors in /orders'  "
        f"trace={spans[4].trace_id[:8]} links=4"
    )
    assert err.strip() == (
        "1 firing(s); 5 span(s) only advanced a window, 0 throttled, 0 missing a field, "
        "0 unreadable line(s)"
    )
    assert bus.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == [
        "book.yaml",
        "spans.jsonl",
        "spans.jsonl.lock",  # the writer's, from write_service_spans
    ]
    code, out, _ = run("rules", "test", str(book), "--bus", str(bus), "--json")
    (firing,) = [json.loads(x) for x in out.splitlines()]
    assert firing["id"] == command_id("rules", spans[4].span_id, "checkout-errors")
    assert firing["links"] == [{"trace_id": s.trace_id, "span_id": s.span_id} for s in spans[:4]]


def test_test_with_a_missing_bus_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run("rules", "test", str(REPO / "rules"), "--bus", str(tmp_path / "none"))
    assert code == 2 and "does not exist" in err
