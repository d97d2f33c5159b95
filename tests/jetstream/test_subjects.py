"""Span name <-> subject: reversible, always valid, prefix filters select exactly the prefix."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmsh.bus.jetstream.subjects import (
    BadSubject,
    consumer_name,
    span_name,
    span_subject,
    spans_filter,
)

# A valid NATS subject token: non-empty, printable ASCII here, no space, '.', '*' or '>'.
_TOKEN = re.compile(r"[!-~]+")

names = st.text(max_size=60) | st.lists(
    st.sampled_from(["swarmsh", "roberts", "open", "", "*", ">", "%", "a b", "é", "%41"]),
    max_size=6,
).map(".".join)


def _subject_matches(filter_: str, subject: str) -> bool:
    """NATS's wildcard matching, for the filters we make (only a trailing `>`)."""
    want, got = filter_.split("."), subject.split(".")
    if want[-1] == ">":
        return len(got) > len(want) - 1 and got[: len(want) - 1] == want[:-1]
    return want == got


@given(names)
def test_round_trip(name: str) -> None:
    assert span_name(span_subject(name)) == name


@given(names)
def test_every_token_is_valid(name: str) -> None:
    subject = span_subject(name)
    tokens = subject.split(".")
    assert all(_TOKEN.fullmatch(t) and t not in ("*", ">") for t in tokens), subject
    assert "*" not in subject and ">" not in subject
    assert len(tokens) == 2 + len(name.split("."))


@given(names, names)
def test_distinct_names_distinct_subjects(a: str, b: str) -> None:
    assert (span_subject(a) == span_subject(b)) == (a == b)


@given(st.lists(st.sampled_from(["swarmsh", "roberts", "a.b", "x y", ""]), max_size=3), names)
def test_prefix_filter_selects_exactly_the_prefix(parts: list[str], name: str) -> None:
    prefix = "".join(p + "." for p in parts)
    full = prefix + name
    assert _subject_matches(spans_filter(prefix), span_subject(full))
    other = span_subject(name)
    assert _subject_matches(spans_filter(prefix), other) == (name.startswith(prefix) or not prefix)


def test_plain_names_read_as_themselves() -> None:
    assert span_subject("swarmsh.roberts.open") == "swarmsh.spans.swarmsh.roberts.open"
    assert spans_filter("swarmsh.roberts.") == "swarmsh.spans.swarmsh.roberts.>"
    assert spans_filter("") == "swarmsh.spans.>"
    assert span_subject("GET /x") == "swarmsh.spans.GET%20%2Fx"
    assert span_subject("a..b") == "swarmsh.spans.a.%.b"


@pytest.mark.parametrize(
    "subject",
    ["other.x", "swarmsh.spans.a%4", "swarmsh.spans.%41", "swarmsh.spans.%FF", "swarmsh.spans.a*"],
)
def test_foreign_subjects_are_refused(subject: str) -> None:
    with pytest.raises(BadSubject):
        span_name(subject)


def test_consumer_names_are_plain() -> None:
    assert consumer_name("roberts") == "roberts"
    for bad in ("", "my.agent", "a *", "x" * 65):
        with pytest.raises(ValueError):
            consumer_name(bad)
