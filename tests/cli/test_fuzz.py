"""CLI fuzzing (hypothesis): whatever the options, no traceback; bad input exits 2, saying why."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swarmsh.cli import cli

COMMANDS = [
    ["roberts", "open"],
    ["roberts", "close"],
    ["roberts", "vote"],
    ["roberts", "call-to-order"],
    ["scrum", "plan"],
    ["scrum", "review"],
    ["scrum", "daily"],
    ["lean", "define"],
    ["lean", "measure"],
    ["lean", "improve"],
    ["trace"],
    ["tail"],
]
OPTIONS = [
    "--meeting",
    "--kind",
    "--sprint",
    "--team",
    "--yes",
    "--no",
    "--abstain",
    "--threshold",
    "--velocity",
    "--defect-rate",
    "--satisfaction",
    "--metric",
    "--savings",
    "--problem",
    "--capacity",
    "--method",
    "--blocker",
    "--pilot-success",
    "--status",
    "-n",
    "--bogus",
    "--",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "-1",
            "0",
            "42",
            "1e999",
            "nan",
            "sprint",
            "x" * 2000,
            "../../etc",
            "a=b",
            "",
            "two-thirds",
            "\x00",
            "--help",
            "éü",
            "$(reboot)",
        ]
    ),
    st.text(max_size=20),
)
ARGV = st.tuples(
    st.sampled_from(COMMANDS), st.lists(st.one_of(st.sampled_from(OPTIONS), VALUES), max_size=8)
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(argv=ARGV)
def test_no_traceback_ever_reaches_the_user(home: Path, argv) -> None:  # type: ignore[no-untyped-def]
    command, rest = argv
    result = CliRunner().invoke(cli, [*command, *rest])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in (0, 1, 2)
    if result.exit_code == 2:
        assert "Error" in result.output
