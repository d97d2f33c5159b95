"""`swarmsh status`: supervisor states plus each reader's lag, counters and entities."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import click

from swarmsh.bus.backend import is_nats
from swarmsh.cli.context import CliState
from swarmsh.config import Paths
from swarmsh.errors import EXIT_UNHEALTHY
from swarmsh.fsutil import open_file
from swarmsh.safetext import shown

AGENTS = ("roberts", "scrum", "lean", "rules")
DEFAULT_MAX_LAG = 1000


def count_lines(path: Path, start: int, end: int, chunk: int = 1 << 20) -> int:
    """Newlines between byte `start` and `end` (what a reader still has to read)."""
    count = 0
    with open(open_file(path, os.O_RDONLY), "rb") as handle:
        handle.seek(start)
        left = end - start
        while left > 0:
            block = handle.read(min(chunk, left))
            if not block:
                break
            count += block.count(b"\n")
            left -= len(block)
    return count


def reader_status(db: Path, reader: str, followed: Path, now: float) -> dict[str, Any]:
    """What a daemon's state store says: checkpoint, lag behind `followed`, counters, entities."""
    out: dict[str, Any] = {"checkpoint": None, "lag_bytes": None, "lag_lines": None}
    if not db.exists():
        out["error"] = "no state yet (never started?)"
        return out
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute(
            "SELECT position, updated_at FROM checkpoint WHERE reader = ?", (reader,)
        ).fetchone()
        counters = dict(conn.execute("SELECT name, value FROM counters").fetchall())
        states = dict(
            conn.execute("SELECT state, COUNT(*) FROM entities GROUP BY state").fetchall()
        )
    except sqlite3.Error as exc:
        out["error"] = f"cannot read {db}: {exc}"
        return out
    finally:
        conn.close()
    out.update(counters=counters, entities=states)
    if row is None:
        return out
    position = json.loads(row[0])
    offset = int(position.get("offset", 0))
    out["checkpoint"] = offset
    out["checkpoint_file"] = [position.get("dev"), position.get("ino")]  # what offset is into
    out["last_commit_age_s"] = round(now - float(row[1]), 3)
    try:
        st = os.stat(followed)
    except FileNotFoundError:
        out["lag_bytes"] = out["lag_lines"] = 0
        return out
    same_file = position.get("ino") == st.st_ino and position.get("dev") == st.st_dev
    start = offset if same_file and offset <= st.st_size else 0  # rotated or truncated: all of it
    out["lag_bytes"] = st.st_size - start
    out["lag_lines"] = count_lines(followed, start, st.st_size)
    return out


def _dead_letters(directory: Path) -> dict[str, int]:
    if not directory.is_dir():
        return {}
    return {p.stem: count_lines(p, 0, p.stat().st_size) for p in sorted(directory.glob("*.jsonl"))}


def receiver_status(state_dir: Path) -> dict[str, Any] | None:
    """What the receiver last wrote to state/receiver.json (addresses, counts), or None."""
    try:
        raw = json.loads((state_dir / "receiver.json").read_bytes())
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def followed_files(paths: Paths) -> dict[str, tuple[Path, Path]]:
    """Each reader's state store and the file it follows: the agents and the shipper read the
    bus, the executor the command queue."""
    readers = {agent: (paths.state / f"{agent}.db", paths.bus) for agent in AGENTS}
    readers["executor"] = (paths.state / "executor.db", paths.queue)
    readers["shipper"] = (paths.state / "shipper.db", paths.bus)
    return readers


def collect_status(state: CliState, config: str | None) -> dict[str, Any]:
    """Everything `status` reports; the home is the running swarm's unless one was given
    (a different one given is an error, HomeMismatch)."""
    from swarmsh.cli.swarm import bind_home
    from swarmsh.supervisor import SupervisorClient, SupervisorError
    from swarmsh.swarmops import lock_problems

    client: SupervisorClient | None = None
    report: dict[str, Any] = {"processes": {}, "supervisor": None}
    try:
        client = bind_home(state, config)
        report["supervisor"] = str(client.socket)
        for p in client.processes():
            report["processes"][p.name] = {
                "state": p.state,
                "pid": p.pid,
                "uptime_s": round(p.uptime, 1),
                "description": p.description,
            }
    except SupervisorError as exc:
        report["supervisor_error"] = str(exc)
        client = None
    paths = state.paths
    now = time.time()
    report["home"] = str(paths.home)
    report["lock_problems"] = lock_problems(paths, client)
    readers = {
        name: reader_status(db, name, followed, now)
        for name, (db, followed) in followed_files(paths).items()
    }
    report["agents"] = {agent: readers[agent] for agent in AGENTS}
    report["executor"] = readers["executor"]
    # Shown, not judged: its lag is the collector's outage (or no collector), not the swarm's.
    report["shipper"] = readers["shipper"]
    report["bus"] = {
        "path": str(paths.bus),
        "bytes": paths.bus.stat().st_size if paths.bus.exists() else 0,
        "queue_bytes": paths.queue.stat().st_size if paths.queue.exists() else 0,
    }
    report["dead_letters"] = _dead_letters(paths.deadletter)
    report["receiver"] = receiver_status(paths.state)
    if is_nats():  # lag and bus from JetStream's consumers and streams
        from swarmsh.cli.status_nats import add_nats_state

        add_nats_state(report)
    return report


