"""`swarmsh up` with SWARMSH_NATS_LOCAL=1 (real supervisord, the `nats` program running the
local nats-server): every daemon on JetStream, status healthy, the demo's loop closes, `down`
stops the server last, and the next `up` finds its store (spans, agents' state) again."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from swarmsh.bus.jetstream.subjects import SPANS_STREAM
from tests.e2e.swarm import PROGRAMS, REPO, Checkout, alive, checkout
from tests.jetstream.servers import NATS_SERVER, free_port

pytestmark = pytest.mark.skipif(not os.path.exists(NATS_SERVER), reason="no nats-server")


def local_env(co: Checkout) -> dict[str, str]:
    """The environment for a local server, and the checkout's deploy/ (supervisord.conf
    includes the `nats` program from there)."""
    (co.base / "deploy").symlink_to(REPO / "deploy")
    return {
        **co.env,
        "SWARMSH_BUS": f"nats://127.0.0.1:{free_port()}",
        "SWARMSH_NATS_LOCAL": "1",
        "SWARMSH_NATS_TIMEOUT_S": "3",
    }


def status(co: Checkout) -> tuple[int, dict[str, Any]]:
    result = co.run("status", "--json")
    return result.returncode, json.loads(result.stdout)


def test_up_starts_the_local_server_and_the_swarm_runs_on_it() -> None:
    with checkout() as co:
        co.env = local_env(co)
        up = co.run("up")
        assert up.returncode == 0, up.stdout + up.stderr
        assert "local nats-server nats://127.0.0.1:" in up.stdout
        code, report = status(co)
        assert code == 0, report["problems"]
        assert {n: p["state"] for n, p in report["processes"].items()} == dict.fromkeys(
            (*PROGRAMS, "nats"), "RUNNING"
        )
        assert all("consumer" in report["agents"][a] for a in ("roberts", "scrum", "lean"))
        demo = co.run("demo", "--timeout", "30")
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "✓ motion ratify-defect-alpha-42 opened" in demo.stdout
        spans = status(co)[1]["bus"]["streams"][SPANS_STREAM]["messages"]
        assert spans > 20
        assert not (co.home / "spans.jsonl").exists()

        server = report["processes"]["nats"]["pid"]
        down = co.run("down")
        assert down.returncode == 0, down.stderr
        assert not alive(server)
        store = co.home / "nats"
        assert stat.S_IMODE(store.stat().st_mode) == 0o700 and any(store.iterdir())
        log = (co.var / "supervisord.log").read_text()
        assert log.index("stopped: roberts") < log.index("stopped: nats")  # the server last

        again = co.run("up")  # same store: the spans and the agents' state are there
        assert again.returncode == 0, again.stdout + again.stderr
        assert status(co)[1]["bus"]["streams"][SPANS_STREAM]["messages"] >= spans
        second = co.run("demo", "--timeout", "30")
        assert second.returncode == 0, second.stdout + second.stderr
        assert "sprint 43 planned" in second.stdout


def test_a_local_server_is_refused_for_a_file_bus_or_a_remote_url(tmp_path: Path) -> None:
    with checkout() as co:
        for bus, why in (
            ("file", "the local nats-server serves a NATS bus"),
            ("nats://10.0.0.7:4222", "must be nats://127.0.0.1:PORT"),
        ):
            env = {**co.env, "SWARMSH_BUS": bus, "SWARMSH_NATS_LOCAL": "1"}
            refused = co.run("up", env=env)
            assert refused.returncode != 0 and why in refused.stderr, refused.stderr
            assert co.supervisord_pid() is None  # nothing was started


def test_the_local_servers_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from swarmsh.bus.jetstream.localserver import LocalServer
    from swarmsh.errors import ConfigError

    monkeypatch.setenv("SWARMSH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SWARMSH_BUS", "nats://127.0.0.1:4333,nats://10.0.0.2:4222")
    server = LocalServer.from_env()
    assert server.argv()[1:] == [
        "-js", "-sd", str(tmp_path / "home" / "nats"), "-a", "127.0.0.1", "-p", "4333",
        "-n", "swarmsh-local",
    ]  # fmt: skip
    monkeypatch.setenv("SWARMSH_NATS_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("SWARMSH_BUS", "nats://[::1]:4444")
    assert LocalServer.from_env().argv()[3:7] == [str(tmp_path / "store"), "-a", "::1", "-p"]
    for bus in ("tls://127.0.0.1:4222", "nats://0.0.0.0:4222", "nats://example.com:4222"):
        monkeypatch.setenv("SWARMSH_BUS", bus)
        with pytest.raises(ConfigError, match="loopback"):
            LocalServer.from_env()
    monkeypatch.setenv("SWARMSH_BUS", "nats://127.0.0.1:4222")
    monkeypatch.setenv("SWARMSH_NATS_SERVER_BIN", str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="no nats-server executable"):
        LocalServer.from_env()


def test_the_jetstream_benchmark_runs(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.jetstream", "--smoke", "--out", str(out)],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("SWARMSH_")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(out.read_text())
    for bus in ("file", "jetstream"):
        assert figures[bus]["hops"]["hops"] == 5 and figures[bus]["hops"]["median_ms"] > 0
        assert figures[bus]["agent"]["stream_spans_per_s"] > 0
        assert figures[bus]["commands_1_executor"]["per_s"] > 0
        assert figures[bus]["drain_1_executor"]["per_s"] > 0
    from benchmarks.workloads import make_bus

    bus = make_bus(tmp_path / "same.jsonl", 5_000, agent_share=0.02)  # the benchmark's stream
    relevant = bus.read_bytes().count(b'"name":"swarmsh.roberts.')
    assert figures["jetstream"]["agent"]["handled"] == relevant  # the server skipped the rest
    assert figures["jetstream"]["commands_2_executors"]["executors"] == 2
    assert figures["jetstream"]["drain_2_executors"]["per_s"] > 0
