"""The workloads behind `python -m benchmarks`: buses to read, spans to write, agents to watch."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from swarmsh.bus.records import dumps_line

OTHER_SERVICES = ["http.server.request", "db.query", "cache.get", "queue.publish", "rpc.call"]


def make_bus(path: Path, lines: int, agent_share: float, seed: int = 7) -> Path:
    """`lines` realistic span records; `agent_share` of them roberts motion cycles, the rest
    spans of other services that roberts must skip."""
    rnd = random.Random(seed)
    motion = 0
    cycle: list[dict[str, Any]] = []
    with open(path, "wb") as fh:
        for i in range(lines):
            if rnd.random() < agent_share:
                if not cycle:
                    motion += 1
                    m, mt = f"m{motion}", f"meeting{motion}"
                    cycle = [
                        {
                            "roberts.motion_id": m,
                            "roberts.meeting_id": mt,
                            "roberts.motion.kind": "general",
                            "swarm.trigger": "open",
                        },
                        {"roberts.motion_id": m, "swarm.trigger": "second"},
                        {
                            "roberts.motion_id": m,
                            "roberts.voting_method": "voice",
                            "swarm.trigger": "vote",
                        },
                        {
                            "roberts.motion_id": m,
                            "roberts.votes.yes": 5,
                            "roberts.votes.no": 2,
                            "roberts.votes.abstain": 0,
                            "roberts.threshold": "majority",
                            "roberts.result": "passed",
                            "swarm.trigger": "close",
                        },
                    ]
                attrs = cycle.pop(0)
                name = f"swarmsh.roberts.{attrs['swarm.trigger']}"
                attrs = {"swarm.agent": "roberts", **attrs}
                service = "swarmsh-cli"
            else:
                name = rnd.choice(OTHER_SERVICES)
                attrs = {
                    "http.method": "GET",
                    "http.route": f"/api/v1/items/{i % 977}",
                    "http.status_code": 200,
                }
                service = "shop-frontend"
            fh.write(
                dumps_line(
                    {
                        "name": name,
                        "trace_id": f"{rnd.getrandbits(128) | 1:032x}",
                        "span_id": f"{rnd.getrandbits(64) | 1:016x}",
                        "parent_span_id": None,
                        "kind": "INTERNAL",
                        "timestamp": 1764000000.0 + i / 1000,
                        "duration_ms": 1.25,
                        "status": "OK",
                        "status_message": None,
                        "sampled": True,
                        "attributes": attrs,
                        "events": [],
                        "links": [],
                        "resource": {"service.name": service, "service.version": "1.0.0"},
                    }
                )
            )
    return path


class SeedSpan(BaseModel):
    """What the seed built for every line: a pydantic model of the whole record."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    kind: str = "INTERNAL"
    timestamp: float
    duration_ms: float = 0.0
    status: str = "UNSET"
    status_message: str | None = None
    attributes: dict[str, Any] = {}
    events: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    resource: dict[str, Any] = {}


def naive_throughput(bus: Path) -> float:
    """Reference: readline, json.loads and a pydantic model per line, then the name check."""
    began = time.perf_counter()
    count = 0
    with open(bus, "rb") as fh:
        for line in fh:
            span = SeedSpan(**json.loads(line))
            if span.name.startswith("swarmsh.roberts."):
                count += 1
    return _lines(bus) / (time.perf_counter() - began)


def follower_only_throughput(bus: Path) -> float:
    """The follower alone with roberts' prefilter and parsing (no rules, no writes)."""
    from swarmsh.bus.follower import Follower
    from swarmsh.bus.prefilter import name_prefix_filter
    from swarmsh.bus.records import SpanRecord

    follower: Follower[SpanRecord] = Follower(
        bus,
        reader="bench",
        parse=SpanRecord.from_json,
        deadletter=None,
        start="beginning",
        accept=name_prefix_filter(["swarmsh.roberts."]),
    )
    began = time.perf_counter()
    while follower.poll(0):
        pass
    elapsed = time.perf_counter() - began
    follower.close()
    return _lines(bus) / elapsed


