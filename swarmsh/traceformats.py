"""One trace tree (from `swarmsh.tracetree.build`) written for other tools: JSON, Mermaid and
Graphviz dot. Span names and attributes come from the bus and are hostile: every label is
escaped for the target syntax, so no record can close a string or inject a node."""

from __future__ import annotations

import json
import re
from typing import Any

from swarmsh.safetext import duration, shown
from swarmsh.tracetree import Node, service_label

LABEL_CHARS = 200  # a label's name part is cut here; the JSON form keeps everything


def node_dict(node: Node) -> dict[str, Any]:
    span = node.span
    return {
        "name": span.name,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "service": span.service,
        "kind": span.kind,
        "status": span.status,
        "status_message": span.status_message,
        "start": span.timestamp,
        "end": span.end,
        "duration_ms": span.duration_ms,
        "attributes": span.attributes,
        "events": span.events,
        "orphan": node.orphan,
        "children": [node_dict(child) for child in node.children],
    }


def to_json(trace_id: str, roots: list[Node]) -> str:
    """The tree as one JSON document; ASCII-only, so no character reaches a terminal raw."""
    document = {"trace_id": trace_id, "roots": [node_dict(root) for root in roots]}
    return json.dumps(document, indent=2, ensure_ascii=True, default=str)


def _walk(roots: list[Node]) -> list[tuple[Node | None, Node]]:
    """(parent, node) pairs, depth first, parents before children; each span once."""
    pairs: list[tuple[Node | None, Node]] = []
    seen: set[int] = set()
    stack: list[tuple[Node | None, Node]] = [(None, root) for root in reversed(roots)]
    while stack:
        parent, node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        pairs.append((parent, node))
        stack.extend((node, child) for child in reversed(node.children))
    return pairs


def label_parts(node: Node) -> list[str]:
    """name, agent (service), status, duration: shown() escapes controls and bounds them."""
    span = node.span
    parts = [
        shown(span.name, limit=LABEL_CHARS),
        service_label(span),
        shown(span.status, limit=16) + ("  (orphan)" if node.orphan else ""),
        duration(span.duration_ms),
    ]
    return parts


# Mermaid: anything but these becomes an entity code (#34; for "), which Mermaid decodes
# inside a quoted label; brackets, pipes, quotes, semicolons and markup never reach its parser.
_MERMAID_PLAIN = re.compile(r"[^A-Za-z0-9 _.,:=/+-]")


def _mermaid_text(text: str) -> str:
    return _MERMAID_PLAIN.sub(lambda m: f"#{ord(m.group())};", text)


def to_mermaid(roots: list[Node]) -> str:
    lines = ["flowchart TD"]
    errors = []
    for parent, node in _walk(roots):
        span = node.span
        ident = f"s{span.span_id}"  # validated hex on read: a safe identifier
        label = "<br/>".join(_mermaid_text(part) for part in label_parts(node))
        lines.append(f'    {ident}["{label}"]')
        if parent is not None:
            lines.append(f"    s{parent.span.span_id} --> {ident}")
        if span.status == "ERROR":
            errors.append(ident)
    if errors:
        lines.append("    classDef error fill:#fdd,stroke:#c00")
        lines.append(f"    class {','.join(errors)} error")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    """Inside a dot double-quoted string: backslash first (so \\n, \\l and \\N from the input
    stay literal), then the quote."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(trace_id: str, roots: list[Node]) -> str:
    lines = [
        f'digraph "trace {trace_id}" {{',  # trace_id is validated hex
        "    node [shape=box, fontname=monospace];",
    ]
    for parent, node in _walk(roots):
        span = node.span
        label = "\\n".join(_dot_text(part) for part in label_parts(node))
        colour = ', color="red"' if span.status == "ERROR" else ""
        lines.append(f'    "{span.span_id}" [label="{label}"{colour}];')
        if parent is not None:
            lines.append(f'    "{parent.span.span_id}" -> "{span.span_id}";')
    lines.append("}")
    return "\n".join(lines) + "\n"
