"""End to end under a real supervisord: a plain OpenTelemetry program's "checkout" service,
over OTLP through the receiver, fails five times in a minute; the rules agent fires the shipped
rule, the executor runs `swarmsh lean define` in the trace of the fifth error, linked to the
other four, and the lean agent takes the project on. Then a broken edit and SIGHUP."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from swarmsh import startmark
from tests.e2e.swarm import REPO, running_swarm, wait_until

pytestmark = pytest.mark.e2e

SENDER = textwrap.dedent(
    """
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    tracer = provider.get_tracer("checkout")
    for i in range(5):  # five requests, each its own trace, each failing
        with tracer.start_as_current_span(
            "http.server.request", kind=SpanKind.SERVER,
            attributes={"http.route": "/orders", "http.response.status_code": 503},
        ) as span:
            span.set_status(Status(StatusCode.ERROR, "upstream down"))
            ctx = span.get_span_context()
            print(format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))
    provider.shutdown()
    """
)


def test_five_checkout_errors_start_a_lean_project_in_the_fifth_errors_trace() -> None:
    rules_dir = Path(tempfile.mkdtemp(prefix="rules-"))
    shutil.copy(REPO / "rules" / "checkout-errors.yaml", rules_dir)
    try:
        with running_swarm({"SWARMSH_RULES": str(rules_dir)}) as swarm:
            state = swarm.home / "state"
            wait_until(lambda: startmark.committed(state, "rules"), 20, "rules committed its start")
            sent = swarm.send_over_otlp(SENDER)
            errors = [tuple(line.split()) for line in sent.stdout.splitlines()]
            assert len(errors) == 5
            fifth_trace, fifth_span = errors[4]

            iteration = swarm.wait_for(
                lambda r: (
                    r.name == "swarm.loop.iteration" and r.attributes.get("swarm.agent") == "rules"
                ),
                what="the rules agent's firing",
            )
            assert (iteration.trace_id, iteration.parent_span_id) == (fifth_trace, fifth_span)
            assert [(link["trace_id"], link["span_id"]) for link in iteration.links] == errors[:4]
            assert iteration.attributes["swarm.rule.name"] == "checkout-errors"
            assert iteration.attributes["swarm.rule.count"] == 5
            define = swarm.wait_for(
                lambda r: r.name == "swarmsh.lean.define" and r.trace_id == fifth_trace,
                what="swarmsh lean define, run by the executor in the fifth error's trace",
                timeout=30,
            )
            assert define.status == "OK"
            assert define.attributes["lean.project_id"] == "incident-checkout"
            assert define.attributes["lean.sponsor"] == "rules"
            execute = swarm.wait_for(lambda r: r.span_id == define.parent_span_id)
            assert execute.name == "swarmsh.command.execute"
            assert execute.parent_span_id == iteration.span_id
            lean = swarm.wait_for(
                lambda r: (
                    r.name == "swarm.loop.iteration"
                    and r.parent_span_id == define.span_id
                    and r.attributes.get("swarm.agent") == "lean"
                ),
                what="the lean agent taking the project on",
            )
            assert lean.attributes["swarm.state.to"] == "DEFINE"
            # only the firing is a span of the rules agent: the four that advanced the window not
            rules_spans = [
                s
                for s in swarm.spans()
                if s["name"] == "swarm.loop.iteration" and s["attributes"]["swarm.agent"] == "rules"
            ]
            assert len(rules_spans) == 1

            # a broken edit, reloaded with supervisorctl's signal: the rules stay, the pid too
            pid = swarm.states()["rules"]["pid"]
            (rules_dir / "checkout-errors.yaml").write_text("rules: [{name: half-written\n")
            assert swarm.ctl("signal", "HUP", "swarm:rules").returncode == 0
            log = swarm.base / "var" / "rules.log"
            wait_until(lambda: "reload refused" in log.read_text(), 20, "the refusal logged")
            assert "keeping the 1 rules loaded" in log.read_text()
            assert swarm.states()["rules"]["pid"] == pid
            assert swarm.states()["rules"]["statename"] == "RUNNING"

            status = subprocess.run(
                [sys.executable, "-m", "swarmsh", "status", "--config", str(swarm.conf)],
                env=swarm.env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert "  rules " in status.stdout and "advanced=4" in status.stdout, status.stdout
    finally:
        shutil.rmtree(rules_dir, ignore_errors=True)
