"""The seam between the two buses: which one is configured, and each process's parts for it.

`SWARMSH_BUS` unset or `file`: the JSONL files (nothing here imports more than this module).
A NATS URL list: JetStream (`swarmsh.bus.jetstream`, imported only then). Callers ask:

- `is_nats()`: which bus (cheap: reads one environment variable);
- `span_exporter(path, fsync)`: where a process's spans go (telemetry's bus exporter);
- `connection(name)`: the process's one `NatsConnection` (opened on first use, shared by its
  span sink, consumers and key-value buckets; daemons keep reconnecting, the CLI gives up);
- `agent_io(runner, paths, start)`: an agent runner's store, queue and follower on JetStream.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from swarmsh.bus.jetstream.connection import NatsConnection
    from swarmsh.bus.jetstream.settings import NatsSettings
    from swarmsh.config import Paths
    from swarmsh.telemetry.bus import BusSpanExporter

_lock = threading.Lock()
_connection: NatsConnection | None = None
_daemon = False


def is_nats() -> bool:
    """Is `SWARMSH_BUS` anything but `file`? (Read here, without importing the settings
    module: every file-bus CLI command asks. `BusSettings.from_env` validates the value.)"""
    return os.environ.get("SWARMSH_BUS", "").strip() not in ("", "file")


def as_daemon() -> None:
    """This process is a daemon: its connection reconnects for ever instead of failing."""
    global _daemon
    _daemon = True


def connection(name: str = "swarmsh") -> NatsConnection:
    """The process's connection to the configured NATS servers (`ConfigError` if the settings
    are wrong, `NatsUnavailable` if no server answers)."""
    global _connection
    with _lock:
        if _connection is None:
            from swarmsh.bus.jetstream.connection import NatsConnection
            from swarmsh.bus.jetstream.settings import BusSettings

            settings = BusSettings.from_env().nats
            if settings is None:
                raise RuntimeError("SWARMSH_BUS is not a NATS URL")
            if not _daemon:
                _connection = NatsConnection.open(settings, name=name, reconnect=False)
                return _connection
            # a daemon waits for its servers (started later, restarting), as for a full disk
            from swarmsh.patience import NEVER, until_done

            opened: list[NatsConnection] = []

            def connect() -> bool:
                opened.append(NatsConnection.open(settings, name=name, reconnect=True))
                return True

            until_done(connect, NEVER, what=f"connect to {', '.join(settings.servers)}")
            _connection = opened[0]
        return _connection


def quick_settings() -> NatsSettings | None:
    """The settings for `quickpub` (a CLI process, no credentials file, no connection open
    yet), else None: daemons keep one nats-py connection for everything."""
    if _daemon or _connection is not None:
        return None
    from swarmsh.bus.jetstream.settings import BusSettings

    settings = BusSettings.from_env().nats
    return settings if settings is not None and settings.creds is None else None


def close_connection() -> None:
    global _connection
    with _lock:
        if _connection is not None:
            _connection.close()
            _connection = None


def span_exporter(path: Path, *, fsync: str | None = None) -> BusSpanExporter:
    """The JSONL file's exporter, or on NATS one that publishes each span to its subject."""
    if is_nats():
        from swarmsh.bus.jetstream.sink import NatsSpanExporter

        return NatsSpanExporter()
    from swarmsh.telemetry.bus import BusSpanExporter

    return BusSpanExporter(path, fsync=fsync)


def agent_io(runner: Any, paths: Paths, start: str) -> bool:
    """On NATS, give `runner` (an `AgentRunner`) its JetStream store, queue and follower and
    return True; on the file bus return False (the runner opens its files)."""
    if not is_nats():
        return False
    as_daemon()
    from swarmsh.bus.jetstream.agent_io import attach

    attach(runner, paths, start)
    return True
