"""The CLI on JetStream: its span lands on its subject with an acknowledgement, or the command
exits 3 (EXIT_BUS_UNWRITABLE); the file bus's CLI never imports nats."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

from swarmsh.bus.jetstream.connection import NatsConnection
from swarmsh.bus.jetstream.settings import NatsSettings
from swarmsh.bus.jetstream.subjects import SPANS_STREAM
from swarmsh.errors import EXIT_BUS_UNWRITABLE
from tests.conftest import run_cli
from tests.jetstream.helpers import stream_messages
from tests.jetstream.servers import NatsServer


def test_cli_span_is_published_on_its_subject(
    tmp_path: Path, nats_env: dict[str, str], nats_conn: NatsConnection
) -> None:
    done = run_cli(tmp_path / "home", nats_env, "roberts", "open", "m:1", "--meeting", "mt")
    assert done.returncode == 0, done.stderr
    [msg] = stream_messages(nats_conn, SPANS_STREAM)
    record = orjson.loads(msg.data)
    assert msg.subject == "swarmsh.spans.swarmsh.roberts.open"
    assert record["name"] == "swarmsh.roberts.open"
    assert record["attributes"]["roberts.motion_id"] == "m:1"
    assert msg.headers["Nats-Msg-Id"] == f"sp-{record['trace_id']}-{record['span_id']}"
    assert not (tmp_path / "home" / "spans.jsonl").exists()  # nothing went to a file


def test_cli_publishes_without_nats_py_once_the_streams_exist(
    tmp_path: Path, nats_env: dict[str, str], nats_conn: NatsConnection
) -> None:
    """The CLI speaks the protocol itself (quickpub): no nats-py, no asyncio; acknowledged,
    and de-duplicated by message id like any publication."""
    from swarmsh.bus.jetstream.quickpub import quick_publish
    from swarmsh.bus.jetstream.streams import ensure_streams

    ensure_streams(nats_conn)
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "swarmsh",
            "--home",
            str(tmp_path / "h"),
            "roberts",
            "open",
            "a",
            "--meeting",
            "m",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **nats_env},
    )
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert not {m for m in imported if m.split(".")[0] in ("nats", "asyncio")}
    [msg] = stream_messages(nats_conn, SPANS_STREAM)
    assert orjson.loads(msg.data)["attributes"]["roberts.motion_id"] == "a"
    settings = nats_conn.settings
    batch = [("swarmsh.spans.x", b'{"n":1}', "same"), ("swarmsh.spans.x", b'{"n":1}', "same")]
    quick_publish(settings, batch, SPANS_STREAM)
    quick_publish(settings, batch[:1], SPANS_STREAM)
    assert len(stream_messages(nats_conn, SPANS_STREAM)) == 2


def test_a_dead_server_first_in_the_list_is_passed_over(
    tmp_path: Path, nats_server: NatsServer, nats_conn: NatsConnection
) -> None:
    from tests.jetstream.servers import free_port

    env = {"SWARMSH_BUS": f"nats://127.0.0.1:{free_port()},{nats_server.url}"}
    for motion in ("d1", "d2"):  # nats-py (a fresh server), then quickpub
        done = run_cli(tmp_path / "home", env, "roberts", "open", motion, "--meeting", "m")
        assert done.returncode == 0, done.stderr
    assert len(stream_messages(nats_conn, SPANS_STREAM)) == 2


def test_unacknowledged_span_fails_the_command(
    tmp_path: Path, nats_env: dict[str, str], nats_server: NatsServer
) -> None:
    assert (
        run_cli(tmp_path / "home", nats_env, "roberts", "open", "a", "--meeting", "m").returncode
        == 0
    )
    nats_server.kill()
    done = run_cli(tmp_path / "home", nats_env, "roberts", "open", "b", "--meeting", "m")
    assert done.returncode == EXIT_BUS_UNWRITABLE, done.stderr
    assert "not recorded" in done.stderr
    assert "Traceback" not in done.stderr


def test_bad_bus_setting_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli(
        tmp_path / "home",
        {"SWARMSH_BUS": "nats://x:1\x1b[2J"},
        "roberts",
        "open",
        "a",
        "--meeting",
        "m",
    )
    assert done.returncode == 2, done.stderr
    assert "\x1b" not in done.stderr


def test_file_bus_cli_does_not_import_nats(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "swarmsh",
            "--home",
            str(tmp_path / "h"),
            "roberts",
            "open",
            "a",
            "--meeting",
            "m",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "swarmsh.cli" in imported
    assert not {m for m in imported if m.split(".")[0] in ("nats", "asyncio")}


def test_tls_servers_verified_by_the_configured_ca(tmp_path: Path) -> None:
    """tls:// with SWARMSH_NATS_TLS_CA: the CLI publishes over TLS (through nats-py on a fresh
    server, through quickpub after); a server its CA does not vouch for is refused (exit 3)."""
    import shutil

    import pytest

    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    server = NatsServer(tmp_path / "tls-store", tls=(cert, key)).start()
    try:
        env = {"SWARMSH_BUS": server.url, "SWARMSH_NATS_TLS_CA": str(cert)}
        for motion in ("t1", "t2"):
            done = run_cli(tmp_path / "home", env, "roberts", "open", motion, "--meeting", "m")
            assert done.returncode == 0, done.stderr
        untrusted = run_cli(
            tmp_path / "home",
            {"SWARMSH_BUS": server.url},
            "roberts",
            "open",
            "t3",
            "--meeting",
            "m",
        )
        assert untrusted.returncode == EXIT_BUS_UNWRITABLE, untrusted.stderr
        settings = NatsSettings(servers=(server.url,), tls_ca=cert)
        with NatsConnection.open(settings, name="test") as conn:
            names = [
                orjson.loads(m.data)["attributes"]["roberts.motion_id"]
                for m in stream_messages(conn)
            ]
        assert names == ["t1", "t2"]
    finally:
        server.kill()
