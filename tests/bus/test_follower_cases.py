"""The follower, case by case: partial lines, rotation, truncation, limits, checkpoints, wake-ups."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pytest

from swarmsh.bus.deadletter import DeadLetterWriter
from swarmsh.bus.follower import Follower
from swarmsh.bus.position import Position
from swarmsh.bus.records import SpanRecord, dumps_line
from tests.conftest import read_jsonl


def span(i: int, name: str = "swarmsh.roberts.second") -> bytes:
    return dumps_line(
        {
            "name": name,
            "trace_id": f"{i + 1:032x}",
            "span_id": f"{i + 1:016x}",
            "parent_span_id": None,
            "timestamp": float(i),
            "attributes": {"i": i},
        }
    )


def follower(path: Path, start: Position | str = "beginning", **kw) -> Follower[SpanRecord]:  # type: ignore[no-untyped-def]
    dead = DeadLetterWriter(path.parent / "deadletter" / "t.jsonl")
    return Follower(
        path, reader="t", parse=SpanRecord.from_json, deadletter=dead, start=start, **kw
    )


def ids(batch) -> list[int]:  # type: ignore[no-untyped-def]
    return [r.attributes["i"] for r, _ in batch or ()]


def test_a_partial_line_waits_for_its_newline(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    line = span(0)
    bus.write_bytes(line[:30])
    f = follower(bus)
    assert f.poll(0) is None
    with open(bus, "ab") as fh:
        fh.write(line[30:])
    batch = f.poll(0)
    assert ids(batch) == [0]
    assert batch[0][1].offset == len(line) == f.position.offset


def test_rename_rotation_drains_the_old_file_then_reads_the_new(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    bus.write_bytes(span(0))
    f = follower(bus)
    assert ids(f.poll(0)) == [0]
    with open(bus, "ab") as fh:
        fh.write(span(1))  # lands in the old file after we last read it
    bus.rename(tmp_path / "spans.jsonl.1")
    bus.write_bytes(span(2))
    got = []
    while batch := f.poll(0):
        got += ids(batch)
    assert got == [1, 2]
    assert f.position.offset == len(span(2))


def test_truncation_restarts_at_zero_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bus = tmp_path / "spans.jsonl"
    bus.write_bytes(span(0) + span(1))
    f = follower(bus)
    assert ids(f.poll(0)) == [0, 1]
    bus.write_bytes(span(2))  # same inode, shorter
    with caplog.at_level(logging.WARNING):
        assert ids(f.poll(0)) == [2]
    assert "truncated" in caplog.text


def test_malformed_lines_are_dead_lettered_and_reading_goes_on(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    bus.write_bytes(span(0) + b"not json\n" + b'{"name": "x"}\n' + span(3))
    reasons: list[str] = []
    f = follower(bus, on_malformed=reasons.append)
    assert ids(f.poll(0)) == [0, 3]
    letters = read_jsonl(tmp_path / "deadletter" / "t.jsonl")
    assert [(d["offset"], d["line"]) for d in letters] == [
        (len(span(0)), "not json"),
        (len(span(0)) + 9, '{"name": "x"}'),
    ]
    assert reasons[0].startswith("not JSON") and "'trace_id'" in reasons[1]
    assert (tmp_path / "deadletter" / "t.jsonl").stat().st_mode & 0o777 == 0o600


def test_an_over_long_line_is_skipped_in_bounded_memory(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    huge = b'{"name": "swarmsh.roberts.open", "pad": "' + b"x" * (10 << 20) + b'"}\n'
    bus.write_bytes(span(0) + huge + span(2))
    f = follower(bus, max_line_bytes=1 << 20, chunk_size=64 << 10)
    got = []
    while batch := f.poll(0):
        got += ids(batch)
        assert len(f._buffer) <= (1 << 20) + (64 << 10)  # never holds the whole line
    assert got == [0, 2]
    [letter] = read_jsonl(tmp_path / "deadletter" / "t.jsonl")
    assert letter["reason"] == f"line longer than {1 << 20} bytes"
    assert letter["offset"] == len(span(0))


def test_restart_from_a_checkpoint_neither_repeats_nor_skips(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    bus.write_bytes(span(0) + span(1))
    f = follower(bus)
    first = f.poll(0)
    checkpoint = Position.from_dict(first[0][1].to_dict())  # as stored in the state DB
    f.close()
    with open(bus, "ab") as fh:
        fh.write(span(2))
    assert ids(follower(bus, start=checkpoint).poll(0)) == [1, 2]


def test_a_checkpoint_is_never_applied_to_another_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bus = tmp_path / "spans.jsonl"
    bus.write_bytes(span(0) * 3)
    f = follower(bus)
    f.poll(0)
    checkpoint = f.position
    f.close()
    bus.unlink()
    bus.write_bytes(span(7))  # a new file at the same path (maybe even the same inode)
    with caplog.at_level(logging.WARNING):
        assert ids(follower(bus, start=checkpoint).poll(0)) == [7]
    assert "another file" in caplog.text


def test_a_file_rotated_while_we_were_down_is_found_and_drained(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    bus.write_bytes(span(0) + span(1))
    f = follower(bus)
    f.poll(0)
    checkpoint = Position(f.position.identity, len(span(0)))  # we had handled only span 0
    f.close()
    bus.rename(tmp_path / "spans.jsonl.1")
    bus.write_bytes(span(2))
    resumed = follower(bus, start=checkpoint)
    got = []
    while batch := resumed.poll(0):
        got += ids(batch)
    assert got == [1, 2]


def test_start_at_the_end(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    bus.write_bytes(span(0))
    f = follower(bus, start="end")
    assert f.poll(0) is None
    with open(bus, "ab") as fh:
        fh.write(span(1))
    assert ids(f.poll(0)) == [1]


def test_a_missing_file_is_waited_for(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    f = follower(bus, start="end")
    assert f.poll(0) is None
    bus.write_bytes(span(0))
    assert ids(f.poll(1)) == [0]


@pytest.mark.parametrize("inotify", [True, False])
def test_a_write_wakes_a_waiting_poll(tmp_path: Path, inotify: bool) -> None:
    bus = tmp_path / "spans.jsonl"
    bus.write_bytes(b"")
    f = follower(bus, use_inotify=inotify)
    writer = threading.Timer(0.2, lambda: bus.write_bytes(span(0)))
    writer.start()
    began = time.monotonic()
    assert ids(f.poll(5)) == [0]
    assert time.monotonic() - began < 1.0  # woken, not timed out
    writer.join()


def test_wakeup_interrupts_a_poll(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    bus.write_bytes(b"")
    f = follower(bus)
    threading.Timer(0.1, f.wakeup).start()
    began = time.monotonic()
    assert f.poll(5) is None
    assert time.monotonic() - began < 1.0


def test_behind_it_reads_many_chunks_per_batch_and_live_it_returns_at_once(
    tmp_path: Path,
) -> None:
    bus = tmp_path / "spans.jsonl"
    bus.write_bytes(b"".join(span(i) for i in range(1000)))
    per_chunk = 4096 // len(span(0))
    f = follower(bus, chunk_size=4096, batch_records=300)
    batches = []
    while batch := f.poll(0):
        batches.append(ids(batch))
    assert [i for b in batches for i in b] == list(range(1000))
    # Behind: chunks are read until the batch holds 300 records (not one chunk's worth).
    assert all(300 <= len(b) < 300 + per_chunk for b in batches[:-1])
    # Live: one record appended is handed over at once, without waiting for more.
    with open(bus, "ab") as fh:
        fh.write(span(1000))
    assert ids(f.poll(0)) == [1000]


def test_an_unfinished_tail_cut_back_is_not_a_truncation(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bus = tmp_path / "spans.jsonl"
    bus.write_bytes(span(0) + span(1)[:-5])  # a writer's short write (disk full)...
    f = follower(bus)
    assert ids(f.poll(0)) == [0]
    os.truncate(bus, len(span(0)))  # ...cut back by that writer
    with caplog.at_level(logging.WARNING):
        assert f.poll(0) is None  # nothing new, and nothing read again
        with open(bus, "ab") as fh:
            fh.write(span(2))
        assert ids(f.poll(0)) == [2]
    assert "truncated" not in caplog.text
    assert f.position.offset == len(span(0)) + len(span(2))


def test_an_unfinished_tail_cut_back_and_replaced_before_we_look_is_read_afresh(
    tmp_path: Path,
) -> None:
    bus = tmp_path / "spans.jsonl"
    bus.write_bytes(span(0) + span(1)[:-5])
    f = follower(bus)
    assert ids(f.poll(0)) == [0]
    os.truncate(bus, len(span(0)))  # cut back, and the next writer appends at once:
    with open(bus, "ab") as fh:  # the file is longer than what we had read
        fh.write(span(2, "swarmsh.roberts.open") + span(3))
    assert ids(f.poll(0)) == [2, 3]
    assert not (tmp_path / "deadletter" / "t.jsonl").exists()


def test_whole_lines_of_a_write_cut_back_are_not_a_truncation(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bus = tmp_path / "spans.jsonl"
    bus.write_bytes(span(0))
    f = follower(bus)
    assert ids(f.poll(0)) == [0]
    with open(bus, "ab") as fh:
        fh.write(span(1) + span(2)[:20])  # a batch cut short after one whole line...
    assert ids(f.poll(0)) == [1]
    os.truncate(bus, len(span(0)) + 25)  # ...and cut back, mid-line by someone's mistake
    with caplog.at_level(logging.WARNING):
        assert f.poll(0) in ([], None)  # woken by the cut: nothing to re-read
        with open(bus, "ab") as fh:
            fh.write(b"\n" + span(3))  # as JsonlWriter appends after an unfinished line
        assert ids(f.poll(0)) == [3]
    assert "lost its tail" in caplog.text and "truncated" not in caplog.text


def test_a_record_refused_after_parsing_is_dead_lettered_like_a_parse_failure(
    tmp_path: Path,
) -> None:
    bus = tmp_path / "spans.jsonl"
    bus.write_bytes(span(0) + b"not json\n" + span(2))
    f = follower(bus)
    [_, (record, position)] = f.poll(0)
    f.dead_letter(record, position, "unknown span name")
    parse_failure, refused = read_jsonl(tmp_path / "deadletter" / "t.jsonl")
    start = len(span(0)) + len(b"not json\n")
    assert refused["offset"] == start and parse_failure["offset"] == len(span(0))
    assert refused["line"] == span(2)[:-1].decode()  # the line itself, as text
    assert refused["line_bytes"] == len(span(2)) - 1
    assert refused["reason"] == "unknown span name" and refused["file"] == str(bus)
    assert set(refused) == set(parse_failure)
