"""Secure by default: no shell, eval, exec or pickle; owner-only files; no inet control server."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = [
    (r"shell\s*=\s*True", "shell=True"),
    (r"(?<![\w.])eval\(", "eval("),
    (r"(?<![\w.])exec\(", "exec("),
    (r"\bpickle\b", "pickle"),
    (r"\bmarshal\.loads\b", "marshal.loads"),
    (r"\bos\.system\(", "os.system("),
    (r"\bos\.popen\(", "os.popen("),
    (r"yaml\.load\(", "yaml.load("),
]


@pytest.mark.parametrize(("pattern", "what"), FORBIDDEN, ids=[w for _, w in FORBIDDEN])
def test_the_package_never_uses(pattern: str, what: str) -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for path in sorted((REPO / "swarmsh").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(pattern, line) and not line.lstrip().startswith("#")
    ]
    assert offenders == [], f"{what} in {offenders}"


def test_the_grep_would_catch_a_violation(tmp_path: Path) -> None:
    sample = "subprocess.run(cmd, shell=True)\nvalue = eval(text)\nimport pickle\n"
    hits = [what for pattern, what in FORBIDDEN if re.search(pattern, sample)]
    assert hits == ["shell=True", "eval(", "pickle"]


def test_supervisord_conf_has_only_an_owner_only_unix_socket() -> None:
    parser = configparser.RawConfigParser(inline_comment_prefixes=(";",))
    parser.read(REPO / "supervisord.conf")
    assert "inet_http_server" not in parser.sections()
    assert parser.get("unix_http_server", "chmod") == "0700"
    assert parser.get("supervisord", "umask") == "077"
    assert parser.get("supervisorctl", "serverurl").startswith("unix://")
    programs = [s for s in parser.sections() if s.startswith("program:")]
    assert sorted(programs) == [
        "program:executor",
        "program:lean",
        "program:roberts",
        "program:scrum",
    ]
    for section in programs:
        assert parser.get(section, "command").startswith("%(here)s/.venv/bin/python -m swarmsh.")
        assert parser.get(section, "stopsignal") == "TERM"
        assert parser.get(section, "stopasgroup") == parser.get(section, "killasgroup") == "true"
        assert "PYTHONUNBUFFERED" in parser.get(section, "environment")
