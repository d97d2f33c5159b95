"""Reading rulebooks: YAML files (safe_load) into validated, compiled rules, or one clear error
naming the file, the rule and the field."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from swarmsh.agents.rules.engine import CompiledRule, compile_rule
from swarmsh.agents.rules.model import Rulebook
from swarmsh.errors import ConfigError

ENV_RULES = "SWARMSH_RULES"
MAX_FILE_BYTES = 1 << 20
SUFFIXES = (".yaml", ".yml")


class RulebookError(ConfigError):
    """A rulebook that cannot be used; the message names the file, the rule and the field."""


def default_rules_dir() -> Path:
    """`SWARMSH_RULES`, else `rules/` at the checkout (beside supervisord.conf)."""
    configured = os.environ.get(ENV_RULES)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "rules"


def rulebook_files(paths: Iterable[Path]) -> list[Path]:
    """The files named, and the *.yaml / *.yml files of the directories named, sorted."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        elif path.exists():
            files.append(path)
        else:
            raise RulebookError(f"{path}: no such file or directory")
    return files


def _where(raw: Any, loc: Sequence[int | str]) -> str:
    """`rule 'checkout-errors': window.within` from a pydantic error location."""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = raw.get("rules") if isinstance(raw, dict) else None
        item = rules[loc[1]] if isinstance(rules, list) and loc[1] < len(rules) else None
        name = item.get("name") if isinstance(item, dict) else None
        label = f"rule {name!r}" if isinstance(name, str) else f"rule #{loc[1] + 1}"
        rest = ".".join(str(p) for p in loc[2:] if not str(p).startswith("function-"))
        return f"{label}: {rest}" if rest else label
    return ".".join(str(p) for p in loc) or "the file"


def parse_rulebook(text: str, source: str) -> Rulebook:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulebookError(f"{source}: not YAML: {exc}".replace("\n", " ")) from None
    if not isinstance(raw, dict):
        raise RulebookError(f"{source}: a rulebook is a mapping with a `rules:` list")
    try:
        return Rulebook.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{source}: {_where(raw, e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        ]
        raise RulebookError("\n".join(problems)) from None


def load_file(path: Path) -> Rulebook:
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise RulebookError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise RulebookError(f"{path}: larger than {MAX_FILE_BYTES} bytes")
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise RulebookError(f"{path}: not UTF-8") from None
    return parse_rulebook(text, str(path))


def load_rules(paths: Iterable[Path]) -> tuple[CompiledRule, ...]:
    """Every rule of every rulebook, compiled; rule names are unique across them."""
    compiled: list[CompiledRule] = []
    seen: dict[str, Path] = {}
    for path in rulebook_files(paths):
        for rule in load_file(path).rules:
            if rule.name in seen:
                raise RulebookError(
                    f"{path}: rule {rule.name!r}: name already used in {seen[rule.name]}"
                )
            seen[rule.name] = path
            try:
                compiled.append(compile_rule(rule))
            except ValueError as exc:
                raise RulebookError(f"{path}: rule {rule.name!r}: {exc}") from None
    return tuple(compiled)
