"""Shared fixtures: an isolated SWARMSH_HOME, a clean OTel environment, bus readers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["tests.otlp_receivers"]  # real OTLP receivers: otlp_grpc, otlp_http, blackhole

OTEL_VARS = [name for name in os.environ if name.startswith("OTEL_")] + [
    "SWARMSH_HOME",
    "SWARMSH_CONSOLE",
    "SWARMSH_FSYNC",
    "SWARMSH_FAILPOINTS",
    "SWARMSH_BUS",
    *(p + s for p in ("http", "https", "all", "no", "grpc", "no_grpc") for s in ("_proxy",)),
    *(p.upper() + "_PROXY" for p in ("http", "https", "all", "no")),
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may see the developer's OTLP endpoint, home or failpoints."""
    for name in OTEL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SWARMSH_FSYNC", "never")  # tests check content, not power-loss safety


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "home"
    monkeypatch.setenv("SWARMSH_HOME", str(path))
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The file's whole lines. A process may be appending as we read, and a reader can
    see part of a large write: the unfinished last line is not a record yet."""
    if not path.exists():
        return []
    data = path.read_bytes()
    whole = data[: data.rfind(b"\n") + 1]
    return [json.loads(line) for line in whole.splitlines() if line.strip()]


@pytest.fixture
def bus(home: Path):  # type: ignore[no-untyped-def]
    """A callable returning the bus records written so far."""
    return lambda: read_jsonl(home / "spans.jsonl")


def run_cli(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`swarmsh ARGS` as a real process on `home`, with `env` added to ours."""
    return subprocess.run(
        [sys.executable, "-m", "swarmsh", *args],
        env={**os.environ, "SWARMSH_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
