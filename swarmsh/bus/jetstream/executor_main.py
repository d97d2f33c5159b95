"""`python -m swarmsh.executor` on JetStream: options and life cycle (run_daemon), one
`JsExecutor` per process, several per home told apart by `SWARMSH_EXECUTOR_ID`."""

from __future__ import annotations

import os

from swarmsh.bus.jetstream.executor import READER, JsExecutor
from swarmsh.config import Paths
from swarmsh.telemetry import Telemetry

ENV_INSTANCE = "SWARMSH_EXECUTOR_ID"  # several executors on one home: one id each


def instance_name() -> str:
    """`executor`, or `executor-<id>`: the instance lock's and the log's name."""
    from swarmsh.errors import ConfigError

    raw = os.environ.get(ENV_INSTANCE, "").strip()
    if not raw:
        return READER
    if not (len(raw) <= 32 and raw.replace("-", "").replace("_", "").isalnum() and raw.isascii()):
        raise ConfigError(f"{ENV_INSTANCE} must be 1 to 32 of [A-Za-z0-9_-]")
    return f"{READER}-{raw}"


def main() -> None:
    """`python -m swarmsh.executor` with SWARMSH_BUS set to NATS servers."""
    from swarmsh.bus import backend
    from swarmsh.config import ENV_MAX_DEPTH, env_float, env_int
    from swarmsh.daemon import run_daemon
    from swarmsh.executor.runner import (
        DEFAULT_MAX_ATTEMPTS,
        DEFAULT_MAX_DEPTH,
        ENV_BACKOFF_BASE,
        ENV_MAX_ATTEMPTS,
    )

    backend.as_daemon()
    try:
        name = instance_name()
    except Exception as exc:
        raise SystemExit(f"swarmsh-executor: {exc}") from None

    def make(paths: Paths, telemetry: Telemetry, start: str) -> JsExecutor:
        return JsExecutor(
            paths,
            telemetry,
            backend.connection(f"swarmsh-{name}"),
            max_depth=env_int(ENV_MAX_DEPTH, DEFAULT_MAX_DEPTH, minimum=0),
            max_attempts=env_int(ENV_MAX_ATTEMPTS, DEFAULT_MAX_ATTEMPTS, minimum=1),
            backoff_base=env_float(ENV_BACKOFF_BASE, 0.2, minimum=0),
        )

    run_daemon(name, make, start_help="the shared consumer's position (--from is ignored)")
