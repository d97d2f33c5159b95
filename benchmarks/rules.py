"""The rules agent's throughput: a bus with 10 % spans that rules match, 20 rules loaded, beside
the roberts agent's on its own bus of the same size and share, in the same run."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from swarmsh.bus.records import dumps_line

SERVICES = ["checkout", "cart", "payments", "search", "auth"]
ROUTES = [f"/api/v1/{r}" for r in ("orders", "items", "users", "pay", "login", "search")]
OTHER = ["db.query", "cache.get", "queue.publish", "rpc.call", "grpc.client.unary"]
DEPLOY_SHARE = 0.002


def _rule(name: str, match: str, extra: str = "", action: str = "incident") -> str:
    return f"""
  - name: {name}
    match: {match}
{extra}
    then:
      command: swarmsh.lean.define
      args: {{project: "{action}-{{service.name}}", problem: "{{count}} in {{group}}"}}
"""


def rulebook() -> str:
    """Twenty rules of every kind: exact names, globs, statuses, resource and attribute
    equality, membership, comparisons, regexes, durations, windows with groups, throttles and
    a correlation."""
    rules = []
    for i, service in enumerate(SERVICES):
        rules.append(
            _rule(
                f"errors-{service}",
                f'{{span: "http.server.*", status: ERROR, resource: {{service.name: {service}}}}}',
                "    window: {count: 5, within: 60s}\n    group_by: [service.name]\n"
                "    throttle: {once_within: 10m}",
            )
        )
        rules.append(
            _rule(
                f"slow-{service}",
                f'{{span: "http.server.request", duration_ms: {{gt: {500 + 100 * i}}}, '
                f"resource: {{service.name: {service}}}}}",
                "    window: {count: 20, within: 5m}\n    group_by: [service.name, http.route]\n"
                "    throttle: {once_within: 1h}",
                "latency",
            )
        )
    for code in (500, 502, 503, 504):
        rules.append(
            _rule(
                f"status-{code}",
                f"{{span: http.server.request, attributes: {{http.response.status_code: {code}}}}}",
                "    window: {count: 10, within: 2m}\n    group_by: [service.name]\n"
                "    throttle: {once_within: 30m}",
            )
        )
    rules.append(
        _rule(
            "orders-5xx",
            "{span: http.server.request, attributes: {http.route: {regex: '^/api/v1/orders'}, "
            "http.response.status_code: {gte: 500, lt: 600}}}",
            "    window: {count: 3, within: 30s}\n    group_by: [service.name]\n"
            "    throttle: {once_within: 15m}",
        )
    )
    rules.append(
        _rule(
            "gold-users",
            "{span: http.server.request, status: ERROR, "
            "attributes: {user.tier: {in: [gold, platinum]}}}",
            "    group_by: [service.name]\n    throttle: {once_within: 1h}",
        )
    )
    rules.append(
        _rule(
            "deploy-failed",
            "{span: deploy, status: ERROR}",
            "    group_by: [service.name]\n    throttle: {once_within: 5m}",
            "deploy",
        )
    )
    rules.append(
        _rule(
            "paying-errors",
            "{span: http.server.request, status: ERROR, resource: {service.name: payments}, "
            "attributes: {user.tier: {ne: free}}}",
            "    window: {count: 4, within: 1m}\n    group_by: [user.tier]",
        )
    )
    rules.append(
        _rule(
            "edge-errors",
            '{span: "http.server.*", status: ERROR, duration_ms: {lt: 1}, '
            "resource: {service.name: [search, auth]}}",
            "    window: {count: 50, within: 1m}\n    group_by: [service.name]",
        )
    )
    rules.append(
        """
  - name: deploy-regression
    correlate:
      within: 10m
      ordered: true
      steps:
        - {span: deploy, status: OK}
        - {span: "http.server.*", status: ERROR}
    group_by: [service.name]
    throttle: {once_within: 1h}
    then:
      command: swarmsh.lean.define
      args: {project: "regression-{service.name}", problem: "errors after a deploy"}
"""
    )
    assert len(rules) == 20
    return "rules:" + "".join(rules)


def make_rules_bus(path: Path, lines: int, share: float = 0.10, seed: int = 11) -> Path:
    """`share` of the lines spans of the services the rules watch (matching at least one rule),
    the rest spans of other kinds that no rule names."""
    rnd = random.Random(seed)
    with open(path, "wb") as fh:
        for i in range(lines):
            resource: dict[str, Any] = {"service.version": "1.0.0"}
            if rnd.random() < share:
                service = rnd.choice(SERVICES)
                resource["service.name"] = service
                if rnd.random() < DEPLOY_SHARE / share:
                    name, status, attrs = "deploy", rnd.choice(["OK", "OK", "ERROR"]), {}
                    duration = 30_000.0
                else:
                    name = "http.server.request"
                    failed = rnd.random() < 0.5
                    status = "ERROR" if failed else "OK"
                    attrs = {
                        "http.route": rnd.choice(ROUTES),
                        "http.response.status_code": rnd.choice((500, 502, 503, 504))
                        if failed
                        else 200,
                        "user.tier": rnd.choice(["free", "gold", "platinum", "free"]),
                    }
                    duration = 0.0 if failed else rnd.choice([5.0, 40.0, 2_000.0])
            else:
                name, status, duration = rnd.choice(OTHER), "OK", 1.25
                attrs = {"db.system": "postgresql", "net.peer.name": f"db{i % 7}"}
                resource["service.name"] = "shop-frontend"
            fh.write(
                dumps_line(
                    {
                        "name": name,
                        "trace_id": f"{rnd.getrandbits(128) | 1:032x}",
                        "span_id": f"{rnd.getrandbits(64) | 1:016x}",
                        "parent_span_id": None,
                        "kind": "SERVER",
                        "timestamp": 1764000000.0 + i / 1000,
                        "duration_ms": duration,
                        "status": status,
                        "status_message": None,
                        "sampled": True,
                        "attributes": attrs,
                        "events": [],
                        "links": [],
                        "resource": resource,
                    }
                )
            )
    return path


def rules_throughput(home: Path, lines: int) -> dict[str, Any]:
    """The real rules runner from the bus's first byte, 20 rules loaded: matching, windows,
    firings (iteration spans with links, commands) and a checkpoint commit per batch."""
    from benchmarks.workloads import drain
    from swarmsh.agents.rules.agent import RulesRunner
    from swarmsh.config import Paths
    from swarmsh.store import StateStore
    from swarmsh.telemetry import setup_telemetry

    rules_dir = home / "rules"
    rules_dir.mkdir()
    (rules_dir / "bench.yaml").write_text(rulebook())
    paths = Paths(home)
    telemetry = setup_telemetry("swarmsh-rules", paths.bus, otlp=False)
    runner = RulesRunner([rules_dir], paths, telemetry, start="beginning")
    assert len(runner.rules) == 20
    elapsed = drain(runner, paths.bus.stat().st_size)
    telemetry.shutdown()
    with StateStore(paths.state / "rules.db") as store:
        counters = store.counters()
    return {"lines_per_s": lines / elapsed, "counters": counters}
