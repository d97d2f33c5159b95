"""`swarmsh status` on a NATS bus: the streams' state and each reader's durable consumer,
whose pending messages (not yet delivered, or delivered and not acknowledged) are its lag."""

from __future__ import annotations

from typing import Any

import click

from swarmsh.safetext import shown


def add_nats_state(report: dict[str, Any]) -> None:
    """Put the streams into `report["bus"]` and each reader's consumer lag into its entry
    (`lag_lines` is then messages, as `problems_of` judges it); unreachable: `bus_error`."""
    import nats.errors

    from swarmsh.bus import backend
    from swarmsh.bus.jetstream.inspect import bus_state, entity_states
    from swarmsh.errors import SwarmshError

    try:
        conn = backend.connection("swarmsh-status")
        state = bus_state(conn)
        entities = {agent: entity_states(conn, agent) for agent in report["agents"]}
    except (SwarmshError, nats.errors.Error) as exc:  # unreachable, or refused: say so
        report["bus_error"] = f"JetStream: {exc}"
        return
    finally:
        backend.close_connection()
    servers = ",".join(conn.settings.servers)
    report["bus"] = {"nats": servers, "streams": state["streams"]}
    readers = {**report["agents"], "executor": report["executor"], "shipper": report["shipper"]}
    for name, info in readers.items():
        consumer = state["consumers"].get(name)
        if consumer is None:
            continue
        info.pop("error", None)  # a local state store is not where NATS keeps a reader
        info.update(consumer)
        info["checkpoint"] = consumer.get("ack_floor")
        info["lag_lines"] = consumer.get("lag_messages")
        info["lag_bytes"] = None
        if name in entities:
            info["entities"] = entities[name]


def print_reader(name: str, info: dict[str, Any]) -> None:
    if info.get("error"):
        click.echo(f"  {name:<9} {info['error']}")
        return
    if "consumer" not in info:  # JetStream did not answer: its position is unknown
        click.echo(f"  {name:<9} position unknown (JetStream unreachable)")
        return
    new, unacked = info["pending"], info["ack_pending"]
    lag = f"lag {info['lag_messages']} messages ({new} new, {unacked} unacked)"
    where = f"{info['stream']}/{info['consumer']}"
    click.echo(f"  {name:<9} {where}  acked through {info['ack_floor']}  {lag}")
    if info.get("entities"):
        states = ", ".join(f"{k}={v}" for k, v in sorted(info["entities"].items()))
        click.echo(f"            entities {states}")
    if info.get("counters"):
        counters = ", ".join(f"{k}={v}" for k, v in sorted(info["counters"].items()))
        click.echo(f"            counters {counters}")


def print_bus(report: dict[str, Any]) -> None:
    if "bus_error" in report:
        click.echo(click.style(f"bus: {report['bus_error']}", fg="red"))
        return
    bus = report["bus"]
    click.echo(f"bus {shown(bus['nats'])} (JetStream)")
    for name, s in bus["streams"].items():
        if "error" in s:
            click.echo(f"  {name:<16} {s['error']}")
            continue
        click.echo(
            f"  {name:<16} {s['messages']} messages, {s['bytes']} B, seq {s['first_seq']}.."
            f"{s['last_seq']}, {s['consumers']} consumers, R{s['replicas']}"
            + (f", leader {shown(s['leader'])}" if s.get("leader") else "")
        )
