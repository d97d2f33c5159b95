"""What the CLI outputs besides the bus: spans on stdout with --console, and nothing to OTLP
(the shipper exports them: tests/shipper), whatever the OTEL_EXPORTER_OTLP_* variables say."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import read_jsonl

ARGS = ["roberts", "open", "m1", "--meeting", "board"]


def swarmsh(home: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "swarmsh", *args],
        env={**os.environ, "SWARMSH_HOME": str(home), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_console_exporter(home: Path) -> None:
    result = swarmsh(home, {}, "--console", *ARGS)
    assert result.returncode == 0
    assert '"name":"swarmsh.roberts.open"' in result.stdout


def test_otlp_settings_are_not_the_clis_concern(home: Path) -> None:
    env = {
        "OTEL_EXPORTER_OTLP_PROTOCOL": "carrier-pigeon",
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x",
        "OTEL_SERVICE_NAME": "ops-shell",
    }
    result = swarmsh(home, env, "--otlp", *ARGS)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    [line] = read_jsonl(home / "spans.jsonl")
    assert line["resource"]["service.name"] == "ops-shell"  # the shipper sends it as it is
