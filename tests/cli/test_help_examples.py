"""Every command's --help ends with an example (lazily loaded ones and subcommands too), and
--version names the OpenTelemetry SDK and supervisor in use, without slowing start-up."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import click
from click.testing import CliRunner

from swarmsh.cli import cli
from swarmsh.cli.examples import EXAMPLES


def all_paths() -> list[list[str]]:
    """Every command path, found by walking the groups as click does (loading lazy ones)."""
    paths: list[list[str]] = []

    def walk(group: click.Group, ctx: click.Context, path: list[str]) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None, name
            paths.append([*path, name])
            if isinstance(command, click.Group):
                walk(command, click.Context(command, parent=ctx, info_name=name), [*path, name])

    walk(cli, click.Context(cli, info_name="swarmsh"), [])
    return paths


def test_every_command_help_shows_an_example() -> None:
    paths = all_paths()
    assert ["roberts", "open"] in paths and ["top"] in paths and len(paths) > 25
    missing = []
    for path in [[], *paths]:
        # a fresh process per command would be slow; CliRunner runs the real click parsing
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        if "Example" not in result.output:
            missing.append(" ".join(path))
    assert not missing, f"no example in --help of: {missing}"


def test_examples_name_real_commands_and_options() -> None:
    known = {" ".join(p) for p in all_paths()} | {""}
    for path, lines in EXAMPLES.items():
        if path and path not in known:
            continue  # a command another part adds (e.g. `run`): checked once it exists
        for line in lines:
            words = line.split()
            assert words[0] == "swarmsh", line
            assert " ".join(words[1 : 1 + len(path.split())]) == path or path == "", line


def test_example_shows_in_a_real_process() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "swarmsh", "scrum", "review", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0
    assert "Example:\n    swarmsh scrum review 7 --team a --velocity 34" in out.stdout


def test_version_names_the_sdk_and_supervisor() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "swarmsh", "--version"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("swarmsh, version ")  # click's form: scripts parse it
    assert f"opentelemetry-sdk {metadata.version('opentelemetry-sdk')}" in lines
    assert f"supervisor {metadata.version('supervisor')}" in lines


def test_start_up_reads_no_package_metadata_nor_rich() -> None:
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from swarmsh.cli import cli\n"
        "CliRunner().invoke(cli, ['roberts', '--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith(('importlib.metadata', 'rich'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
