"""Spans and rules for the rules agent's tables."""

from __future__ import annotations

import hashlib
from typing import Any

from swarmsh.agents.rules.engine import CompiledRule, compile_rule
from swarmsh.agents.rules.load import parse_rulebook
from swarmsh.agents.rules.replay import Firing, Replay
from swarmsh.bus.records import SpanRecord

T0 = 1_764_000_000.0


def span(
    t: float = 0.0,
    name: str = "http.server.request",
    status: str = "ERROR",
    service: str = "checkout",
    n: int | None = None,
    kind: str = "SERVER",
    duration_ms: float = 5.0,
    resource: dict[str, Any] | None = None,
    **attributes: Any,
) -> SpanRecord:
    """A span at T0 + t seconds; ids derived from `n` (else from t and the name)."""
    seed = f"{n if n is not None else (t, name, service)}".encode()
    digest = hashlib.sha256(seed).hexdigest()
    return SpanRecord(
        name=name,
        trace_id=digest[:32],
        span_id=digest[32:48],
        parent_span_id=None,
        timestamp=T0 + t,
        duration_ms=duration_ms,
        kind=kind,
        status=status,
        attributes=dict(attributes),
        resource={"service.name": service} if resource is None else resource,
    )


def rules(yaml_text: str) -> list[CompiledRule]:
    return [compile_rule(r) for r in parse_rulebook(yaml_text, "test.yaml").rules]


def fire(yaml_text: str, spans: list[SpanRecord]) -> list[Firing]:
    return list(Replay.of(rules(yaml_text)).feed(spans))


def rule(match: str, extra: str = "", action: str = "") -> str:
    """One rule named r with `match` (YAML flow mapping) and a lean define action."""
    return f"""
rules:
  - name: r
    match: {match}
{extra}
    then:
      command: swarmsh.lean.define
      args: {{project: "p-{{count}}", problem: "{{group}} {action}"}}
"""
