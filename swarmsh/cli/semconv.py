"""`swarmsh semconv check FILE`: does a span file follow the semantic conventions?"""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def semconv() -> None:
    """The semantic-convention registry (semconv_registry/)."""


@semconv.command("check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def check(file: Path) -> None:
    """Validate every span in FILE (JSONL) against the registry; exit 1 on any problem."""
    from swarmsh.safetext import shown
    from swarmsh.semconv.check import check_file

    report = check_file(file)
    for line, name, problem in report.problems:
        click.echo(shown(f"{file}:{line} span {name}: {problem}"))  # names are foreign text
    click.echo(f"{report.spans} spans checked, {len(report.problems)} problems")
    if not report.ok:
        raise SystemExit(1)
