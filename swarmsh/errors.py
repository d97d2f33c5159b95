"""The one error hierarchy of swarmsh, and the exit codes its processes use."""

from __future__ import annotations

# Exit codes shared by the CLI and the daemons (click uses 1 and 2 itself).
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2  # bad input or bad configuration
EXIT_BUS_UNWRITABLE = 3  # the action could not be recorded on the bus
EXIT_ALREADY_RUNNING = 4  # another instance holds this process's lock
EXIT_UNHEALTHY = 5  # `swarmsh status`: a process is down or an agent lags


class SwarmshError(Exception):
    """Base of every error swarmsh raises on purpose."""

    exit_code = EXIT_FAILURE


class ConfigError(SwarmshError):
    """A setting (argument or environment variable) has a value we cannot use."""

    exit_code = EXIT_USAGE


class BusWriteError(SwarmshError):
    """A record could not be appended to a JSONL file (bus, queue, dead letters)."""

    exit_code = EXIT_BUS_UNWRITABLE


class MalformedRecord(SwarmshError):
    """A bus or queue line is not a valid record; the reason says why."""


class AlreadyRunning(SwarmshError):
    """Another instance of this process already runs against the same home."""

    exit_code = EXIT_ALREADY_RUNNING


class CommandRejected(SwarmshError):
    """The executor refused a NextCommand (unknown, ill-typed, too deep)."""
