"""`swarmsh trace --format mermaid|dot|json`: real CLI spans and a hostile one, parsed back."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from swarmsh.cli import cli
from tests.conftest import read_jsonl
from tests.ops.test_tail_trace import scenario

HOSTILE = 'evil"]\n}; x --> y[<b>pwn</b>] \\" \u202e|#;'


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def trace_id(home: Path) -> str:
    """The trace of `roberts close s1` (CLI span + the agent's loop span), plus a hostile
    child whose name and attributes try to break out of every format."""
    scenario(home)
    close = next(
        r
        for r in read_jsonl(home / "spans.jsonl")
        if r["attributes"].get("roberts.motion_id") == "s1" and r["name"] == "swarmsh.roberts.close"
    )
    hostile = {
        **close,
        "span_id": "3" * 16,
        "parent_span_id": close["span_id"],
        "name": HOSTILE,
        "status": "ERROR",
        "timestamp": close["timestamp"] + 0.5,
        "attributes": {"k": HOSTILE},
    }
    with open(home / "spans.jsonl", "a") as fh:
        fh.write(json.dumps(hostile) + "\n")
    return close["trace_id"]


def test_json_is_a_tree_with_children_attributes_status_and_times(trace_id: str) -> None:
    doc = json.loads(run("trace", trace_id, "--format", "json"))
    assert doc["trace_id"] == trace_id
    (root,) = doc["roots"]
    assert root["name"] == "swarmsh.roberts.close" and root["status"] == "OK"
    assert root["attributes"]["roberts.motion_id"] == "s1"
    assert root["end"] >= root["start"] and root["duration_ms"] >= 0
    names = [c["name"] for c in root["children"]]
    assert names == ["swarm.loop.iteration", HOSTILE]  # by start time; raw in JSON
    assert root["children"][1]["attributes"]["k"] == HOSTILE


def test_mermaid_labels_cannot_break_the_graph(trace_id: str) -> None:
    out = run("trace", trace_id, "--format", "mermaid")
    lines = out.splitlines()
    assert lines[0] == "flowchart TD"
    nodes = [line for line in lines[1:] if re.fullmatch(r'    s[0-9a-f]{16}\["[^"\n]*"\]', line)]
    edges = [
        line for line in lines[1:] if re.fullmatch(r"    s[0-9a-f]{16} --> s[0-9a-f]{16}", line)
    ]
    styles = [line for line in lines[1:] if line.startswith(("    classDef ", "    class "))]
    assert len(nodes) == 3 and len(edges) == 2 and len(styles) == 2
    assert len(nodes) + len(edges) + len(styles) == len(lines) - 1  # nothing else got in
    assert "swarmsh.roberts.close<br/>cli<br/>OK<br/>" in out
    assert f"class s{'3' * 16} error" in out
    assert "#34;" in out and "<b>" not in out and "\u202e" not in out


def _dot_tokens_balanced(text: str) -> None:
    """Outside quoted strings braces balance; every quote is closed; escapes are whole."""
    depth, i, in_quote = 0, 0, False
    while i < len(text):
        c = text[i]
        if in_quote:
            if c == "\\":
                i += 1
            elif c == '"':
                in_quote = False
            elif c == "\n":
                raise AssertionError("newline inside a quoted string")
        elif c == '"':
            in_quote = True
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            assert depth >= 0
        i += 1
    assert not in_quote and depth == 0


def test_dot_is_valid_with_hostile_labels(trace_id: str, tmp_path: Path) -> None:
    out = run("trace", trace_id, "--format", "dot")
    assert out.startswith(f'digraph "trace {trace_id}" {{')
    _dot_tokens_balanced(out)
    statements = out.strip().splitlines()[2:-1]
    assert sum(" -> " in s for s in statements) == 2
    assert all(s.endswith(";") for s in statements)
    assert "\u202e" not in out and 'evil\\"]' in out
    if shutil.which("dot"):  # graphviz is not a dependency: used when it is there
        svg = subprocess.run(["dot", "-Tsvg"], input=out, capture_output=True, text=True)
        assert svg.returncode == 0, svg.stderr


def test_text_stays_the_default_and_json_flag_excludes_format(trace_id: str) -> None:
    assert run("trace", trace_id).startswith(f"trace {trace_id}  (3 spans)")
    result = CliRunner().invoke(cli, ["trace", trace_id, "--json", "--format", "dot"])
    assert result.exit_code == 2
