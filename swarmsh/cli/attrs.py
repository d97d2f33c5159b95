"""`--attr KEY=VALUE`, once for every domain command: a group class that adds the option to
each command it holds, and the parameter type that checks one item (`swarmsh.customattrs`)."""

from __future__ import annotations

from typing import Any

import click

from swarmsh.customattrs import MAX_ATTRS, AttrRefused, Value, collect, parse

META_KEY = "swarmsh.attributes"  # where the parsed attributes wait for the command's span
OPTION_NAME = "attrs"


class KeyValue(click.ParamType):
    name = "key=value"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, Value]:
        if isinstance(value, tuple):  # already converted (a default, or the executor's argv)
            return value  # type: ignore[return-value]
        try:
            return parse(str(value))
        except AttrRefused as exc:
            self.fail(str(exc), param, ctx)


def _remember(
    ctx: click.Context, param: click.Parameter, items: tuple[tuple[str, Value], ...]
) -> None:
    try:
        ctx.meta[META_KEY] = collect(items)
    except AttrRefused as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def with_attrs(command: click.Command) -> click.Command:
    """Give `command` the repeatable `--attr KEY=VALUE` option (once)."""
    if not any(p.name == OPTION_NAME for p in command.params):
        command.params.append(
            click.Option(
                ["--attr", OPTION_NAME],
                multiple=True,
                type=KeyValue(),
                metavar="KEY=VALUE",
                expose_value=False,
                callback=_remember,
                help=(
                    "A custom span attribute such as business.value=5 (repeatable, at most "
                    f'{MAX_ATTRS}); typed as written: 5 int, 2.5 float, true bool, "5" text.'
                ),
            )
        )
    return command


class DomainGroup(click.Group):
    """A command group whose every command takes `--attr`."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        super().add_command(with_attrs(cmd), name)


def given_attributes() -> dict[str, Value]:
    """The attributes the running command was given with --attr (none outside a command)."""
    ctx = click.get_current_context(silent=True)
    return dict(ctx.meta.get(META_KEY, {})) if ctx is not None else {}
