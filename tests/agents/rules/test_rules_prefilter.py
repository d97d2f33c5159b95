"""The prefilter keeps its promise: no span a rule's name matches is dropped, however the line
is written (our writer's raw UTF-8, or another writer's \\u escapes and \\/)."""

from __future__ import annotations

import json

import orjson
from hypothesis import given
from hypothesis import strategies as st

from swarmsh.agents.rules.agent import needles_of
from swarmsh.agents.rules.match import name_check
from swarmsh.bus.prefilter import NamePrefixFilter
from tests.agents.rules.helpers import rule, rules

ALPHABET = st.sampled_from(list('abc./"\\ é*?-') + ["\u202e", "\n"])
NAMES = st.text(ALPHABET, min_size=1, max_size=12)


def _lines(name: str) -> list[bytes]:
    record = {"name": name, "trace_id": "a" * 32, "span_id": "b" * 16, "attributes": {}}
    plain = orjson.dumps(record) + b"\n"
    escaped = json.dumps(record, ensure_ascii=True).encode() + b"\n"
    return [plain, escaped, escaped.replace(b"/", b"\\/")]


@given(pattern=NAMES, filler=NAMES)
def test_a_name_a_rule_matches_is_never_dropped(pattern: str, filler: str) -> None:
    name = pattern.replace("*", filler).replace("?", "a")
    (compiled,) = rules(rule("{span: " + json.dumps(pattern) + "}"))
    assert name_check([pattern])(name)
    needles = needles_of([compiled])
    if needles is None:
        return  # the rule reads every line
    accept = NamePrefixFilter(needles)
    for line in _lines(name):
        assert accept(line), (pattern, name, needles, line)
        spans = accept.scan(line)
        assert spans is None or spans == [(0, len(line) - 1)], (pattern, name, line)
