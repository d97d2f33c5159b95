"""What the CLI outputs besides the bus: spans on stdout with --console, and nothing to OTLP
(the shipper exports them: tests/shipper), whatever the OTEL_EXPORTER_OTLP_* variables say."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import read_jsonl
from tests.conftest import run_cli as swarmsh

ARGS = ["roberts", "open", "m1", "--meeting", "board"]


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
