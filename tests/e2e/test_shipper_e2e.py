"""Under the real supervisord, the shipper delivers every span of the demo to a collector,
once each (no producer exports spans itself), `swarmsh status` shows it as a reader of the
bus, and the daemons send the same collector their metrics."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from tests.e2e.swarm import running_swarm, wait_until
from tests.otlp_receivers import GrpcOtlpReceiver

pytestmark = pytest.mark.e2e


def test_the_shipper_delivers_the_demos_spans(otlp_grpc: GrpcOtlpReceiver) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_grpc.endpoint, "OTEL_METRIC_EXPORT_INTERVAL": "500"}
    with running_swarm(env) as swarm:
        demo = subprocess.run(
            [sys.executable, "-m", "swarmsh", "demo", "--config", str(swarm.conf)],
            env=swarm.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        on_bus = Counter(r["span_id"] for r in swarm.spans() if r.get("sampled", True))

        def delivered() -> bool:
            return set(on_bus) <= {s["span_id"] for s in otlp_grpc.spans()}

        wait_until(delivered, 30, "the demo's spans at the collector")
        status = subprocess.run(
            [sys.executable, "-m", "swarmsh", "status", "--json", "--config", str(swarm.conf)],
            env=swarm.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        report = json.loads(status.stdout)
        assert report["processes"]["shipper"]["state"] == "RUNNING"
        assert report["shipper"]["counters"]["exported"] >= len(on_bus)
        otlp_grpc.wait_for_metrics({"swarm.agent.transitions", "swarm.commands.total"}, 30)
    received = Counter(s["span_id"] for s in otlp_grpc.spans())
    assert {i: received[i] for i in on_bus} == dict(on_bus)  # once each
    services = {s["resource"]["service.name"] for s in otlp_grpc.spans()}
    assert {"swarmsh-cli", "swarmsh-roberts", "swarmsh-executor"} <= services
    reporting = {m["resource"]["service.name"] for m in otlp_grpc.metrics()}
    assert {"swarmsh-roberts", "swarmsh-executor"} <= reporting  # daemons: metrics only
