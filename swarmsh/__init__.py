"""swarmsh: a telemetry-driven agent swarm whose event bus is its span stream."""

__version__ = "0.1.0"
