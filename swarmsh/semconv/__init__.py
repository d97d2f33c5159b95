"""Semantic conventions: the registry's generator, its generated code and the span checker."""
