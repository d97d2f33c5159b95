"""The prefilter's region scan: one pass proves every line is '{"name":…}', then only lines
with a name prefix are looked at; any odd line sends the region line by line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmsh.bus.prefilter import NamePrefixFilter, name_prefix_filter

OURS = b'{"name":"swarmsh.roberts.open","attributes":{"a":1}}'
OTHER = b'{"name":"http.get","attributes":{"route":"/x"}}'
MENTION = b'{"name":"http.get","attributes":{"note":"see swarmsh.roberts.open"}}'
ODD = [
    b"",
    b"garbage",
    b"{}",
    b'{"nam":"http.get"}',
    b'{"name":"http.get"} ',
    b'{"name":"http.get"}\r',
    b'{"name":"http.get"',
    b'["name"]',
]


def region(*lines: bytes) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def kept(data: bytes, end: int | None = None) -> list[bytes] | None:
    spans = name_prefix_filter(["swarmsh.roberts."]).scan(data, end)
    return None if spans is None else [data[s:e] for s, e in spans]


def test_a_well_formed_region_keeps_only_lines_naming_the_prefix() -> None:
    assert kept(region(OTHER, OURS, OTHER, OTHER, OURS)) == [OURS, OURS]
    assert kept(region(OTHER, OTHER)) == []


def test_a_prefix_outside_the_name_needs_no_look_but_an_unquoted_filter_still_passes_it() -> None:
    assert kept(region(OTHER, MENTION)) == []
    spans = NamePrefixFilter(["swarmsh.roberts."]).scan(region(OTHER, MENTION))
    assert spans is not None and len(spans) == 1  # the rules agent's needles: anywhere


def test_an_escape_anywhere_falls_back_to_every_needle() -> None:
    escaped = b'{"name":"swarmsh\\u002eroberts.open"}'
    assert kept(region(OTHER, escaped, OTHER)) == [escaped]


@pytest.mark.parametrize("odd", ODD)
@pytest.mark.parametrize("where", [0, 1, 2])
def test_any_odd_line_sends_the_region_line_by_line(odd: bytes, where: int) -> None:
    lines = [OTHER, OTHER]
    lines.insert(where, odd)
    assert kept(region(*lines)) is None


def test_end_bounds_the_region_without_a_copy() -> None:
    data = region(OTHER, OURS) + b'{"name":"swarmsh.roberts.cut'
    assert kept(data, len(region(OTHER, OURS))) == [OURS]
    assert kept(region(OTHER) + b"junk\n", len(region(OTHER))) == []


@given(st.lists(st.sampled_from([OURS, OTHER, MENTION, *ODD]), min_size=1, max_size=12))
def test_the_scan_agrees_with_a_line_by_line_reading(lines: list[bytes]) -> None:
    result = kept(region(*lines))
    well_formed = all(line.startswith(b'{"name":') and line.endswith(b"}") for line in lines)
    assert (result is not None) == well_formed
    if result is not None:
        assert result == [line for line in lines if b'"swarmsh.roberts.' in line]
