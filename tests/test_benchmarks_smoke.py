"""The benchmark harness works (tiny sizes); the real figures come from `make bench`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
HOP_PARTS = {"to_agent", "to_executor", "execution", "to_watcher", "source_write"}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(out.read_text()), result.stdout


def test_every_row_is_there(smoke: tuple[dict[str, Any], str]) -> None:
    results, stdout = smoke
    assert results["machine"]["mode"] == "smoke"
    rows = {"follower", "skip", "noncompact", "hops", "cli", "writes", "memory", "rules"}
    rows |= {"hops_loaded", "receiver", "shipper"}
    assert set(results) == {"machine", "handled_span", *rows}
    for name in rows:
        assert f"\n{name} " in f"\n{stdout}", name
    assert "wrote" in stdout
    for name in ("follower", "hops", "cli", "memory", "hops_loaded", "receiver", "shipper"):
        assert isinstance(results[name]["met"], bool)


def test_agent_rows(smoke: tuple[dict[str, Any], str]) -> None:
    results, _ = smoke
    assert results["skip"]["reference_bytes_find_lines_per_s"] > 0
    assert results["noncompact"]["agent_runner_non_compact_lines_per_s"] > 0
    assert results["noncompact"]["reference_naive_lines_per_s"] > 0
    rules = results["rules"]
    assert rules["rules_agent_lines_per_s"] > 0 and rules["reference_roberts_agent_lines_per_s"] > 0
    assert rules["rules_counters"]["commands"] > 0 and rules["rules_counters"]["advanced"] > 0
    assert results["follower"]["agent_runner_lines_per_s"] > 0
    assert results["follower"]["reference_naive_lines_per_s"] > 0
    cli = results["cli"]
    assert cli["cli_median_ms"] > cli["reference_python_c_pass_median_ms"] > 0
    assert cli["cli_otlp_collector_down_median_ms"] > cli["reference_python_c_pass_median_ms"]
    assert cli["cli_otlp_collector_hung_median_ms"] > cli["reference_python_c_pass_median_ms"]
    assert results["follower"]["agent_share"] > 0
    assert results["handled_span"]["us_per_handled_span"] > 0
    assert results["writes"]["one_process_spans_per_s"] > 0
    memory = results["memory"]
    # RSS may shrink between samples (the allocator returns pages), so only
    # growth over the second half is bounded, not its sign.
    assert memory["rss_after_half_mb"] > 0 and memory["rss_after_all_mb"] > 0
    assert memory["second_half_growth_mb"] < 5


def test_hop_rows(smoke: tuple[dict[str, Any], str]) -> None:
    results, _ = smoke
    hops = results["hops"]
    assert hops["hops"] == 20 and 0 < hops["median_ms"] <= hops["p99_ms"] <= hops["max_ms"]
    loaded = results["hops_loaded"]
    assert loaded["hops"] == 20 and 0 < loaded["median_ms"] <= loaded["p99_ms"]
    assert loaded["reference_unloaded_median_ms"] > 0
    assert set(loaded["median_parts_ms"]) == HOP_PARTS
    assert loaded["median_parts_ms"]["execution"] > 0
    # the load was real and paced: every span it sent reached the bus, at about its rate
    assert loaded["background_via"] == "receiver"
    assert loaded["background_spans_on_bus"] == loaded["background_spans_sent"] > 0
    assert 1_000 <= loaded["background_spans_per_s"] <= 3_000


def test_receiver_row(smoke: tuple[dict[str, Any], str]) -> None:
    receiver = smoke[0]["receiver"]
    assert receiver["grpc_spans_per_s"] > 0 and receiver["http_spans_per_s"] > 0
    assert receiver["reference_decode_only_spans_per_s"] > receiver["grpc_spans_per_s"]
    assert receiver["grpc_errors"] == receiver["http_errors"] == 0
    assert receiver["bus_lines"] == receiver["spans_acknowledged"] > 0  # none lost
    assert 0 < receiver["rss_peak_mb"]


def test_shipper_row(smoke: tuple[dict[str, Any], str]) -> None:
    shipper = smoke[0]["shipper"]
    assert shipper["reference_encode_only_spans_per_s"] > 0
    for protocol in ("grpc", "http"):
        assert shipper[f"{protocol}_spans_per_s"] > 0
        assert 0 < shipper[f"{protocol}_peak_rss_mb"]
        assert shipper[f"{protocol}_lost"] == shipper[f"{protocol}_outage_lost"] == 0
        before, after = shipper[f"{protocol}_outage_received_before_after"]
        assert before > 0 and after > 0, "the receiver must go away in the middle of the run"
