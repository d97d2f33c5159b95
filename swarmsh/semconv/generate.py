"""`python -m swarmsh.semconv.generate [--check]`: registry -> constants, models, registry.json."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from swarmsh.semconv.registry import REPO_REGISTRY, Registry, load

TEMPLATES = Path(__file__).parent / "templates" / "registry" / "python"
OUTPUT = Path(__file__).parent / "_generated"
_PY_TYPES = {
    "string": "StrictStr",
    "int": "StrictInt",
    "double": "Number",
    "boolean": "StrictBool",
    "string[]": "tuple[StrictStr, ...]",
    "int[]": "tuple[StrictInt, ...]",
    "double[]": "tuple[Number, ...]",
    "boolean[]": "tuple[StrictBool, ...]",
}


def const(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).upper()


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name))


# The registry's bounds (`annotations: {swarmsh: {...}}` on an attribute) -> pydantic's.
_CONSTRAINTS = {"minimum": "ge", "maximum": "le", "pattern": "pattern", "max_length": "max_length"}


def bounds(attr: dict[str, Any]) -> dict[str, Any]:
    """An attribute's bounds as pydantic `Field` keywords; doubles are always finite."""
    given = (attr.get("annotations") or {}).get("swarmsh") or {}
    unknown = set(given) - set(_CONSTRAINTS)
    if unknown:
        raise ValueError(f"attribute {attr['id']!r}: unknown bounds {sorted(unknown)}")
    out = {_CONSTRAINTS[k]: v for k, v in given.items()}
    if attr["type"] in ("double", "double[]"):
        out["allow_inf_nan"] = False
    return out


def annotation(attr: dict[str, Any]) -> str:
    kind = attr["type"]
    if isinstance(kind, dict):
        return "Literal[" + ", ".join(f'"{m["value"]}"' for m in kind["members"]) + "]"
    constraints = bounds(attr)
    if not constraints:
        return _PY_TYPES[kind]
    keywords = ", ".join(f"{k}={v!r}" for k, v in constraints.items())
    item = f"Annotated[{_PY_TYPES[kind.removesuffix('[]')]}, Field({keywords})]"
    return f"tuple[{item}, ...]" if kind.endswith("[]") else item


def context(reg: Registry) -> dict[str, Any]:
    attributes = [{"id": a, "const": const(a)} for a in sorted(reg.attributes)]
    enums = [
        {
            "id": a,
            "cls": camel(a) + "Values",
            "members": [
                {"const": const(m["id"]), "value": m["value"]} for m in attr["type"]["members"]
            ],
        }
        for a, attr in sorted(reg.attributes.items())
        if isinstance(attr["type"], dict)
    ]
    spans = []
    for name, group in sorted(reg.spans.items()):
        fields = []
        for ref in group.get("attributes", []):
            attr = reg.attributes[ref["ref"]]
            required = ref.get("requirement_level") == "required"
            kind = annotation(attr)
            fields.append(
                {
                    "id": ref["ref"],
                    "name": const(ref["ref"]).lower(),
                    "required": required,
                    "annotation": kind if required else f"{kind} | None",
                }
            )
        spans.append(
            {
                "name": name,
                "const": "SPAN_" + const(name),
                "cls": camel(name) + "Attributes",
                "brief": group["brief"].strip(),
                "fields": fields,
            }
        )
    metrics = [{"name": m, "const": "METRIC_" + const(m)} for m in sorted(reg.metrics)]
    return {"attributes": attributes, "enums": enums, "spans": spans, "metrics": metrics}


def registry_json(reg: Registry) -> str:
    """The compact form `swarmsh semconv check` reads at run time (no YAML needed then)."""
    data = {
        "schema_url": reg.manifest["schema_url"],
        "attributes": {
            a: {"type": "enum", "members": [m["value"] for m in attr["type"]["members"]]}
            if isinstance(attr["type"], dict)
            else {"type": attr["type"], **((attr.get("annotations") or {}).get("swarmsh") or {})}
            for a, attr in sorted(reg.attributes.items())
        },
        "spans": {
            name: {
                r["ref"]: r["requirement_level"]
                if isinstance(r["requirement_level"], str)
                else "conditionally_required"
                for r in group.get("attributes", [])
            }
            for name, group in sorted(reg.spans.items())
        },
        "metrics": {
            name: {
                "instrument": g["instrument"],
                "unit": g["unit"],
                "attributes": [r["ref"] for r in g.get("attributes", [])],
            }
            for name, g in sorted(reg.metrics.items())
        },
    }
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def render(registry_dir: Path = REPO_REGISTRY) -> dict[str, str]:
    """Every generated file's name and text."""
    import jinja2

    reg = load(registry_dir)
    env = jinja2.Environment(  # noqa: S701 - renders Python source, not HTML
        loader=jinja2.FileSystemLoader(TEMPLATES),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    ctx = context(reg)
    return {
        "__init__.py": '"""Code generated from semconv_registry/: do not edit."""\n',
        "attributes.py": env.get_template("attributes.py.j2").render(ctx),
        "models.py": env.get_template("models.py.j2").render(ctx),
        "registry.json": registry_json(reg),
    }


def stale(files: dict[str, str], out: Path = OUTPUT) -> list[str]:
    return [
        n for n, text in files.items() if not (out / n).exists() or (out / n).read_text() != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m swarmsh.semconv.generate")
    parser.add_argument("--registry", type=Path, default=REPO_REGISTRY)
    parser.add_argument("--check", action="store_true", help="exit 1 if generated code is stale")
    args = parser.parse_args(argv)
    files = render(args.registry)
    outdated = stale(files)
    if args.check:
        for name in outdated:
            print(f"stale: {OUTPUT / name} (run: python -m swarmsh.semconv.generate)")
        return 1 if outdated else 0
    OUTPUT.mkdir(exist_ok=True)
    for name in outdated:
        (OUTPUT / name).write_text(files[name])
        print(f"wrote {OUTPUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
