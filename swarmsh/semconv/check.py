"""Validates bus span records against the registry: names, required attributes, types."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from swarmsh.bus.records import loads_object
from swarmsh.errors import MalformedRecord

NAMESPACES = ("swarm.", "roberts.", "scrum.", "lean.")
REGISTRY_JSON = Path(__file__).parent / "_generated" / "registry.json"


@cache
def registry() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REGISTRY_JSON.read_text())
    return data


def _type_error(value: Any, spec: dict[str, Any]) -> str | None:
    kind = spec["type"]
    is_int = isinstance(value, int) and not isinstance(value, bool)
    ok = {
        "string": isinstance(value, str),
        "int": is_int,
        "double": is_int or isinstance(value, float),
        "boolean": isinstance(value, bool),
        "string[]": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "enum": isinstance(value, str) and value in spec.get("members", ()),
    }.get(kind, False)
    if ok:
        return None
    if kind == "enum":
        return f"is {value!r}, not one of {', '.join(spec['members'])}"
    return f"should be {kind}, not {type(value).__name__} {value!r}"


def _bound_error(value: Any, spec: dict[str, Any]) -> str | None:
    """The registry's bounds (minimum, maximum, pattern, max_length), as the models apply them."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, bool):
            continue
        if isinstance(item, int | float):
            if "minimum" in spec and item < spec["minimum"]:
                return f"is {item!r}, below the minimum {spec['minimum']}"
            if "maximum" in spec and item > spec["maximum"]:
                return f"is {item!r}, above the maximum {spec['maximum']}"
        elif isinstance(item, str):
            if "max_length" in spec and len(item) > spec["max_length"]:
                return f"is {len(item)} characters long; at most {spec['max_length']}"
            if "pattern" in spec and not re.search(spec["pattern"], item):
                return f"is {item[:40]!r}, which does not match {spec['pattern']}"
    return None


def check_record(raw: dict[str, Any]) -> list[str]:
    """The problems with one span record (empty when it conforms)."""
    reg = registry()
    name = raw.get("name")
    span = reg["spans"].get(name)
    if span is None:
        return [f"unknown span name {name!r}"]
    attributes = raw.get("attributes")
    if not isinstance(attributes, dict):
        return ["attributes is not an object"]
    problems = [
        f"missing required attribute {a}"
        for a, level in span.items()
        if level == "required" and a not in attributes
    ]
    for key, value in attributes.items():
        spec = reg["attributes"].get(key)
        if spec is None:
            if key.startswith(NAMESPACES):
                problems.append(f"unknown attribute {key}")
            continue
        if key not in span:
            problems.append(f"attribute {key} is not defined for this span")
        error = _type_error(value, spec) or _bound_error(value, spec)
        if error:
            problems.append(f"attribute {key} {error}")
    return problems


@dataclass
class CheckReport:
    spans: int = 0
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (line, span name, text)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_file(path: Path) -> CheckReport:
    report = CheckReport()
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                raw = loads_object(line)
            except MalformedRecord as exc:
                report.problems.append((number, "?", f"malformed line: {exc}"))
                continue
            report.spans += 1
            name = str(raw.get("name", "?"))
            report.problems.extend((number, name, p) for p in check_record(raw))
    return report
