"""`swarmsh tail` and `swarmsh trace` on a NATS bus (real CLI processes, real nats-server):
the newest matching spans read back from the stream within `--scan`, `tail -f` with a local
JSONL `--mirror`, and traces found by id or as the newest one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

from swarmsh.bus.jetstream.subjects import SPANS_STREAM, span_subject
from tests.conftest import run_cli as swarmsh
from tests.jetstream.servers import NatsServer
from tests.jetstream.streamread import connect

NOISE_TRACE = "ab" * 16


def noise(url: str, count: int) -> None:
    """`count` spans of another service (one trace), published straight to the stream."""
    conn = connect(url)
    try:
        for start in range(0, count, 500):
            batch = []
            for i in range(start, min(count, start + 500)):
                record = {
                    "name": "db.query",
                    "trace_id": NOISE_TRACE,
                    "span_id": f"{i + 1:016x}",
                    "parent_span_id": None,
                    "kind": "CLIENT",
                    "timestamp": 1764000000.0 + i / 1000,
                    "duration_ms": 1.0,
                    "status": "OK",
                    "status_message": None,
                    "sampled": True,
                    "attributes": {"db.system": "postgresql"},
                    "events": [],
                    "links": [],
                    "resource": {"service.name": "shop"},
                }
                batch.append((span_subject("db.query"), orjson.dumps(record), None))
            conn.publish_all(batch, stream=SPANS_STREAM)
    finally:
        conn.close()


def trace_of(out: str) -> str:
    return out.strip().rsplit("trace=", 1)[1]


def test_tail_shows_the_newest_matching_spans_within_the_scan(
    home: Path, nats_server: NatsServer, nats_env: dict[str, str]
) -> None:
    opened = swarmsh(home, {}, "roberts", "open", "m1", "--meeting", "board")
    assert opened.returncode == 0, opened.stderr
    assert swarmsh(home, {}, "roberts", "second", "m1").returncode == 0
    noise(nats_server.url, 3000)  # the roberts spans are three windows back

    shown = swarmsh(home, {}, "tail", "-n", "2", "--agent", "roberts")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert len(lines) == 2
    assert "swarmsh.roberts.open" in lines[0] and "swarmsh.roberts.second" in lines[1]

    raw = swarmsh(home, {}, "tail", "-n", "3", "--json")
    records = [json.loads(line) for line in raw.stdout.splitlines()]
    assert [r["span_id"] for r in records] == [f"{i:016x}" for i in (2998, 2999, 3000)]

    bounded = swarmsh(home, {}, "tail", "-n", "2", "--agent", "roberts", "--scan", "2999")
    assert bounded.returncode == 0 and bounded.stdout == ""  # one span short of them
    one = swarmsh(home, {}, "tail", "-n", "2", "--agent", "roberts", "--scan", "3001")
    assert one.stdout.count("swarmsh.roberts.") == 1  # the newer one only
    assert not (home / "spans.jsonl").exists()


def test_tail_follow_prints_new_spans_and_mirrors_them_to_a_local_jsonl(
    home: Path, nats_server: NatsServer, nats_env: dict[str, str], tmp_path: Path
) -> None:
    assert swarmsh(home, {}, "roberts", "open", "old", "--meeting", "board").returncode == 0
    mirror = tmp_path / "copy" / "spans.jsonl"
    mirror.parent.mkdir(mode=0o700)
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "swarmsh",
            "tail",
            "-f",
            "-n",
            "0",
            "--json",
            "--mirror",
            str(mirror),
        ],
        env={**os.environ, "SWARMSH_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while not mirror.exists() and time.monotonic() < deadline:
            swarmsh(home, {}, "roberts", "second", "probe")  # until the follower is reading
            time.sleep(0.2)
        for motion in ("a", "b", "c"):
            assert swarmsh(home, {}, "roberts", "second", motion).returncode == 0
        while time.monotonic() < deadline:
            copied = [json.loads(line) for line in mirror.read_text().splitlines()]
            if [r["attributes"]["roberts.motion_id"] for r in copied][-3:] == ["a", "b", "c"]:
                break
            time.sleep(0.05)  # another process's appends: polled with a deadline
    finally:
        follower.send_signal(signal.SIGINT)
        out, err = follower.communicate(timeout=20)
    printed = [json.loads(line) for line in out.decode().splitlines()]
    assert printed == copied  # what it showed is what it copied
    motions = [r["attributes"]["roberts.motion_id"] for r in printed]
    assert "old" not in motions and motions[-3:] == ["a", "b", "c"]  # -n 0: only new ones
    assert mirror.stat().st_mode & 0o777 == 0o600


def test_trace_by_id_and_last_within_the_scan(
    home: Path, nats_server: NatsServer, nats_env: dict[str, str]
) -> None:
    opened = swarmsh(home, {}, "roberts", "open", "m1", "--meeting", "board")
    trace_id = trace_of(opened.stdout)
    noise(nats_server.url, 1500)

    shown = swarmsh(home, {}, "trace", trace_id)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == f"trace {trace_id}  (1 spans)"
    assert "swarmsh.roberts.open  cli" in shown.stdout

    last = swarmsh(home, {}, "trace", "--last", "--name", "swarmsh.roberts.", "--json")
    assert [json.loads(line)["trace_id"] for line in last.stdout.splitlines()] == [trace_id]
    newest = swarmsh(home, {}, "trace", "--last", "--json")
    assert {json.loads(line)["trace_id"] for line in newest.stdout.splitlines()} == {NOISE_TRACE}

    beyond = swarmsh(home, {}, "trace", trace_id, "--scan", "1500")
    assert beyond.returncode == 1
    assert f"trace {trace_id} is not on the bus" in beyond.stderr


def test_on_a_fresh_server_tail_shows_nothing_and_trace_finds_nothing(
    home: Path, nats_server: NatsServer, nats_env: dict[str, str]
) -> None:
    shown = swarmsh(home, {}, "tail", "-n", "5")
    assert (shown.returncode, shown.stdout, shown.stderr) == (0, "", "")
    missing = swarmsh(home, {}, "trace", "ab" * 16)
    assert missing.returncode == 1 and "is not on the bus" in missing.stderr
    last = swarmsh(home, {}, "trace", "--last")
    assert last.returncode == 1 and "no matching span on the bus" in last.stderr


def test_tail_follow_goes_on_across_a_server_restart(
    home: Path, nats_server: NatsServer, nats_env: dict[str, str], tmp_path: Path
) -> None:
    mirror = tmp_path / "copy.jsonl"
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "swarmsh",
            "tail",
            "-f",
            "-n",
            "0",
            "--json",
            "--mirror",
            str(mirror),
        ],
        env={**os.environ, "SWARMSH_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def motions() -> list[str]:
        if not mirror.exists():
            return []
        return [json.loads(line)["attributes"]["roberts.motion_id"] for line in mirror.open()]

    try:
        deadline = time.monotonic() + 20
        while "before" not in motions() and time.monotonic() < deadline:
            swarmsh(home, {}, "roberts", "second", "before")  # until the follower reads
            time.sleep(0.2)
        nats_server.kill()
        nats_server.start()  # its store: the spans so far are still there
        for motion in ("after1", "after2"):
            assert swarmsh(home, {}, "roberts", "second", motion).returncode == 0
        while motions()[-2:] != ["after1", "after2"] and time.monotonic() < deadline + 20:
            assert follower.poll() is None, follower.stderr.read() if follower.stderr else ""
            time.sleep(0.1)  # another process's appends: polled with a deadline
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(20)
    seen = motions()
    assert seen[-2:] == ["after1", "after2"]
    assert seen.count("after1") == 1 and seen.count("after2") == 1  # nothing twice
