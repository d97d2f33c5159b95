"""Rulebook validation: each kind of mistake gets its own message naming file, rule and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmsh.agents.rules.load import RulebookError, load_rules, parse_rulebook

GOOD = """
rules:
  - name: r
    match: {span: "http.*"}
    then: {command: swarmsh.lean.define, args: {project: "p-{service.name}", problem: x}}
"""


def _rule(body: str, name: str = "r") -> str:
    return f"rules:\n  - name: {name}\n" + "".join(f"    {line}\n" for line in body.splitlines())


THEN = "then: {command: swarmsh.lean.define, args: {project: p, problem: x}}"

MISTAKES = [
    ("rules: [", "f.yaml: not YAML"),
    ("- a\n- b", "f.yaml: a rulebook is a mapping with a `rules:` list"),
    ("rulez: []", "f.yaml: rules: Field required"),
    (
        _rule(f"match: {{span: x}}\n{THEN}\nwindow: {{count: 5, within: 60s}}\nextra: 1"),
        "f.yaml: rule 'r': extra: Extra inputs are not permitted",
    ),
    (
        _rule(f"match: {{span: x}}\n{THEN}\nwindow: {{count: 5, within: soon}}"),
        "f.yaml: rule 'r': window.within: 'soon' is not a duration (such as 500ms, 60s, 10m, 1h)",
    ),
    (
        _rule(f"match: {{span: x}}\n{THEN}\nwindow: {{count: 5, within: 2d}}"),
        "f.yaml: rule 'r': window.within: '2d' is not a duration",
    ),
    (
        _rule(f"match: {{span: x}}\n{THEN}\nwindow: {{count: 0, within: 1s}}"),
        "f.yaml: rule 'r': window.count: Input should be greater than or equal to 1",
    ),
    (
        _rule(f"match: {{span: x}}\n{THEN}\nwindow: {{count: 5000, within: 1s}}"),
        "f.yaml: rule 'r': window.count: Input should be less than or equal to 1000",
    ),
    (
        _rule(f"match: {{status: FAILED}}\n{THEN}"),
        "f.yaml: rule 'r': match.status: 'FAILED' is no span status (UNSET, OK, ERROR)",
    ),
    (
        _rule(f"match: {{kind: server}}\n{THEN}"),
        "f.yaml: rule 'r': match.kind: 'server' is no span kind",
    ),
    (
        _rule(f"match: {{attributes: {{code: {{between: 1}}}}}}\n{THEN}"),
        "f.yaml: rule 'r': match.attributes.code",
    ),
    (
        _rule(THEN),
        "f.yaml: rule 'r': a rule has either `match` (with an optional window) or `correlate`",
    ),
    (
        _rule(f"match: {{span: x}}\n{THEN}", name="'bad name!'"),
        "f.yaml: rule 'bad name!': name: a rule name is 1-64 letters, digits and . _ : @ -",
    ),
    ("rules:\n  - match: {span: x}\n    " + THEN, "f.yaml: rule #1: name: Field required"),
    (
        _rule("match: {span: x}\nthen: {command: swarmsh.up.now}"),
        "f.yaml: rule 'r': then: unknown command 'swarmsh.up.now'",
    ),
    (
        _rule("match: {span: x}\nthen: {command: swarmsh.lean.define, args: {project: p}}"),
        "f.yaml: rule 'r': then: swarmsh.lean.define: Missing option '--problem'",
    ),
    (
        _rule("match: {span: x}\nthen: {command: swarmsh.lean.launch, args: {project: p}}"),
        "f.yaml: rule 'r': then: unknown command 'swarmsh.lean.launch'",
    ),
    (
        _rule(
            "match: {span: x}\nthen: {command: swarmsh.lean.define, args: {project: p, problem: x, size: 3}}"
        ),
        "f.yaml: rule 'r': then: swarmsh.lean.define has no argument 'size'",
    ),
    (
        _rule(
            "match: {span: x}\nthen: {command: swarmsh.lean.define, args: {project: 'p-{a b}', problem: x}}"
        ),
        "f.yaml: rule 'r': 'p-{a b}': {a b} is not a field name",
    ),
    (
        _rule(
            "match: {span: x}\nthen: {command: swarmsh.lean.define, args: {project: 'p-{', problem: x}}"
        ),
        "f.yaml: rule 'r': 'p-{': a lone '{' (write {{ for one)",
    ),
    (
        _rule(f"match: {{attributes: {{p: {{regex: '(a+)+$'}}}}}}\n{THEN}"),
        "f.yaml: rule 'r': regex '(a+)+$' nests a repeat inside a repeat (catastrophic backtracking)",
    ),
    (
        _rule(f"match: {{attributes: {{p: {{regex: '(a|b*)*'}}}}}}\n{THEN}"),
        "f.yaml: rule 'r': regex '(a|b*)*' repeats an alternation (catastrophic backtracking)",
    ),
    (
        _rule(f"match: {{attributes: {{p: {{regex: '.*a.*b'}}}}}}\n{THEN}"),
        "f.yaml: rule 'r': regex '.*a.*b' has 2 unbounded repeats and no ^ anchor: at most 2,"
        " an unanchored search counting as one",
    ),
    (
        _rule(f"match: {{attributes: {{p: {{regex: '^a+b+c+'}}}}}}\n{THEN}"),
        "f.yaml: rule 'r': regex '^a+b+c+' has 3 unbounded repeats: at most 2",
    ),
    (
        _rule(f"match: {{attributes: {{p: {{regex: '['}}}}}}\n{THEN}"),
        "f.yaml: rule 'r': regex '[' does not compile",
    ),
    (
        _rule(f"match: {{attributes: {{p: {{regex: '{'a' * 300}'}}}}}}\n{THEN}"),
        "f.yaml: rule 'r': regex longer than 256 characters",
    ),
    (
        _rule(f"correlate: {{within: 1m, steps: [{{span: a}}]}}\n{THEN}"),
        "f.yaml: rule 'r': correlate.steps: List should have at least 2 items",
    ),
    (
        _rule(
            f"correlate: {{within: 1m, steps: [{{span: a}}, {{span: b}}]}}\nwindow: {{count: 2, within: 1s}}\n{THEN}"
        ),
        "f.yaml: rule 'r': `window` applies to `match`",
    ),
    (
        _rule(f"match: {{span: x}}\nthrottle: {{once_within: -1}}\n{THEN}"),
        "f.yaml: rule 'r': throttle.once_within: -1 is not between 0 and 24h",
    ),
    (
        _rule(f"match: {{span: x}}\ngroup_by: ['a b']\n{THEN}"),
        "f.yaml: rule 'r': group_by: 'a b' is not a field name",
    ),
    (
        _rule(
            f"match: {{span: x}}\ngroup_by: [a]\nwindow: {{count: 2, within: 1s, group_by: [b]}}\n{THEN}"
        ),
        "f.yaml: rule 'r': group_by is given twice",
    ),
]


@pytest.mark.parametrize(("text", "message"), MISTAKES)
def test_each_mistake_has_its_own_message(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "f.yaml"
    path.write_text(text)
    with pytest.raises(RulebookError) as raised:
        load_rules([path])
    assert str(raised.value).startswith(str(tmp_path) + "/") or "no such" in str(raised.value)
    assert message in str(raised.value).replace(str(tmp_path) + "/", "")


def test_a_rule_name_used_twice_names_both_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yml").write_text(GOOD)
    with pytest.raises(RulebookError, match=r"b.yml: rule 'r': name already used in .*a.yaml"):
        load_rules([tmp_path])


def test_a_missing_path_and_the_issues_example_with_group_by_in_the_window(tmp_path: Path) -> None:
    with pytest.raises(RulebookError, match="no such file or directory"):
        load_rules([tmp_path / "nope.yaml"])
    book = parse_rulebook(
        """
rules:
  - name: checkout-errors
    match:
      span: "http.server.*"
      status: ERROR
      resource: {service.name: checkout}
    window: {count: 5, within: 60s, group_by: [service.name]}
    throttle: {once_within: 10m}
    then:
      command: swarmsh.lean.define
      args: {project: "incident-{service.name}", problem: "{count} errors in {service.name} within 60 s"}
""",
        "issue.yaml",
    )
    (rule,) = book.rules
    assert rule.group_by == ["service.name"]
    assert rule.window is not None and rule.window.within == 60.0
    assert rule.throttle is not None and rule.throttle.once_within == 600.0


def test_yaml_is_loaded_safely(tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("rules: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(RulebookError, match="not YAML"):
        load_rules([path])


def test_the_shipped_rulebooks_load() -> None:
    names = [r.name for r in load_rules([Path(__file__).parents[3] / "rules"])]
    assert names == ["checkout-errors", "deploy-failed", "deploy-regression", "slow-route"]
