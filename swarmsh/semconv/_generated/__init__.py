"""Code generated from semconv_registry/: do not edit."""
