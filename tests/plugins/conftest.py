"""Plug-ins installed for real: the example package by pip into a directory of its own (put on
PYTHONPATH of the processes under test, never into the shared virtual environment), and
small broken distributions as the dist-info directories any installer writes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "swarmsh-example-plugin"


@pytest.fixture(scope="session")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install --no-deps --target` of examples/swarmsh-example-plugin (built from a copy,
    so that the checkout gets no build/ or egg-info)."""
    source = tmp_path_factory.mktemp("example-src") / "plugin"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    site = tmp_path_factory.mktemp("example-site")
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet"]
        + ["--disable-pip-version-check", "--target", str(site), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    assert (site / "swarmsh_example_plugin-0.1.0.dist-info" / "entry_points.txt").is_file()
    return site


def make_dist(
    site: Path, name: str, entry_points: dict[str, dict[str, str]], modules: dict[str, str]
) -> Path:
    """A distribution `name` 1.0 in `site`: its modules and a dist-info with entry points."""
    site.mkdir(parents=True, exist_ok=True)
    dist_info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = []
    for group, eps in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{k} = {v}" for k, v in eps.items()]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for module, source in modules.items():
        (site / f"{module}.py").write_text(source)
    return site


def with_sites(*sites: Path, home: Path | None = None) -> dict[str, str]:
    """Our environment with these plug-in sites on PYTHONPATH (and the home, if given)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join(str(s) for s in sites)
    if home is not None:
        env["SWARMSH_HOME"] = str(home)
    return env


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python ARGS` as a real process (e.g. `-m swarmsh example ping t1`)."""
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=120
    )
