"""Windows, groups, correlations and throttles as tables, on the spans' own timestamps."""

from __future__ import annotations

import pytest

from swarmsh.agents.rules.replay import Replay
from tests.agents.rules.helpers import fire, rule, rules, span

WINDOW = rule('{span: "http.*", status: ERROR}', "    window: {count: 5, within: 60s}")


@pytest.mark.parametrize(
    ("times", "fired_at"),
    [
        ([0, 10, 20, 30, 60], [60]),  # exactly count within exactly `within`: fires
        ([0, 10, 20, 30, 60.001], []),  # the first one is outside by a millisecond
        ([0, 10, 20, 30], []),  # one short
        ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [4, 9]),  # a firing consumes its window
        ([0, 100, 101, 102, 103, 104], [104]),  # the old one expired, five new ones fire
        ([60, 0, 10, 20, 30], [30]),  # out of order, all within 60 s of the newest
        ([100, 0, 10, 20, 30, 40], []),  # late spans (older than newest - 60 s) count for nothing
        ([30, 20, 10, 0, 50], [50]),  # backwards, then one more inside the window
    ],
)
def test_window_edges(times: list[float], fired_at: list[float]) -> None:
    spans = [span(t, n=i) for i, t in enumerate(times)]
    firings = fire(WINDOW, spans)
    assert [f.record.timestamp - spans[0].timestamp + times[0] for f in firings] == fired_at
    assert all(f.count == 5 for f in firings)


def test_a_firing_links_the_spans_that_counted_and_fires_in_the_trace_of_the_last() -> None:
    spans = [span(t, n=i) for i, t in enumerate([0, 10, 20, 30, 40])]
    (firing,) = fire(WINDOW, spans)
    assert firing.record is spans[4]
    assert firing.links == tuple((s.trace_id, s.span_id) for s in spans[:4])
    assert firing.args == {"project": "p-5", "problem": " "}


def test_links_are_bounded_to_the_newest_32() -> None:
    text = rule("{status: ERROR}", "    window: {count: 100, within: 1h}")
    spans = [span(i, n=i) for i in range(100)]
    (firing,) = fire(text, spans)
    assert len(firing.links) == 32
    assert firing.links[-1] == (spans[98].trace_id, spans[98].span_id)


GROUPED = rule(
    "{status: ERROR}", "    window: {count: 2, within: 60s}\n    group_by: [service.name, route]"
)


def test_group_by_counts_each_group_apart_and_names_it() -> None:
    spans = [
        span(0, service="a", route="/x", n=1),
        span(1, service="b", route="/x", n=2),
        span(2, service="a", route="/y", n=3),
        span(3, service="a", route="/x", n=4),
        span(4, service="b", route="/x", n=5),
        span(5, service="c", n=6),  # no route: not in any group, never counts
        span(6, service="c", n=7),
    ]
    firings = fire(GROUPED, spans)
    assert [(f.group, f.record.span_id) for f in firings] == [
        ("service.name=a,route=/x", spans[3].span_id),
        ("service.name=b,route=/x", spans[4].span_id),
    ]
    assert firings[0].args["problem"] == "service.name=a,route=/x "


def test_group_by_an_attribute_of_the_wrong_type_or_huge_never_crashes() -> None:
    big = "g" * 1_000_000
    firings = fire(GROUPED, [span(0, route=big, n=1), span(1, route=big, n=2)])
    (firing,) = firings
    assert len(firing.group) < 300  # bounded, with a hash of the whole
    assert not fire(GROUPED, [span(0, route=["l"], n=1), span(1, route=["l"], n=2)])


CORRELATE = """
rules:
  - name: deploy-regression
    correlate:
      within: 10m
      ordered: {ordered}
      steps:
        - {{span: deploy, status: OK}}
        - {{span: "http.*", status: ERROR}}
    group_by: [service.name]
    then:
      command: swarmsh.lean.define
      args: {{project: "regression-{{service.name}}", problem: "after deploy"}}
"""


def deploy(t: float, service: str = "checkout") -> object:
    return span(t, name="deploy", status="OK", service=service)


def error(t: float, service: str = "checkout") -> object:
    return span(t, service=service)


@pytest.mark.parametrize(
    ("ordered", "spans", "fires"),
    [
        ("true", [deploy(0), error(300)], True),  # all present, in order
        ("true", [deploy(0), error(600)], True),  # exactly within
        ("true", [deploy(0), error(601)], False),  # one too late
        ("true", [deploy(0)], False),  # one missing
        ("true", [error(0), deploy(10)], False),  # wrong order
        ("false", [error(0), deploy(10)], True),  # any order
        ("true", [deploy(0, "a"), error(1, "b")], False),  # not the same group
        ("true", [error(5), deploy(0)], True),  # out of bus order, in span time order
    ],
)
def test_correlation(ordered: str, spans: list, fires: bool) -> None:  # type: ignore[type-arg]
    firings = fire(CORRELATE.format(ordered=ordered), spans)
    assert bool(firings) is fires
    if fires:
        assert firings[0].args == {"project": "regression-checkout", "problem": "after deploy"}
        assert firings[0].record is spans[-1]
        assert firings[0].links == ((spans[0].trace_id, spans[0].span_id),)


THROTTLED = rule(
    "{status: ERROR}", "    group_by: [service.name]\n    throttle: {once_within: 10m}"
)


@pytest.mark.parametrize(
    ("events", "fired"),
    [
        ([(0, "a"), (599, "a"), (600, "a")], [0, 600]),  # at most once per 10 minutes
        ([(0, "a"), (1, "b"), (2, "a")], [0, 1]),  # per group
        ([(600, "a"), (1, "a")], [600]),  # a late span is within 10 minutes of the firing
    ],
)
def test_throttle(events: list[tuple[float, str]], fired: list[float]) -> None:
    spans = [span(t, service=s, n=i) for i, (t, s) in enumerate(events)]
    replay = Replay.of(rules(THROTTLED))
    firings = list(replay.feed(spans))
    assert [f.record.timestamp - spans[0].timestamp + events[0][0] for f in firings] == fired
    assert replay.counters["throttled"] == len(events) - len(fired)


def test_a_missing_substitution_field_fires_nothing_and_is_counted() -> None:
    text = rule("{status: ERROR}", action="{http.route}")
    replay = Replay.of(rules(text))
    assert list(replay.feed([span(0)])) == []
    assert replay.counters["malformed"] == 1
    (firing,) = replay.feed([span(1, **{"http.route": "/o"})])
    assert firing.args["problem"] == " /o"


def test_substitution_is_plain_and_escapes_what_is_not_safe_text() -> None:
    text = rule("{status: ERROR}", action="{{literal}} {name} {evil}")
    (firing,) = fire(text, [span(0, evil="{count}\x1b[31m" + "x" * 2000)])
    problem = firing.args["problem"]
    assert problem.startswith(" {literal} http.server.request {count}\\x1b[31mxxx")
    assert len(problem) == 1000


def test_replaying_the_same_spans_fires_the_same_ids() -> None:
    spans = [span(t, n=i) for i, t in enumerate(range(0, 200, 7))]
    first = [f.id for f in fire(WINDOW, spans)]
    assert first and first == [f.id for f in fire(WINDOW, spans)]


def test_a_span_counts_for_one_step_of_a_correlation() -> None:
    text = CORRELATE.format(ordered="false").replace(
        "{span: deploy, status: OK}", '{span: "http.*"}'
    )
    assert not fire(text, [error(0)])  # one error is not two
    (firing,) = fire(text, [error(0), error(1)])
    assert firing.count == 2 and len(firing.links) == 1
