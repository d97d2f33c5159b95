"""A batch that fails for want of space is never seen by a reader, on a real full disk.

The writer cuts a failed batch back off; a Follower that read between its write and the cut
would hand out records reported unwritten, and keep an offset past the cut, from which it
later reads the middle of other lines. The reader here reads at that worst moment: just
before the writer's real ftruncate runs (the disk, the writes and the cut are all real).
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import resource
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from swarmsh.bus.follower import Follower
from swarmsh.bus.writer import JsonlWriter
from swarmsh.errors import BusWriteError, MalformedRecord
from tests.diskfull import fill, free, small_disk


@contextlib.contextmanager
def ext4_disk(path: Path, image: Path) -> Iterator[Path]:
    """A small ext4 file system on a loop device (root only); skip where that is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["truncate", "-s", "8M", str(image)], check=True)
    made = subprocess.run(["mkfs.ext4", "-q", "-b", "4096", str(image)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("cannot make an ext4 file system here")
    mounted = subprocess.run(["mount", "-o", "loop", str(image), str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a loop device here")
    try:
        os.chmod(path, 0o700)
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture(params=["tmpfs", "ext4"])
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    if request.param == "tmpfs":
        with small_disk(tmp_path / "disk", "2m") as path:
            yield path
    else:
        with ext4_disk(tmp_path / "disk", tmp_path / "ext4.img") as path:
            yield path


def _parse(line: bytes) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise MalformedRecord(f"not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise MalformedRecord("not an object")
    return record


def _lines(tag: str, count: int, size: int = 200) -> list[bytes]:
    return [
        (json.dumps({"tag": tag, "seq": i, "pad": "x" * size}) + "\n").encode()
        for i in range(count)
    ]


def _ids(items: list[Any] | None) -> list[tuple[str, int]]:
    return [(record["tag"], record["seq"]) for record, _ in items or []]


def _read_before_cuts(monkeypatch: pytest.MonkeyPatch, read: Callable[[], None]) -> list[int]:
    """Run `read` just before every real ftruncate (the writer's cut); return their sizes."""
    cuts: list[int] = []
    real = os.ftruncate

    def read_then_cut(fd: int, length: int) -> None:
        read()
        cuts.append(length)
        real(fd, length)

    monkeypatch.setattr(os, "ftruncate", read_then_cut)
    return cuts


def test_a_batch_failed_for_space_is_never_seen_by_a_reader(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = disk / "spans.jsonl"
    writer = JsonlWriter(path, fsync="always")
    before = _lines("before", 4)  # past the bytes a reader fingerprints the file by
    writer.append(before)
    malformed: list[str] = []
    follower = Follower(
        path,
        reader="t",
        parse=_parse,
        deadletter=None,
        start="beginning",
        on_malformed=malformed.append,
        use_inotify=False,
    )
    try:
        assert _ids(follower.poll(0)) == [("before", i) for i in range(4)]
        fill(disk)
        free_blocks = os.statvfs(disk).f_bfree
        # Larger than the room left in the file's last block: without a reservation, part
        # of it (some whole lines) lands before the disk refuses the rest.
        during: list[tuple[str, int]] = []
        cuts = _read_before_cuts(monkeypatch, lambda: during.extend(_ids(follower.poll(0))))
        with pytest.raises(BusWriteError, match="no space left"):
            writer.append(_lines("failed", 40))
        monkeypatch.undo()
        assert cuts, "the writer never cut the failed batch back"
        assert os.statvfs(disk).f_bfree == free_blocks  # no block kept by the failed batch
        free(disk)
        writer.append(_lines("after", 60))  # lands over where the failed batch was cut
        later: list[tuple[str, int]] = []
        while batch := follower.poll(0):
            later.extend(_ids(batch))
    finally:
        follower.close()
    # Nothing of the failed batch handed out, and the reader's offset still on a line start.
    assert (during, later, malformed) == ([], [("after", i) for i in range(60)], [])
    assert path.read_bytes() == b"".join(before + _lines("after", 60))


def _append_over_limit(path: str, queue: Any) -> None:
    # SIGXFSZ at its default (Python ignores it): a write past the limit kills this process.
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
    try:
        JsonlWriter(Path(path), fsync="never").append(_lines("over", 10))
    except BusWriteError as exc:
        queue.put(str(exc))
    else:
        queue.put("no error")


def test_a_batch_over_the_file_size_limit_is_refused_before_any_byte(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    path.write_bytes(b'{"ok":1}\n')
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_append_over_limit, args=(str(path), queue))
    proc.start()
    proc.join(30)
    assert proc.exitcode == 0, f"killed by signal {-(proc.exitcode or 0)}: it wrote past the limit"
    assert "file too large" in queue.get(timeout=5)
    assert path.read_bytes() == b'{"ok":1}\n'


def test_without_a_reservation_a_failed_batch_is_still_cut_back_whole(
    disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the file system cannot reserve (fallocate unsupported), the batch is written as
    far as the disk allows and cut back to where it began: no torn line is left."""
    from swarmsh import fsutil

    monkeypatch.setattr(fsutil, "_fallocate", False)  # as on a libc without fallocate
    path = disk / "spans.jsonl"
    writer = JsonlWriter(path, fsync="always")
    before = _lines("before", 4)
    writer.append(before)
    fill(disk)
    sizes: list[int] = []
    cuts = _read_before_cuts(monkeypatch, lambda: sizes.append(path.stat().st_size))
    with pytest.raises(BusWriteError, match="no space left"):
        writer.append(_lines("failed", 40))
    assert cuts == [len(b"".join(before))]
    assert sizes[0] > cuts[0]  # part of the batch had landed
    assert path.read_bytes() == b"".join(before)
