"""Plain `{field}` substitution for a rule's action (no expressions, nothing evaluated), and
the load-time check that the action is a command the executor would accept."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from swarmsh.agents.base import bounded_text
from swarmsh.agents.rules.match import field_value
from swarmsh.agents.rules.model import FIELD, Action
from swarmsh.bus.records import SpanRecord

_PART = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
# Fields every firing knows, besides the group's values and the span's (resource) attributes.
BUILTINS = ("count", "rule", "group", "name", "status", "kind", "trace_id", "span_id")
_SAMPLE = "1"  # what each field stands for when the action is checked at load time


class MissingField(ValueError):
    """A `{field}` the firing span does not have."""


@dataclass(frozen=True)
class Template:
    """Literal text and field names, alternating: ("incident-", "service.name", "")."""

    parts: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> Template:
        parts, literal, at = [], [], 0
        for found in _PART.finditer(text):
            literal.append(text[at : found.start()])
            at = found.end()
            token = found.group(0)
            if token in ("{{", "}}"):
                literal.append(token[0])
            elif found.group(1) is None:
                raise ValueError(f"{text!r}: a lone {token!r} (write {token}{token} for one)")
            elif not FIELD.fullmatch(found.group(1)):
                raise ValueError(f"{text!r}: {{{found.group(1)}}} is not a field name")
            else:
                parts += ["".join(literal), found.group(1)]
                literal = []
        literal.append(text[at:])
        parts.append("".join(literal))
        return cls(tuple(parts))

    @property
    def fields(self) -> tuple[str, ...]:
        return self.parts[1::2]

    def render(self, record: SpanRecord | None, fields: dict[str, str]) -> str:
        """The text with each field's value: a builtin, a group value, the span's attribute or
        resource attribute. Made safe text and cut at 1,000 characters."""
        out = []
        for i, part in enumerate(self.parts):
            if i % 2 == 0:
                out.append(part)
                continue
            value = fields.get(part)
            if value is None and record is not None:
                value = _builtin(record, part)
                if value is None:
                    raw = field_value(record, part)
                    if raw is None:
                        raise MissingField(f"field {{{part}}} is missing from the span")
                    value = _text(raw)
            out.append(_SAMPLE if value is None else value)
        return bounded_text("".join(out))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def _builtin(record: SpanRecord, name: str) -> str | None:
    if name in ("name", "status", "kind", "trace_id", "span_id"):
        return str(getattr(record, name))
    return None


def check_action(action: Action) -> dict[str, Template | Any]:
    """The action's args with string values parsed as templates; the command and the args
    checked by the executor's own validation, with every field standing for "1"."""
    from swarmsh.cli import cli
    from swarmsh.errors import CommandRejected
    from swarmsh.executor.validate import build_argv

    templates: dict[str, Template | Any] = {}
    sample: dict[str, Any] = {}
    for key, value in action.args.items():
        if isinstance(value, str):
            template = Template.parse(value)
            templates[key] = template
            sample[key] = template.render(None, {})
        else:
            templates[key] = value
            sample[key] = value
    try:
        build_argv(cli, action.command, sample)
    except CommandRejected as exc:
        raise ValueError(f"then: {exc}") from None
    if action.reason is not None:
        Template.parse(action.reason)
    return templates
