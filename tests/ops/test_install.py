"""Installing the project the way the Makefile does prints no warnings: none from its own
metadata (e.g. `project.license` as a table) and none from the editable mode it chooses."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def makefile_install_args() -> list[str]:
    """The Makefile's `pip install -e` arguments, the source directory left out."""
    line = next(
        line
        for line in (REPO / "Makefile").read_text().splitlines()
        if "pip install" in line and " -e " in line
    )
    args = shlex.split(line.split("pip install", 1)[1])
    at = args.index("-e")
    return [a for a in args[:at] + args[at + 2 :] if a != "--quiet"]


def test_editable_install_prints_no_warnings(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(REPO / "pyproject.toml", src)
    shutil.copy(REPO / "README.md", src)
    shutil.copytree(REPO / "swarmsh", src / "swarmsh", ignore=shutil.ignore_patterns("__pycache__"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # as the Makefile does: a current pip shows build-backend warnings an old one hid
    upgraded = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert upgraded.returncode == 0, upgraded.stderr
    # --no-deps: the warnings in question come from building this project, not its
    # dependencies, and without them the test takes seconds, not a minute.
    done = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-v",
            "--no-deps",
            *makefile_install_args(),
            "-e",
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout + done.stderr
    # pip's notes on this machine's own index configuration are not the project's
    lines = [line for line in output.splitlines() if "WARNING: Location 'file:" not in line]
    warnings = [line for line in lines if re.search(r"warning|deprecat", line, re.IGNORECASE)]
    assert not warnings, "\n".join(warnings)
    site = next(env_dir.glob("lib/python*/site-packages"))
    # a static path entry, not an import-hook finder that every interpreter start would load
    assert (site / "__editable__.swarmsh-0.1.0.pth").read_text().strip() == str(src)
    assert not list(site.glob("__editable___*finder.py"))
    metadata = next(env_dir.glob("lib/python*/site-packages/swarmsh-*.dist-info/METADATA"))
    assert "License-Expression: MIT" in metadata.read_text()
    imported = subprocess.run(
        [str(python), "-c", "import swarmsh; print(swarmsh.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert imported.stdout.strip() == str(src / "swarmsh" / "__init__.py"), imported.stderr


def test_the_makefile_does_not_choose_the_deprecated_compat_mode() -> None:
    assert "editable_mode=compat" not in " ".join(makefile_install_args())
    assert sys.version_info >= (3, 11)
