"""The follower along a chain of rotated files: numbered rotations while down or between
two reads, and a writer still appending to the file that was just rotated away."""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import threading
from pathlib import Path

import pytest

from swarmsh.bus.follower import Follower
from swarmsh.bus.position import Position
from swarmsh.bus.records import SpanRecord
from swarmsh.bus.rotation import generations
from swarmsh.bus.writer import JsonlWriter, lock_path, wait_for_writers
from tests.bus.test_follower_cases import follower, ids, span


def rotate(bus: Path) -> None:
    """What logrotate's numbered scheme does: .9 → .10, …, .1 → .2, live → .1."""
    numbers = sorted(
        (int(p.name.rsplit(".", 1)[1]) for p in bus.parent.glob(bus.name + ".*[0-9]")),
        reverse=True,
    )
    for n in numbers:
        os.rename(f"{bus}.{n}", f"{bus}.{n + 1}")
    os.rename(bus, f"{bus}.1")


def write(bus: Path, first: int, count: int) -> None:
    JsonlWriter(bus, fsync="never").append([span(i) for i in range(first, first + count)])


def read_all(f: Follower[SpanRecord]) -> list[int]:
    got: list[int] = []
    while (batch := f.poll(0)) is not None:
        got += ids(batch)
    return got


def test_several_numbered_rotations_while_down_are_all_read_in_order(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    write(bus, 0, 3)
    f = follower(bus)
    checkpoint = f.poll(0)[0][1]  # handled span 0 only, then went down
    f.close()
    for generation in range(1, 4):
        rotate(bus)
        write(bus, generation * 3, 3)
    rotate(bus)  # and the newest one rotated too, before any writer made a new live file
    assert [p.name for p in generations(bus)][:-1] == [f"spans.jsonl.{n}" for n in (4, 3, 2, 1)]
    resumed = follower(bus, start=Position.from_dict(checkpoint.to_dict()))
    assert read_all(resumed) == list(range(1, 12))
    write(bus, 12, 2)  # the live file, once a writer makes it
    assert read_all(resumed) == [12, 13]


def test_renames_between_two_reads_skip_no_file(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    write(bus, 0, 1)
    f = follower(bus)
    assert ids(f.poll(0)) == [0]
    write(bus, 1, 1)  # lands in the old file after our last read
    for generation in range(2, 5):
        rotate(bus)
        write(bus, generation, 1)
    assert read_all(f) == [1, 2, 3, 4]


def test_a_checkpoint_from_before_the_first_file_reads_every_generation(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    f = follower(bus, start="end")  # no file yet
    checkpoint = f.position
    f.close()
    write(bus, 0, 2)
    rotate(bus)
    write(bus, 2, 1)
    assert read_all(follower(bus, start=checkpoint)) == [0, 1, 2]


def _lock_opened(events: list, name: str) -> bool:  # type: ignore[type-arg]
    return any(e.name == name for e in events)


def test_a_writer_still_appending_to_the_rotated_file_is_waited_for(tmp_path: Path) -> None:
    inotify_simple = pytest.importorskip("inotify_simple")
    bus = tmp_path / "spans.jsonl"
    write(bus, 0, 1)
    f = follower(bus)
    assert ids(f.poll(0)) == [0]
    # A writer takes the lock and opens the live path, just before the rename.
    lock = os.open(lock_path(bus), os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)
    old = os.open(bus, os.O_WRONLY | os.O_APPEND)
    rotate(bus)
    bus.write_bytes(span(2))  # the new live file
    watch = inotify_simple.INotify()
    watch.add_watch(str(tmp_path), inotify_simple.flags.OPEN)
    got: list[int] = []
    reader = threading.Thread(target=lambda: got.extend(ids(f.poll(0))))
    reader.start()
    # Until the reader reaches for the lock (or, without the fix, has moved on)...
    while reader.is_alive() and not _lock_opened(watch.read(timeout=10), lock_path(bus).name):
        pass
    os.write(old, span(1))  # ...then the writer appends to the old file and lets go
    os.close(old)
    os.close(lock)
    watch.close()
    reader.join(10)
    got += read_all(f)
    assert got == [1, 2]


def test_waiting_for_writers_is_bounded_and_needs_no_write_access(tmp_path: Path) -> None:
    bus = tmp_path / "rw" / "spans.jsonl"
    write(bus, 0, 1)
    ro = tmp_path / "ro"
    ro.mkdir()
    mounted = subprocess.run(["mount", "--bind", "-o", "ro", str(bus.parent), str(ro)], check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot bind-mount read-only here")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=False)
        with pytest.raises(OSError):
            os.open(ro / "spans.jsonl.lock", os.O_RDWR)  # the reader cannot write it
        assert wait_for_writers(ro / "spans.jsonl", 0.05)
        lock = os.open(lock_path(bus), os.O_RDWR)
        fcntl.flock(lock, fcntl.LOCK_EX)  # a writer that never lets go
        assert not wait_for_writers(ro / "spans.jsonl", 0.05)
        os.close(lock)
        assert wait_for_writers(ro / "spans.jsonl", 0.05)
    finally:
        subprocess.run(["umount", str(ro)], check=False)


def test_a_record_refused_after_its_file_was_left_is_read_back_from_its_generation(
    tmp_path: Path,
) -> None:
    from tests.conftest import read_jsonl

    bus = tmp_path / "spans.jsonl"
    write(bus, 0, 2)
    f = follower(bus)
    [_, (record, position)] = f.poll(0)
    rotate(bus)
    write(bus, 2, 1)
    assert read_all(f) == [2]  # now reading the new file
    f.dead_letter(record, position, "given up")
    [letter] = read_jsonl(tmp_path / "deadletter" / "t.jsonl")
    assert (letter["file"], letter["offset"]) == (str(bus) + ".1", len(span(0)))
    assert letter["line"] == span(1)[:-1].decode()
    (tmp_path / "spans.jsonl.1").unlink()  # gone: the record's own JSON, at no offset
    f.dead_letter(record, position, "given up")
    gone = read_jsonl(tmp_path / "deadletter" / "t.jsonl")[1]
    assert gone["offset"] is None and '"i":1' in gone["line"]


def test_an_empty_generation_older_by_its_time_than_the_one_before_is_no_way_back(
    tmp_path: Path,
) -> None:
    bus = tmp_path / "spans.jsonl"
    write(bus, 0, 1)
    f = follower(bus)
    assert ids(f.poll(0)) == [0]
    rotate(bus)
    bus.write_bytes(b"")  # logrotate's `create`: the new live file, empty...
    os.utime(bus, ns=(1, 1))
    with open(f"{bus}.1", "ab") as late:  # ...while a late writer appends to the old one
        late.write(span(1))
    assert read_all(f) == [1]  # and we are on the empty live file now
    rotate(bus)  # it is rotated before anyone wrote to it
    write(bus, 2, 1)
    assert read_all(f) == [2]  # not the older generation again


def test_a_lock_held_for_ever_delays_the_switch_only_so_long(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bus = tmp_path / "spans.jsonl"
    write(bus, 0, 1)
    f = follower(bus, writers_wait=0.1)
    assert ids(f.poll(0)) == [0]
    lock = os.open(lock_path(bus), os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)  # a writer stopped (SIGSTOP) while holding it
    try:
        rotate(bus)
        bus.write_bytes(span(1))
        with caplog.at_level(logging.WARNING):
            assert read_all(f) == [1]
        assert "lock kept taken for 0.1 s" in caplog.text
    finally:
        os.close(lock)


def test_a_planted_symlink_among_the_generations_is_passed_over(tmp_path: Path) -> None:
    bus = tmp_path / "spans.jsonl"
    elsewhere = tmp_path / "elsewhere.jsonl"
    write(elsewhere, 100, 2)
    write(bus, 0, 2)
    f = follower(bus, start="beginning")
    assert read_all(f) == [0, 1]
    os.rename(bus, f"{bus}.2")  # rotated away, and a link planted as the next generation
    os.symlink(elsewhere, f"{bus}.1")
    write(bus, 2, 2)
    assert read_all(f) == [2, 3]  # never the link's target, and the follower goes on
    f.close()
