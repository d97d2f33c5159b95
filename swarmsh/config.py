"""Where everything lives: `SWARMSH_HOME` and the paths under it, plus env helpers."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from swarmsh.errors import ConfigError
from swarmsh.fsutil import UnsafePath, check_dir, ensure_dir
from swarmsh.safetext import escape, refusal

_log = logging.getLogger(__name__)

# Environment variables (documented in the README's configuration reference).
ENV_HOME = "SWARMSH_HOME"
ENV_CONSOLE = "SWARMSH_CONSOLE"
ENV_FSYNC = "SWARMSH_FSYNC"
ENV_MAX_LINE = "SWARMSH_MAX_LINE_BYTES"
ENV_DEFECT_THRESHOLD = "SWARMSH_DEFECT_THRESHOLD"
ENV_MAX_DEPTH = "SWARMSH_MAX_DEPTH"

# The default shared by the CLI, the agents, the executor and supervisord.conf
# (whose children inherit supervisord's environment, so they agree by construction).
DEFAULT_HOME = "~/.swarmsh"

BUS_FILE = "spans.jsonl"
QUEUE_FILE = "commands.jsonl"
STATE_DIR = "state"
DEADLETTER_DIR = "deadletter"


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Argument, then `SWARMSH_HOME`, then `~/.swarmsh`; always absolute."""
    raw = explicit if explicit else os.environ.get(ENV_HOME) or DEFAULT_HOME
    return Path(raw).expanduser().absolute()


@dataclass(frozen=True)
class Paths:
    """The files under one `SWARMSH_HOME`."""

    home: Path

    @classmethod
    def from_home(cls, explicit: str | os.PathLike[str] | None = None) -> Paths:
        return cls(resolve_home(explicit))

    @property
    def bus(self) -> Path:
        return self.home / BUS_FILE

    @property
    def queue(self) -> Path:
        return self.home / QUEUE_FILE

    @property
    def state(self) -> Path:
        return self.home / STATE_DIR

    @property
    def deadletter(self) -> Path:
        return self.home / DEADLETTER_DIR

    def deadletter_file(self, reader: str) -> Path:
        return self.deadletter / f"{reader}.jsonl"

    def secure(self) -> Paths:
        """Create the home owner-only if missing; refuse (`UnsafePath`, exit 2) a home,
        `state/` or `deadletter/` that someone else owns or can write, and tighten ours to
        0700. Every writer checks again before it opens a file; this says so up front.
        A home whose path is not safe text is refused too: it is printed in many places."""
        reason = refusal(str(self.home))
        if reason:
            raise UnsafePath(f"the home '{escape(str(self.home))}' {reason}")
        try:
            ensure_dir(self.home)
            check_dir(self.state)
            check_dir(self.deadletter)
        except UnsafePath:
            raise
        except OSError as exc:  # a parent that is a file, a link to nowhere, no permission
            where = escape(str(exc.filename or self.home))
            raise ConfigError(f"cannot use the home {self.home}: {where}: {exc.strerror}") from None
        return self


def env_flag(name: str, default: bool = False) -> bool:
    """A boolean environment variable: 1/true/yes/on or 0/false/no/off."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value != value or (minimum is not None and value < minimum):  # NaN or below range
        raise ConfigError(f"{name}={raw!r} must be a number >= {minimum}")
    return value


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name}={raw!r} must be >= {minimum}")
    return value
