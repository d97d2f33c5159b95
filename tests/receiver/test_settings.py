"""The receiver's settings: defaults, addresses turned off, and bad values refused (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from swarmsh.errors import ConfigError
from swarmsh.receiver.settings import ReceiverSettings, parse_address


def test_defaults_are_loopback_otlp_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SWARMSH_OTLP_GRPC_ADDR", "SWARMSH_OTLP_HTTP_ADDR", "SWARMSH_RECEIVER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    s = ReceiverSettings.from_env()
    assert (s.grpc_addr, s.http_addr, s.token, s.tls) == (
        "127.0.0.1:4317",
        "127.0.0.1:4318",
        None,
        False,
    )
    assert s.max_request_bytes == 4 << 20 and s.max_line_bytes == 1 << 20
    monkeypatch.setenv("SWARMSH_OTLP_HTTP_ADDR", "")
    assert ReceiverSettings.from_env().http_addr is None


@pytest.mark.parametrize(
    "env, message",
    [
        ({"SWARMSH_OTLP_GRPC_ADDR": "", "SWARMSH_OTLP_HTTP_ADDR": ""}, "both empty"),
        ({"SWARMSH_OTLP_GRPC_ADDR": "localhost"}, "not host:port"),
        ({"SWARMSH_OTLP_HTTP_ADDR": "127.0.0.1:99999"}, "not host:port"),
        ({"SWARMSH_RECEIVER_TOKEN": "has space"}, "printable ASCII"),
        ({"SWARMSH_RECEIVER_TLS_CERT": "/nonexistent"}, "set both"),
        ({"SWARMSH_RECEIVER_MAX_CONCURRENCY": "0"}, "must be >= 1"),
        ({"SWARMSH_RECEIVER_MAX_REQUEST_BYTES": str(64 << 20)}, "at least"),
    ],
)
def test_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch, env: dict, message: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        ReceiverSettings.from_env()


def test_ipv6_address() -> None:
    assert parse_address("x", "[::1]:4317") == ("::1", 4317)


def test_the_daemon_exits_2_on_bad_configuration(tmp_path: Path) -> None:
    env = {
        "SWARMSH_HOME": str(tmp_path / "home"),
        "SWARMSH_OTLP_GRPC_ADDR": "nonsense",
        "PATH": "/usr/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "swarmsh.receiver"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "SWARMSH_OTLP_GRPC_ADDR='nonsense' is not host:port" in done.stderr
