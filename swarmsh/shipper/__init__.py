"""The shipper: follows the bus and exports its sampled spans to an OTLP collector."""
