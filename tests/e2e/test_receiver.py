"""End to end under a real supervisord: a plain OpenTelemetry program, pointed at the swarm with
the standard OTEL_EXPORTER_OTLP_ENDPOINT, drives the scrum agent through the receiver."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from swarmsh import startmark
from tests.e2e.swarm import running_swarm, wait_until

pytestmark = pytest.mark.e2e

# A plain SDK program: no swarmsh import, the exporter configured by the standard variables.
SENDER = textwrap.dedent(
    """
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "delivery-app"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    tracer = provider.get_tracer("delivery-app")
    team = {"swarm.agent": "scrum", "scrum.sprint_number": 7, "scrum.team_id": "otlp-team"}
    with tracer.start_as_current_span("release") as root:
        with tracer.start_as_current_span("swarmsh.scrum.plan",
                                          attributes={**team, "swarm.trigger": "plan"}):
            pass
        with tracer.start_as_current_span("swarmsh.scrum.review", attributes={
                **team, "swarm.trigger": "review", "scrum.velocity": 30.0,
                "scrum.defect_rate": 9.5}):
            pass
        print(format(root.get_span_context().trace_id, "032x"))
    provider.shutdown()
    """
)


def test_a_plain_sdk_program_drives_the_scrum_agent() -> None:
    with running_swarm() as swarm:
        state = swarm.home / "state"
        wait_until(lambda: startmark.committed(state, "scrum"), 20, "scrum committed its start")
        grpc_addr = swarm.env["SWARMSH_OTLP_GRPC_ADDR"]
        trace_id = swarm.send_over_otlp(SENDER).stdout.strip()
        review = swarm.wait_for(
            lambda r: r.name == "swarmsh.scrum.review" and r.trace_id == trace_id,
            what="the review, received over OTLP",
        )
        assert review.resource["service.name"] == "delivery-app"
        iteration = swarm.wait_for(
            lambda r: (
                r.name == "swarm.loop.iteration"
                and r.parent_span_id == review.span_id
                and r.attributes.get("swarm.agent") == "scrum"
            ),
            what="the scrum agent's iteration",
        )
        assert iteration.attributes.get("swarm.state.to") == "REVIEW"
        define = swarm.wait_for(
            lambda r: r.name == "swarmsh.lean.define" and r.trace_id == trace_id,
            what="the lean project the executor defined, in the sender's trace",
            timeout=30,
        )
        assert define.attributes["lean.project_id"] == "defect-otlp-team-7"
        assert define.status == "OK"
        states = swarm.states()
        assert states["receiver"]["statename"] == "RUNNING"

        def status(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "swarmsh", "status", "--config", str(swarm.conf), *args],
                env=swarm.env,
                capture_output=True,
                text=True,
                timeout=60,
            )

        def counted() -> bool:
            report = json.loads(status("--json").stdout)["receiver"]
            return report["counts"].get("grpc", {}).get("accepted", 0) >= 3

        wait_until(counted, 10, "the receiver's status file counts the three spans")
        report = json.loads(status("--json").stdout)
        assert report["receiver"]["addresses"] == {
            "grpc": grpc_addr,
            "http": swarm.env["SWARMSH_OTLP_HTTP_ADDR"],
        }
        assert report["processes"]["receiver"]["state"] == "RUNNING" and report["healthy"]
        text = status().stdout
        assert f"receiver: grpc {grpc_addr}  http " in text and "grpc accepted=3" in text