def rewrite_non_compact(bus: Path) -> Path:
    """The same records written with `json.dumps`'s default separators (as the seed and many
    tools write), which readers must check for duplicate keys without the compact shortcut."""
    with open(bus, "rb") as fh:
        lines = [json.dumps(json.loads(line)).encode() + b"\n" for line in fh]
    bus.write_bytes(b"".join(lines))
    return bus


def prefix_find_throughput(bus: Path, prefix: bytes = b"swarmsh.roberts.") -> float:
    """Reference for the skip: 1 MiB reads and a bare `bytes.find` of the prefix, no checks."""
    lines = _lines(bus)
    began = time.perf_counter()
    found = 0
    with open(bus, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            at = chunk.find(prefix)
            while at != -1:
                found += 1
                at = chunk.find(prefix, at + 1)
    return lines / (time.perf_counter() - began)


def runner_throughput(home: Path, lines: int) -> float:
    """The real roberts runner from the bus's first byte: rules, iteration spans, commands and
    a checkpoint commit per batch, until it has read every line that was there at the start."""

    from swarmsh.agents import roberts
    from swarmsh.agents.runner import AgentRunner
    from swarmsh.config import Paths
    from swarmsh.daemon import settle_heap
    from swarmsh.telemetry import setup_telemetry

    paths = Paths(home)
    telemetry = setup_telemetry("swarmsh-roberts", paths.bus, otlp=False)
    runner = AgentRunner(roberts.AGENT, paths, telemetry, start="beginning")
    settle_heap()  # as run_daemon does
    elapsed = drain(runner, paths.bus.stat().st_size)
    telemetry.shutdown()
    return lines / elapsed


def drain(runner: Any, size: int) -> float:
    """Seconds an agent runner takes to handle its bus up to byte `size`; closes it."""
    stop = threading.Event()
    began = time.perf_counter()
    while runner.follower.position.offset < size:
        items = runner.follower.poll(0)
        if items:
            runner.process(items, stop)
    elapsed = time.perf_counter() - began
    runner.close()
    return elapsed


def _writer(path: str, spans: int, barrier: Any) -> None:
    from swarmsh.telemetry import setup_telemetry

    telemetry = setup_telemetry("swarmsh-bench", Path(path), otlp=False)
    attrs = {"swarm.agent": "roberts", "swarm.trigger": "second", "roberts.motion_id": "m"}
    barrier.wait()
    for _ in range(spans):
        with telemetry.tracer.start_as_current_span("swarmsh.roberts.second", attributes=attrs):
            pass
        telemetry.flush_bus()  # one span per write, as the CLI does
    telemetry.shutdown()


def write_throughput(bus: Path, spans: int, processes: int) -> float:
    """Spans per second appended through the bus exporter, one span per locked write."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes + 1)
    procs = [ctx.Process(target=_writer, args=(str(bus), spans, barrier)) for _ in range(processes)]
    for p in procs:
        p.start()
    barrier.wait()
    began = time.perf_counter()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - began
    assert _lines(bus) == spans * processes, "a span went missing"
    return spans * processes / elapsed


def raw_append_throughput(path: Path, lines: int) -> float:
    """Reference: plain O_APPEND writes of a span-sized line, no lock, no fsync."""
    line = b"x" * 700 + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    began = time.perf_counter()
    for _ in range(lines):
        os.write(fd, line)
    elapsed = time.perf_counter() - began
    os.close(fd)
    return lines / elapsed


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _offset(db: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT position FROM checkpoint").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return 0
    return int(json.loads(row[0])["offset"]) if row else 0


def agent_rss(home: Path, lines: int) -> tuple[float, float]:
    """RSS of a real roberts process after it handled half of a bus, and all of it."""
    bus = make_bus(home / "spans.jsonl", lines, agent_share=0.10)
    size = bus.stat().st_size
    env = {**os.environ, "SWARMSH_HOME": str(home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "swarmsh.agents.roberts", "--from", "beginning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = home / "state" / "roberts.db"
    try:
        half = end = 0.0
        done = threading.Event()
        while not done.wait(0.05):
            offset = _offset(db)
            if not half and offset >= size // 2:
                half = _rss_mb(proc.pid)
            if offset >= size:
                end = _rss_mb(proc.pid)
                done.set()
            if proc.poll() is not None:
                raise RuntimeError("the agent died")
        return half, end
    finally:
        proc.terminate()
        proc.wait(10)


def _lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))