def problems_of(report: dict[str, Any], max_lag: int) -> list[str]:
    problems = []
    if "supervisor_error" in report:
        problems.append(report["supervisor_error"])
    if "bus_error" in report:
        problems.append(report["bus_error"])
    problems.extend(report.get("lock_problems", ()))
    for name, info in report["processes"].items():
        if info["state"] != "RUNNING":
            problems.append(f"{name} is {info['state']}")
    readers = {**report.get("agents", {}), "executor": report["executor"]}
    for name, info in readers.items():
        lag = info.get("lag_lines")
        if lag is not None and lag > max_lag:
            problems.append(f"{name} lags {lag} lines behind (more than {max_lag})")
    return problems


MAX_LAG_OPTION = click.option(
    "--max-lag",
    type=click.IntRange(min=0),
    default=DEFAULT_MAX_LAG,
    show_default=True,
    envvar="SWARMSH_MAX_LAG",
    help="Lines a reader may lag before it counts as unhealthy.",
)
CONFIG_OPTION = click.option(
    "--config", type=click.Path(dir_okay=False, exists=True), help="supervisord.conf."
)


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@MAX_LAG_OPTION
@CONFIG_OPTION
@click.pass_obj
def status(state: CliState, as_json: bool, max_lag: int, config: str | None) -> None:
    """Health of the swarm; exits 5 when a process is not RUNNING or an agent lags."""
    from swarmsh.errors import SwarmshError

    try:
        report = collect_status(state, config)
    except SwarmshError as exc:
        raise click.ClickException(str(exc)) from None
    problems = problems_of(report, max_lag)
    report["healthy"] = not problems
    report["problems"] = problems
    if as_json:
        click.echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        _print(report)
    if problems:
        raise SystemExit(EXIT_UNHEALTHY)


def _print(report: dict[str, Any]) -> None:
    click.echo(f"home {report['home']}")
    if "supervisor_error" in report:
        click.echo(click.style(f"supervisor: {report['supervisor_error']}", fg="red"))
    for name, p in report["processes"].items():
        colour = "green" if p["state"] == "RUNNING" else "red"
        state = click.style(p["state"], fg=colour)
        click.echo(f"  {name:<9} {state:<8} pid {p['pid']:<7} up {p['uptime_s']:>8.0f}s")
    click.echo("readers:")
    readers = {**report["agents"], "executor": report["executor"]}
    if "shipper" in report:
        readers["shipper"] = report["shipper"]
    for name, info in readers.items():
        if "consumer" in info or "bus_error" in report:
            from swarmsh.cli.status_nats import print_reader

            print_reader(name, info)
            continue
        if info.get("error"):
            click.echo(f"  {name:<9} {info['error']}")
            continue
        age = info.get("last_commit_age_s")
        lag = f"lag {info['lag_lines']} lines / {info['lag_bytes']} B"
        last = "-" if age is None else f"{age:.0f}s ago"
        click.echo(f"  {name:<9} offset {info['checkpoint']}  {lag}  last commit {last}")
        if info.get("entities"):
            click.echo(
                "            entities "
                + ", ".join(f"{k}={v}" for k, v in sorted(info["entities"].items()))
            )
        if info.get("counters"):
            click.echo(
                "            counters "
                + ", ".join(f"{k}={v}" for k, v in sorted(info["counters"].items()))
            )
    _print_receiver(report.get("receiver"))
    bus = report["bus"]
    if "nats" in bus or "bus_error" in report:
        from swarmsh.cli.status_nats import print_bus

        print_bus(report)
    else:
        click.echo(f"bus {bus['path']}  {bus['bytes']} B   queue {bus['queue_bytes']} B")
    dead = report["dead_letters"]
    click.echo("dead letters: " + (", ".join(f"{k}={v}" for k, v in dead.items()) or "none"))
    for problem in report["problems"]:
        click.echo(click.style(f"UNHEALTHY: {problem}", fg="red"))


def _print_receiver(info: dict[str, Any] | None) -> None:
    if not info:
        click.echo("receiver: no status yet (never started?)")
        return
    addresses = info.get("addresses") or {}
    where = "  ".join(f"{k} {shown(v) if v else 'off'}" for k, v in sorted(addresses.items()))
    updated = info.get("updated_at")
    age = f"{time.time() - updated:.0f}s ago" if isinstance(updated, int | float) else "?"
    click.echo(f"receiver: {where}  (pid {shown(info.get('pid'))}, counts of {age})")
    for transport, counts in sorted((info.get("counts") or {}).items()):
        if isinstance(counts, dict):
            row = ", ".join(f"{k}={shown(v)}" for k, v in sorted(counts.items()))
            click.echo(f"            {shown(transport)} {row}")
