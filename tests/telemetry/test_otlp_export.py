"""The CLI exports over OTLP (gRPC and HTTP) to real receivers; a bad collector never hurts it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import read_jsonl
from tests.otlp_receivers import BlackholeServer, GrpcOtlpReceiver, HttpOtlpReceiver, unused_port

ARGS = ["roberts", "open", "m1", "--meeting", "board"]


def swarmsh(
    home: Path, env: dict[str, str], *args: str
) -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "swarmsh", *args],
        env={**os.environ, "SWARMSH_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, time.monotonic() - began


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_cli_span_and_metrics_reach_the_collector(
    home: Path, protocol: str, otlp_grpc: GrpcOtlpReceiver, otlp_http: HttpOtlpReceiver
) -> None:
    receiver = otlp_grpc if protocol == "grpc" else otlp_http
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
    }
    result, _ = swarmsh(home, env, *ARGS)
    assert result.returncode == 0, result.stderr
    [line] = read_jsonl(home / "spans.jsonl")
    [span] = receiver.wait_for_spans(1, timeout=10)
    assert span["name"] == "swarmsh.roberts.open"
    assert (span["trace_id"], span["span_id"]) == (line["trace_id"], line["span_id"])
    assert span["attributes"] == line["attributes"]
    assert span["resource"]["service.name"] == "swarmsh-cli"
    assert span["status_code"] == "OK"
    assert "swarm.spans.total" in receiver.wait_for_metrics({"swarm.spans.total"}, timeout=10)


def test_otlp_flag_and_service_name(home: Path, otlp_grpc: GrpcOtlpReceiver) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": otlp_grpc.endpoint,
        "OTEL_SERVICE_NAME": "ops-shell",
        "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test",
    }
    result, _ = swarmsh(home, env, *ARGS)
    assert result.returncode == 0, result.stderr
    [span] = otlp_grpc.wait_for_spans(1, timeout=10)
    assert span["resource"]["service.name"] == "ops-shell"
    assert span["resource"]["deployment.environment"] == "test"
    result, _ = swarmsh(home, env, "--no-otlp", "roberts", "second", "m1")
    assert result.returncode == 0
    assert len(read_jsonl(home / "spans.jsonl")) == 2
    time.sleep(0.5)  # give a wrongly exported span the chance to arrive
    assert len(otlp_grpc.spans()) == 1


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_an_unreachable_collector_never_fails_or_stalls_the_cli(home: Path, protocol: str) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{unused_port()}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
    }
    result, took = swarmsh(home, env, *ARGS)
    assert result.returncode == 0, result.stderr
    assert took < 4.0
    assert (
        len(read_jsonl(home / "spans.jsonl")) == 1
    )  # the bus write is not the collector's to lose


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_collector_that_never_answers_costs_a_bounded_delay(
    home: Path, protocol: str, blackhole: BlackholeServer
) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": blackhole.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
    }
    result, took = swarmsh(home, env, *ARGS)
    assert result.returncode == 0, result.stderr
    assert took < 4.0
    assert len(read_jsonl(home / "spans.jsonl")) == 1


def test_sampling_ratio_zero_starves_otlp_but_not_the_bus(
    home: Path, otlp_grpc: GrpcOtlpReceiver
) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_grpc.endpoint,
        "OTEL_TRACES_SAMPLER": "traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0",
    }
    for motion in ("a", "b", "c"):
        result, _ = swarmsh(home, env, "roberts", "second", motion)
        assert result.returncode == 0, result.stderr
    assert [r["attributes"]["roberts.motion_id"] for r in read_jsonl(home / "spans.jsonl")] == [
        "a",
        "b",
        "c",
    ]
    otlp_grpc.wait_for_metrics({"swarm.spans.total"}, timeout=10)  # the process did export
    assert otlp_grpc.spans() == []


def test_console_exporter(home: Path) -> None:
    result, _ = swarmsh(home, {}, "--console", *ARGS)
    assert result.returncode == 0
    assert '"name":"swarmsh.roberts.open"' in result.stdout


def test_bad_otel_settings_are_usage_errors(home: Path) -> None:
    result, _ = swarmsh(
        home,
        {
            "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x",
        },
        *ARGS,
    )
    assert result.returncode == 2
    assert "OTEL_EXPORTER_OTLP_PROTOCOL" in result.stderr and "Traceback" not in result.stderr
    assert not (home / "spans.jsonl").exists()
