"""Running the real shipper and the real CLI as processes, against the test OTLP receivers."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from tests.failpoint_launch import ENV_FAILPOINTS, launch_argv


def otlp_env(endpoint: str, protocol: str = "grpc") -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": protocol}


def start_shipper(
    home: Path, env: dict[str, str], *args: str, failpoints: str = ""
) -> subprocess.Popen[bytes]:
    full = {**os.environ, "SWARMSH_HOME": str(home), **env, "SWARMSH_LOG_LEVEL": "INFO"}
    argv = [sys.executable, "-m", "swarmsh.shipper", *args]
    if failpoints:
        full[ENV_FAILPOINTS] = failpoints
        argv = launch_argv("swarmsh.shipper", *args)
    home.mkdir(mode=0o700, exist_ok=True)
    log = open(home / "shipper.log", "ab")  # noqa: SIM115 - the child keeps it
    return subprocess.Popen(argv, env=full, stdout=log, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> int:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    return process.wait(15)


@contextmanager
def shipping(home: Path, env: dict[str, str], *args: str) -> Iterator[subprocess.Popen[bytes]]:
    process = start_shipper(home, env, *args)
    try:
        yield process
    finally:
        stop(process)


def committed_offset(home: Path) -> int | None:
    db = home / "state" / "shipper.db"
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            row = conn.execute("SELECT position FROM checkpoint WHERE reader='shipper'").fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else int(orjson.loads(row[0])["offset"])


def wait_committed_to_end(home: Path, timeout: float = 20.0) -> None:
    """Until the shipper's checkpoint is at the bus's end (all of it acknowledged)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if committed_offset(home) == (home / "spans.jsonl").stat().st_size:
            return
        time.sleep(0.05)  # the checkpoint is another process's SQLite: no event to wait on
    raise TimeoutError(f"shipper committed {committed_offset(home)}; log: {log_of(home)}")


def log_of(home: Path) -> str:
    path = home / "shipper.log"
    return path.read_text(errors="replace") if path.exists() else ""
