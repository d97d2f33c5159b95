"""Safe text: one definition of the characters that may enter the swarm, used by every CLI
parameter that takes text, and the escaping used wherever foreign text is printed."""

from __future__ import annotations

import json
import sys
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from swarmsh.cli import cli
from swarmsh.errors import CommandRejected
from swarmsh.executor.validate import build_argv
from swarmsh.safetext import UNSAFE, escape, refusal, shown
from tests.conftest import read_jsonl

ZWNJ, ZWJ = "\u200c", "\u200d"


def categorically_unsafe(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp") and char not in (ZWNJ, ZWJ)


def test_the_pattern_is_the_unicode_definition() -> None:
    """UNSAFE is spelled out as ranges (one C regex search per text); it must cover every
    control, format, separator and surrogate code point of the running Unicode database,
    and nothing else that is assigned."""
    missing, extra = [], []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        matched = UNSAFE.fullmatch(char) is not None
        if categorically_unsafe(char) and not matched:
            missing.append(f"U+{code:04X}")
        elif matched and not categorically_unsafe(char) and unicodedata.category(char) != "Cn":
            extra.append(f"U+{code:04X}")
    assert (missing, extra) == ([], [])


@pytest.mark.parametrize(
    "char",
    ["\x00", "\x07", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9b", "\u061c", "\u200b",
     "\u200e", "\u200f", "\u2028", "\u2029", "\u202a", "\u202e", "\u2066", "\u2069", "\ufeff",
     "\U000e0041"],
)  # fmt: skip
def test_controls_bidi_and_invisible_format_characters_are_unsafe(char: str) -> None:
    assert refusal(f"a{char}b") is not None
    assert UNSAFE.search(escape(f"a{char}b")) is None
    assert f"\\{'x' if ord(char) < 0x100 else 'u' if ord(char) < 0x10000 else 'U'}" in escape(char)


@pytest.mark.parametrize(
    "text",
    ["Start sprint 42", "naïve café — ½ Ünïcödé", "日本語のテキスト", "می\u200cخواهم",
     "👩\u200d💻 pairing", "a\u00a0b", "x = 5 % of {y}", "back\\slash"],
)  # fmt: skip
def test_ordinary_text_in_any_script_is_safe_and_shown_as_it_is(text: str) -> None:
    assert refusal(text) is None
    assert escape(text) == text


def test_escape_shows_what_is_there() -> None:
    assert (
        escape("ok\x1b[31mred\x07\u202eevil\U000e0041")
        == "ok\\x1b[31mred\\x07\\u202eevil\\U000e0041"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),
        (7, "7"),
        (2**64, "18446744073709551616"),
        pytest.param(10**5000, "<int of 16610 bits>", id="int beyond str()"),
        (1e300, "1e+300"),
        (float("nan"), "nan"),
        (float("-inf"), "-inf"),
        (True, "True"),
        (None, "None"),
        (["a", "\x1b\x85"], '["a","\\u001b\\x85"]'),  # JSON escapes C0, we the rest
        ({"k": [1, {"x": None}]}, '{"k":[1,{"x":null}]}'),
        ("x" * 2000, "x" * 1000 + "…(1000 more)"),
    ],
)
def test_shown_makes_any_record_value_one_safe_bounded_line(value: object, expected: str) -> None:
    assert shown(value) == expected


def test_shown_survives_what_json_cannot_hold() -> None:
    deep: list[object] = []
    for _ in range(1000):
        deep = [deep]
    assert shown(deep) == "<list>"
    assert shown(object()).startswith("<object")


TEXT_OPTIONS = [
    ["roberts", "open", "m1", "--meeting", "board", "--text"],
    ["scrum", "daily", "1", "--team", "a", "--blocker"],
    ["scrum", "retro", "1", "--team", "a", "--improvement"],
    ["lean", "define", "p1", "--problem"],
    ["lean", "analyze", "p1", "--root-cause"],
    ["lean", "improve", "p1", "--improvement"],
    ["lean", "control", "p1", "--process-change"],
]
HOSTILE = ["a\x1b[2Jb", "bell\x07", "cr\roverwrite", "nul\x00", "csi\x9b31m", "nel\x85",
           "\u202eevil", "iso\u2066late\u2069", "rlm\u200f", "tab\there"]  # fmt: skip


@pytest.mark.parametrize("argv", TEXT_OPTIONS, ids=[" ".join(a[:2]) for a in TEXT_OPTIONS])
@pytest.mark.parametrize("text", HOSTILE, ids=[repr(h) for h in HOSTILE])
def test_free_text_with_controls_or_bidi_is_a_usage_error(
    home: Path, argv: list[str], text: str
) -> None:
    result = CliRunner().invoke(cli, [*argv, text])
    assert result.exit_code == 2, result.output
    assert "control characters" in result.output
    assert UNSAFE.search(result.output.replace("\n", "")) is None  # the message is safe too
    assert not (home / "spans.jsonl").exists()


