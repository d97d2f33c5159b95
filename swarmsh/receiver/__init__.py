"""The OTLP receiver: any service's spans, over OTLP/gRPC and OTLP/HTTP, onto the bus."""
