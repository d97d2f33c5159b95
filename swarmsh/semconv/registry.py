"""Loads and checks the Weaver-format registry in semconv_registry/ (used by the generator)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_REGISTRY = Path(__file__).resolve().parents[2] / "semconv_registry"
GROUP_TYPES = ("attribute_group", "span", "event", "metric")
SCALARS = ("string", "int", "double", "boolean", "string[]", "int[]", "double[]", "boolean[]")
LEVELS = ("required", "recommended", "opt_in")
INSTRUMENTS = ("counter", "updowncounter", "gauge", "histogram")


class RegistryError(ValueError):
    """The registry does not follow Weaver's format or refers to what it does not define."""


@dataclass
class Registry:
    manifest: dict[str, Any]
    attributes: dict[str, dict[str, Any]] = field(default_factory=dict)
    spans: dict[str, dict[str, Any]] = field(default_factory=dict)  # span name -> group
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric name -> group


def _require(group: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    missing = [k for k in keys if k not in group]
    if missing:
        raise RegistryError(f"{where}: group {group.get('id', '?')!r} lacks {', '.join(missing)}")


def _check_type(attr: dict[str, Any], where: str) -> None:
    kind = attr.get("type")
    if isinstance(kind, dict):
        members = kind.get("members")
        if not isinstance(members, list) or not members:
            raise RegistryError(f"{where}: enum {attr['id']!r} has no members")
        for m in members:
            _require(m, ("id", "value", "brief", "stability"), f"{where}: enum {attr['id']}")
    elif kind not in SCALARS:
        raise RegistryError(f"{where}: attribute {attr['id']!r} has unknown type {kind!r}")


def _level_ok(level: Any) -> bool:
    if isinstance(level, dict):
        return set(level) == {"conditionally_required"} and isinstance(
            level["conditionally_required"], str
        )
    return level in LEVELS


def load(directory: Path = REPO_REGISTRY) -> Registry:
    """Read manifest.yaml and every other *.yaml, then check them as a whole."""
    import yaml

    manifest = yaml.safe_load((directory / "manifest.yaml").read_text())
    _require(manifest, ("name", "schema_url"), "manifest.yaml")
    if not str(manifest["schema_url"]).startswith("https://"):
        raise RegistryError("manifest.yaml: schema_url must be an https URL")
    registry = Registry(manifest)
    groups: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name == "manifest.yaml":
            continue
        for group in yaml.safe_load(path.read_text()).get("groups", []):
            groups.append((path.name, group))
    seen: set[str] = set()
    for where, group in groups:
        _require(group, ("id", "type", "brief"), where)
        if group["id"] in seen:
            raise RegistryError(f"{where}: group id {group['id']!r} defined twice")
        seen.add(group["id"])
        if group["type"] not in GROUP_TYPES:
            raise RegistryError(
                f"{where}: group {group['id']!r} has unknown type {group['type']!r}"
            )
        if group["type"] != "attribute_group":
            _require(group, ("stability",), where)
        if group["type"] == "attribute_group":
            for attr in group.get("attributes", []):
                _require(attr, ("id", "type", "brief", "stability", "examples"), where)
                if attr["id"] in registry.attributes:
                    raise RegistryError(f"{where}: attribute {attr['id']!r} defined twice")
                _check_type(attr, where)
                registry.attributes[attr["id"]] = attr
    for where, group in groups:
        if group["type"] == "span":
            _require(group, ("span_kind",), where)
            registry.spans[group["id"].removeprefix("span.")] = group
        elif group["type"] == "metric":
            _require(group, ("metric_name", "instrument", "unit"), where)
            if group["instrument"] not in INSTRUMENTS:
                raise RegistryError(f"{where}: metric {group['id']!r}: unknown instrument")
            registry.metrics[group["metric_name"]] = group
        if group["type"] in ("span", "metric", "event"):
            for ref in group.get("attributes", []):
                _require(ref, ("ref",), where)
                if ref["ref"] not in registry.attributes:
                    raise RegistryError(
                        f"{where}: {group['id']!r} refers to undefined {ref['ref']!r}"
                    )
                if group["type"] == "span" and not _level_ok(ref.get("requirement_level")):
                    raise RegistryError(
                        f"{where}: {group['id']!r}: bad requirement_level for {ref['ref']!r}"
                    )
    return registry