@pytest.mark.parametrize(
    "metric",
    ["x=\x1b[31mred", "x=a\x07", "x=a\rb", "x=a\x00b", "x=\u202eevil", "x=a\x85", "x=a\tb"],
)
def test_a_metric_with_controls_is_a_usage_error(home: Path, metric: str) -> None:
    result = CliRunner().invoke(cli, ["lean", "measure", "p1", "--metric", metric])
    assert result.exit_code == 2, result.output
    assert "control characters" in result.output
    assert not (home / "spans.jsonl").exists()


def test_the_executor_refuses_a_nul_from_the_queue() -> None:
    """The executor runs commands in-process: argv never passes through execve, so a NUL
    from the queue reaches click; the parameter type refuses it like any other control."""
    with pytest.raises(CommandRejected, match="control characters"):
        build_argv(cli, "swarmsh.lean.measure", {"project": "p1", "metric": ["a=b\x00c"]})
    with pytest.raises(CommandRejected, match="control characters"):
        build_argv(cli, "swarmsh.roberts.open", {"motion": "m", "meeting": "b", "text": "\u202e"})


@pytest.mark.parametrize(
    "argv",
    [
        ["tail", "--name", "swarm\x1b"],
        ["tail", "--agent", "\u202eroberts"],
        ["tail", "--trace", "\x07"],
        ["trace", "--last", "--name", "x\x9b"],
    ],
)
def test_operator_filters_refuse_unsafe_text(home: Path, argv: list[str]) -> None:
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert "control characters" in result.output


@pytest.mark.parametrize(
    "text", ["naïve café — ½", "日本語", "می\u200cخواهم", "👩\u200d💻 pairing"]
)
def test_text_in_any_script_is_recorded_exactly(home: Path, text: str) -> None:
    result = CliRunner().invoke(cli, ["lean", "define", "p1", "--problem", text])
    assert result.exit_code == 0, result.output
    [span] = read_jsonl(home / "spans.jsonl")
    assert span["attributes"]["lean.problem_statement"] == text


@pytest.mark.parametrize(
    "argv",
    [
        ["scrum", "review", "1", "--team", "a", "--velocity", "nan", "--defect-rate", "1"],
        ["scrum", "review", "1", "--team", "a", "--velocity", "inf", "--defect-rate", "1"],
        ["scrum", "review", "1", "--team", "a", "--velocity", "1", "--defect-rate", "nan"],
        ["scrum", "review", "1", "--team", "a", "--velocity", "1", "--defect-rate", "1",
         "--satisfaction", "nan"],
        ["lean", "improve", "p1", "--savings", "inf"],
        ["lean", "improve", "p1", "--savings", "nan"],
        ["scrum", "plan", str(2**64), "--team", "a"],
        ["scrum", "plan", "1", "--team", "a", "--capacity", str(2**64)],
    ],
)  # fmt: skip
def test_numbers_no_reader_could_use_are_usage_errors(home: Path, argv: list[str]) -> None:
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert not (home / "spans.jsonl").exists()


def test_semconv_check_prints_foreign_names_escaped(tmp_path: Path) -> None:
    spans = tmp_path / "spans.jsonl"
    record = {
        "name": "swarmsh.roberts.\x1b]0;pwned\x07",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": "00f067aa0ba902b7",
        "timestamp": 1764000000.0,
        "attributes": {"roberts.\u202eevil": 1},
    }
    spans.write_text(
        json.dumps(record) + "\n" + json.dumps({**record, "name": "swarmsh.roberts.open"}) + "\n"
    )
    result = CliRunner().invoke(cli, ["semconv", "check", str(spans)])
    assert result.exit_code == 1
    assert "\\x1b]0;pwned\\x07" in result.output and "\\u202eevil" in result.output
    assert UNSAFE.search(result.output.replace("\n", "")) is None


def test_trace_names_an_odd_home_escaped(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "x\x1b[2J"), "trace", "--last"])
    assert result.exit_code == 1
    assert "x\\x1b[2J" in result.output and "\x1b" not in result.output


@pytest.mark.parametrize(
    "argv", [["--timeout", "nan"], ["--timeout", "inf"], ["--sprint", str(2**64)]]
)
def test_demo_refuses_numbers_it_cannot_use(home: Path, argv: list[str]) -> None:
    result = CliRunner().invoke(cli, ["demo", "--no-start", *argv])
    assert result.exit_code == 2, result.output
