"""Plumbing for benchmarks.jetstream: a temporary nats-server, filling the spans stream from a
bus file, and draining it with the real roberts runner."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

CHUNK = 2000  # messages published concurrently, then all acknowledgements awaited


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a live process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def nats_server(tmp: Path) -> Iterator[tuple[str, int]]:
    """`nats-server -js` on a loopback port with its store in `tmp`; its URL and pid."""
    binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
    port, monitor = _free_port(), _free_port()
    argv = [binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-m", str(monitor)]
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [*argv, "-sd", str(tmp / "nats-store")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/healthz", timeout=1):  # noqa: S310
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("nats-server did not start") from None
                time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}", proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


def _connect(url: str):  # type: ignore[no-untyped-def]
    from swarmsh.bus.jetstream.connection import NatsConnection
    from swarmsh.bus.jetstream.settings import nats_settings

    return NatsConnection.open(nats_settings(url), name="bench")


def publish_bus_file(url: str, bus: Path) -> tuple[int, float]:
    """Publish every line of `bus` to its span subject; (the stream sequence of the last
    roberts span, seconds it took)."""
    from swarmsh.bus.jetstream.streams import ensure_streams
    from swarmsh.bus.jetstream.subjects import SPANS_STREAM, span_subject

    conn = _connect(url)
    last_relevant = 0
    try:
        ensure_streams(conn)
        began = time.perf_counter()
        with open(bus, "rb") as fh:
            while lines := [line.rstrip(b"\n") for _, line in zip(range(CHUNK), fh, strict=False)]:
                names = [str(orjson.loads(line)["name"]) for line in lines]
                acks = conn.publish_all(
                    [(span_subject(n), line, None) for n, line in zip(names, lines, strict=True)],
                    stream=SPANS_STREAM,
                )
                for name, ack in zip(names, acks, strict=True):
                    if name.startswith("swarmsh.roberts."):
                        last_relevant = max(last_relevant, int(ack.seq))
        return last_relevant, time.perf_counter() - began
    finally:
        conn.close()


def wait_consumers(url: str, readers: tuple[str, ...], timeout: float = 30.0) -> None:
    """Until those readers' durable consumers exist (the daemons have started)."""
    from swarmsh.bus.jetstream.inspect import missing_consumers

    conn = _connect(url)
    try:
        deadline = time.monotonic() + timeout
        while missing_consumers(conn, readers):
            if time.monotonic() > deadline:
                raise RuntimeError(f"no consumers for {readers} within {timeout}s")
            time.sleep(0.05)
    finally:
        conn.close()


def agent_drain_seconds(home: Path, last_relevant: int) -> tuple[float, int]:
    """The real roberts runner (as its daemon runs it) from the stream's first message until
    it has committed the last roberts span; (seconds, spans it handled)."""
    from swarmsh.agents import roberts
    from swarmsh.agents.runner import AgentRunner
    from swarmsh.config import Paths
    from swarmsh.daemon import settle_heap
    from swarmsh.telemetry import setup_telemetry

    paths = Paths(home).secure()
    os.environ["SWARMSH_HOME"] = str(home)
    telemetry = setup_telemetry("swarmsh-roberts", paths.bus, otlp=False)
    runner = AgentRunner(roberts.AGENT, paths, telemetry, start="beginning")
    settle_heap()
    stop = threading.Event()
    handled = 0
    began = time.perf_counter()
    follower: Any = runner.follower  # on JetStream: its position is a stream sequence
    while follower.position.seq < last_relevant:
        items = runner.follower.poll(1.0)
        if items:
            handled += len(items)
            runner.process(items, stop)
    elapsed = time.perf_counter() - began
    runner.close()
    telemetry.shutdown()
    return elapsed, handled
