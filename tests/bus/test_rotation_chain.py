"""The chain of generations of a bus file: which files, in which order."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from swarmsh.bus.rotation import generations, list_generations, rotated_files


def make(directory: Path, name: str, mtime: int) -> None:
    (directory / name).write_bytes(b"{}\n")
    os.utime(directory / name, ns=(mtime, mtime))


def test_numbered_generations_are_ordered_by_number_whatever_their_times(tmp_path: Path) -> None:
    # .1 was made empty (logrotate's `create`) while a late writer still appended to .2.
    for name, mtime in [("spans.jsonl.3", 1), ("spans.jsonl.2", 30), ("spans.jsonl.1", 20)]:
        make(tmp_path, name, mtime * 10**9)
    make(tmp_path, "spans.jsonl", 5 * 10**9)
    make(tmp_path, "spans.jsonl.lock", 99 * 10**9)
    make(tmp_path, "spans.jsonl.4.gz", 0)
    assert [p.name for p in generations(tmp_path / "spans.jsonl")] == [
        "spans.jsonl.3",
        "spans.jsonl.2",
        "spans.jsonl.1",
        "spans.jsonl",
    ]


def test_other_schemes_are_ordered_by_last_write_then_name(tmp_path: Path) -> None:
    make(tmp_path, "spans.jsonl-20261125", 7 * 10**9)
    make(tmp_path, "spans.jsonl-20261124", 7 * 10**9)  # same tick: the name decides
    make(tmp_path, "spans.jsonl-old", 1 * 10**9)
    make(tmp_path, "spans.jsonl.1", 9 * 10**9)
    assert [p.name for p in rotated_files(tmp_path / "spans.jsonl")] == [
        "spans.jsonl-old",
        "spans.jsonl-20261124",
        "spans.jsonl-20261125",
        "spans.jsonl.1",
    ]
    assert generations(tmp_path / "spans.jsonl")[-1] == tmp_path / "spans.jsonl"  # even missing


def test_shifts_during_the_listing_never_hide_a_generation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bus = tmp_path / "spans.jsonl"
    for name in ("spans.jsonl.3", "spans.jsonl.2", "spans.jsonl.1", "spans.jsonl"):
        (tmp_path / name).write_bytes(name.encode())
    real_stat, shifts = os.stat, [0]

    def stat_while_logrotate_shifts(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if shifts[0] < 200:  # logrotate (`rotate 3`) runs again and again meanwhile
            shifts[0] += 1
            os.unlink(f"{bus}.3")
            for n in (2, 1):
                os.rename(f"{bus}.{n}", f"{bus}.{n + 1}")
            os.rename(bus, f"{bus}.1")
            bus.write_bytes(b"%d" % shifts[0])
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat_while_logrotate_shifts)
    chain = list_generations(bus)
    monkeypatch.setattr(os, "stat", real_stat)
    # One moment's chain, every generation once and in order: never one with a hole.
    expected = [
        tmp_path / n for n in ("spans.jsonl.3", "spans.jsonl.2", "spans.jsonl.1", "spans.jsonl")
    ]
    assert [(g.path, g.ino) for g in chain] == [(p, os.stat(p).st_ino) for p in expected]
