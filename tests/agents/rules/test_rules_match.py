"""Every matcher as a table: which spans a rule's `match` lets through."""

from __future__ import annotations

import pytest

from tests.agents.rules.helpers import fire, rule, span

CASES = [
    # (match, span, fires)
    ('{span: "http.server.request"}', span(), True),
    ('{span: "http.server.request"}', span(name="http.server.requests"), False),
    ('{span: "http.server.*"}', span(name="http.server.get"), True),
    ('{span: "http.server.*"}', span(name="http.client.get"), False),
    ('{span: "*.request"}', span(name="db.request"), True),
    ('{span: [deploy, "http.*"]}', span(name="deploy"), True),
    ('{span: [deploy, "http.*"]}', span(name="db.query"), False),
    ("{status: ERROR}", span(status="ERROR"), True),
    ("{status: ERROR}", span(status="OK"), False),
    ("{status: [OK, UNSET]}", span(status="UNSET"), True),
    ("{kind: SERVER}", span(kind="SERVER"), True),
    ("{kind: SERVER}", span(kind="CLIENT"), False),
    ("{resource: {service.name: checkout}}", span(service="checkout"), True),
    ("{resource: {service.name: checkout}}", span(service="cart"), False),
    ("{resource: {service.name: [cart, checkout]}}", span(service="cart"), True),
    ("{resource: {service.name: {ne: cart}}}", span(service="checkout"), True),
    ("{resource: {service.name: {ne: cart}}}", span(service="cart"), False),
    ("{resource: {service.name: {not_in: [a, b]}}}", span(service="c"), True),
    ("{resource: {service.name: {not_in: [a, b]}}}", span(service="a"), False),
    ("{attributes: {http.status_code: 503}}", span(**{"http.status_code": 503}), True),
    ("{attributes: {http.status_code: 503}}", span(**{"http.status_code": 500}), False),
    # typed equality: a string never equals a number, a bool never 1
    ("{attributes: {http.status_code: 503}}", span(**{"http.status_code": "503"}), False),
    ("{attributes: {retry: true}}", span(retry=True), True),
    ("{attributes: {retry: true}}", span(retry=1), False),
    ("{attributes: {code: {gte: 500, lt: 600}}}", span(code=500), True),
    ("{attributes: {code: {gte: 500, lt: 600}}}", span(code=599.5), True),
    ("{attributes: {code: {gte: 500, lt: 600}}}", span(code=600), False),
    ("{attributes: {code: {gt: 500}}}", span(code=500), False),
    ("{attributes: {code: {lte: 500}}}", span(code=500), True),
    ("{attributes: {code: {gt: 1}}}", span(code="9"), False),  # wrong type: no match
    ("{attributes: {code: {gt: 1}}}", span(code=True), False),
    ("{attributes: {code: {gt: 1}}}", span(), False),  # missing: no match
    ("{attributes: {code: {in: [1, 2]}}}", span(code=2), True),
    ("{attributes: {route: {regex: '^/orders/\\d+$'}}}", span(route="/orders/42"), True),
    ("{attributes: {route: {regex: '^/orders/\\d+$'}}}", span(route="/orders/x"), False),
    ("{attributes: {route: {regex: 'x'}}}", span(route=["x"]), False),  # a list is no string
    ("{attributes: {user: {exists: true}}}", span(user="u"), True),
    ("{attributes: {user: {exists: true}}}", span(), False),
    ("{attributes: {user: {exists: false}}}", span(), True),
    ("{duration_ms: {gt: 2000}}", span(duration_ms=2000.5), True),
    ("{duration_ms: {gt: 2000}}", span(duration_ms=2000), False),
    (
        '{span: "http.*", status: ERROR, resource: {service.name: checkout}, attributes: {code: 1}}',
        span(code=1),
        True,
    ),
    (
        '{span: "http.*", status: ERROR, resource: {service.name: checkout}, attributes: {code: 1}}',
        span(code=1, status="OK"),
        False,
    ),
]


@pytest.mark.parametrize(("match", "record", "fires"), CASES)
def test_matcher(match: str, record, fires: bool) -> None:  # type: ignore[no-untyped-def]
    assert bool(fire(rule(match), [record])) is fires


def test_huge_values_never_crash_and_a_regex_sees_the_first_1024_characters() -> None:
    huge = "a" * 5_000_000
    text = rule("{attributes: {v: {regex: '^a{1024}$'}}}")
    assert fire(text, [span(v=huge)])  # the first 1,024 characters end where the regex ends
    assert not fire(rule("{attributes: {v: {regex: 'b'}}}"), [span(v=huge + "b")])
    assert not fire(rule("{attributes: {v: {gt: 1}}}"), [span(v=huge)])


def test_the_slowest_regex_the_limits_allow_stays_fast_on_a_huge_value() -> None:
    import time

    text = rule("{attributes: {v: {regex: '[0-9]+x'}}}")  # unanchored, quadratic in the subject
    spans = [span(i, v="1" * 5_000_000, n=i) for i in range(10)]
    began = time.perf_counter()
    assert not fire(text, spans)
    assert (time.perf_counter() - began) / len(spans) < 0.05  # ≈ 2 ms on the development machine
