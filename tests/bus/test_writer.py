"""JsonlWriter: whole lines, one write per batch, owner-only files, clear errors."""

from __future__ import annotations

import json
import multiprocessing
import os
import resource
import signal
from pathlib import Path

import pytest

from swarmsh.bus.writer import JsonlWriter
from swarmsh.errors import BusWriteError

PROCESSES = 8
LINES_EACH = 2000


def _write_many(path: str, writer_id: int, count: int) -> None:
    writer = JsonlWriter(Path(path), fsync="never")
    pad = "x" * (writer_id * 97 % 3000)  # lines of different sizes, some above PIPE_BUF
    for i in range(0, count, 10):
        batch = [
            (json.dumps({"writer": writer_id, "seq": i + j, "pad": pad}) + "\n").encode()
            for j in range(10)
        ]
        writer.append(batch)


def test_concurrent_processes_never_tear_or_lose_a_line(tmp_path: Path) -> None:
    path = tmp_path / "bus" / "spans.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_write_many, args=(str(path), w, LINES_EACH)) for w in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    lines = path.read_bytes().split(b"\n")
    assert lines.pop() == b""  # ends with a newline
    records = [json.loads(line) for line in lines]  # every line whole and valid
    assert len(records) == PROCESSES * LINES_EACH
    for w in range(PROCESSES):
        assert [r["seq"] for r in records if r["writer"] == w] == list(range(LINES_EACH))


def test_files_and_directories_are_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "spans.jsonl"
    JsonlWriter(path, fsync="always").append([b"{}\n"])
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700


def test_batch_must_end_with_newline(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        JsonlWriter(tmp_path / "x.jsonl").append([b"{}"])


def test_unwritable_path_raises_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(BusWriteError, match="cannot write"):
        JsonlWriter(blocker / "spans.jsonl").append([b"{}\n"])


def _append_over_limit(path: str, queue) -> None:  # type: ignore[no-untyped-def]
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))
    try:
        JsonlWriter(Path(path), fsync="never").append([b"x" * 60 + b"\n", b"y" * 60 + b"\n"])
    except BusWriteError as exc:
        queue.put(str(exc))
    else:
        queue.put("no error")


def test_a_batch_cut_by_a_file_size_limit_leaves_no_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    path.write_bytes(b'{"ok":1}\n')
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_append_over_limit, args=(str(path), queue))
    proc.start()
    proc.join(30)
    assert "file too large" in queue.get(timeout=5)
    assert path.read_bytes() == b'{"ok":1}\n'  # the partial batch was cut back off


def test_fsync_policy_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from swarmsh.errors import ConfigError

    monkeypatch.setenv("SWARMSH_FSYNC", "sometimes")
    with pytest.raises(ConfigError, match="SWARMSH_FSYNC"):
        JsonlWriter(tmp_path / "x.jsonl")
    monkeypatch.setenv("SWARMSH_FSYNC", "always")
    assert JsonlWriter(tmp_path / "x.jsonl").fsync == "always"
    assert os.environ["SWARMSH_FSYNC"] == "always"


def test_an_unfinished_last_line_never_swallows_the_next_batch(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    path.write_bytes(b'{"ok":1}\n{"torn": "by a writer kill')  # another writer died mid-line
    JsonlWriter(path, fsync="never").append([b'{"next":2}\n'])
    lines = path.read_bytes().split(b"\n")
    assert lines == [b'{"ok":1}', b'{"torn": "by a writer kill', b'{"next":2}', b""]
    JsonlWriter(path, fsync="never").append(
        [b'{"then":3}\n']
    )  # a whole last line: no newline added
    assert path.read_bytes().endswith(b'{"next":2}\n{"then":3}\n')
