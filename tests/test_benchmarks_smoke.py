"""The benchmark harness works (tiny sizes); the real figures come from `make bench`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    results = json.loads(out.read_text())
    assert results["machine"]["mode"] == "smoke"
    assert set(results) == {
        "machine",
        "follower",
        "skip",
        "noncompact",
        "hops",
        "cli",
        "writes",
        "memory",
        "rules",
    }
    assert results["skip"]["reference_bytes_find_lines_per_s"] > 0
    assert results["noncompact"]["agent_runner_non_compact_lines_per_s"] > 0
    rules = results["rules"]
    assert rules["rules_agent_lines_per_s"] > 0 and rules["reference_roberts_agent_lines_per_s"] > 0
    assert rules["rules_counters"]["commands"] > 0 and rules["rules_counters"]["advanced"] > 0
    assert results["follower"]["agent_runner_lines_per_s"] > 0
    assert results["follower"]["reference_naive_lines_per_s"] > 0
    assert (
        results["hops"]["hops"] == 20
        and 0 < results["hops"]["median_ms"] <= results["hops"]["p99_ms"]
    )
    assert results["cli"]["cli_median_ms"] > results["cli"]["reference_python_c_pass_median_ms"] > 0
    assert results["writes"]["one_process_spans_per_s"] > 0
    memory = results["memory"]
    # RSS may shrink between samples (the allocator returns pages), so only
    # growth over the second half is bounded, not its sign.
    assert memory["rss_after_half_mb"] > 0 and memory["rss_after_all_mb"] > 0
    assert memory["second_half_growth_mb"] < 5
    for name in ("follower", "hops", "cli", "memory"):
        assert isinstance(results[name]["met"], bool)
    assert "follower" in result.stdout and "wrote" in result.stdout
