"""The JetStream backend of the bus (chosen when `SWARMSH_BUS` is a NATS URL list).

Nothing here is imported on the file bus: `swarmsh.bus.backend` imports these modules lazily,
and only `connection` imports nats-py (itself lazily), so the file CLI's start-up is unchanged.

- `settings`: `SWARMSH_BUS` and the `SWARMSH_NATS_*` variables, parsed and validated.
- `subjects`: span name <-> subject (reversible escaping), the stream and bucket names.
- `connection`: `NatsConnection`, a synchronous facade over nats-py (a loop in a thread).
"""
