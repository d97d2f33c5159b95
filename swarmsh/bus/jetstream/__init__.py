"""The JetStream backend of the bus (chosen when `SWARMSH_BUS` is a NATS URL list).

Nothing here is imported on the file bus: `swarmsh.bus.backend` imports these modules lazily,
and only `connection` imports nats-py (itself lazily), so the file CLI's start-up is unchanged.

- `settings`: `SWARMSH_BUS` and the `SWARMSH_NATS_*` variables, parsed and validated.
- `subjects`: span name <-> subject (reversible escaping), the stream and bucket names.
- `connection`: `NatsConnection`, a synchronous facade over nats-py (a loop in a thread).
- `quickpub`: the CLI's publication without nats-py; `sink`: the telemetry bus exporter.
- `streams`: the two streams and the key-value buckets, created or updated.
- agents: `consumer` (durable pull consumer, command publisher), `state` (entity state in a
  bucket, committed through a journal), `agent_io` (hands them to `AgentRunner`).
- executors: `ledger` (the key-value ledger), `executor` (`JsExecutor`), `executor_main`.
"""
