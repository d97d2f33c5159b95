"""The registry is well-formed Weaver YAML and covers every span the code emits."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from swarmsh.cli import cli
from swarmsh.semconv.generate import render, stale
from swarmsh.semconv.registry import REPO_REGISTRY, RegistryError, load


def test_registry_loads_and_is_consistent() -> None:
    reg = load()
    assert reg.manifest["schema_url"].endswith("/swarmsh/0.1.0")
    assert {"swarm.agent", "roberts.motion_id", "scrum.defect_rate", "lean.pilot.success"} <= set(
        reg.attributes
    )
    assert set(reg.metrics) == {
        "swarm.spans.total",
        "swarm.commands.total",
        "swarm.loop.duration",
        "swarm.agent.transitions",
        "swarm.bus.malformed",
        "swarm.rule.matches",
        "otelcol_receiver_accepted_spans",
        "otelcol_receiver_refused_spans",
        "otelcol_receiver_failed_spans",
        "rpc.server.call.duration",
        "http.server.request.duration",
    }
    assert reg.metrics["swarm.loop.duration"]["instrument"] == "histogram"
    assert reg.metrics["swarm.loop.duration"]["unit"] == "ms"


def test_every_cli_command_and_daemon_span_has_a_span_group() -> None:
    names = {"swarm.loop.iteration", "swarmsh.command.execute", "swarmsh.command.rejected"}
    names.add("swarmsh.run")  # `swarmsh run`
    for group in ("roberts", "scrum", "lean"):
        command = cli.get_command(None, group)  # type: ignore[arg-type]
        names |= {f"swarmsh.{group}.{c}" for c in command.list_commands(None)}  # type: ignore[union-attr,arg-type]
    assert set(load().spans) == names


def mutate(tmp_path: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    copy = tmp_path / "registry"
    shutil.copytree(REPO_REGISTRY, copy)
    data = yaml.safe_load((copy / "spans.yaml").read_text())
    edit(data["groups"])
    (copy / "spans.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return copy


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda g: g[0]["attributes"].append(
                {"ref": "roberts.nonsense", "requirement_level": "required"}
            ),
            "undefined 'roberts.nonsense'",
        ),
        (lambda g: g[0].pop("stability"), "lacks stability"),
        (lambda g: g[0].pop("span_kind"), "lacks span_kind"),
        (lambda g: g.append(dict(g[0])), "defined twice"),
        (
            lambda g: g[0]["attributes"][0].update(requirement_level="sometimes"),
            "bad requirement_level",
        ),
        (lambda g: g[0].update(type="widget"), "unknown type"),
    ],
)
def test_broken_registries_are_refused(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RegistryError, match=message):
        load(mutate(tmp_path, edit))


def test_generated_code_is_fresh() -> None:
    assert stale(render()) == [], "run: python -m swarmsh.semconv.generate"


def test_a_registry_change_makes_the_generated_code_stale(tmp_path: Path) -> None:
    changed = mutate(tmp_path, lambda g: g[0].update(brief="A different brief."))
    assert "models.py" in stale(render(changed))
