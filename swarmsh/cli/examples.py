"""One example per command, shown at the end of its --help. Kept in one place so a new command
gets its example here (LazyGroup applies them as each command loads, nested groups included)."""

from __future__ import annotations

import click

# command path (without "swarmsh") -> example command lines
EXAMPLES: dict[str, tuple[str, ...]] = {
    "": ("swarmsh up && swarmsh demo && swarmsh top",),
    "roberts": ("swarmsh roberts open m1 --meeting board --text 'Adopt the plan'",),
    "roberts call-to-order": ("swarmsh roberts call-to-order --meeting board",),
    "roberts open": (
        "swarmsh roberts open m1 --meeting board --text 'Adopt the plan'",
        "swarmsh roberts open s7 --meeting board --kind sprint --sprint 7 --team a",
    ),
    "roberts second": ("swarmsh roberts second m1",),
    "roberts vote": ("swarmsh roberts vote m1 --method ballot",),
    "roberts close": ("swarmsh roberts close m1 --yes 5 --no 2",),
    "roberts adjourn": ("swarmsh roberts adjourn --meeting board",),
    "scrum": ("swarmsh scrum plan 7 --team a --capacity 40",),
    "scrum plan": ("swarmsh scrum plan 7 --team a --capacity 40",),
    "scrum daily": ("swarmsh scrum daily 7 --team a --blocker 'CI is red'",),
    "scrum review": ("swarmsh scrum review 7 --team a --velocity 34 --defect-rate 4.5",),
    "scrum retro": ("swarmsh scrum retro 7 --team a --improvement 'pair on reviews'",),
    "lean": ("swarmsh lean define p1 --problem 'defect rate above 3%'",),
    "lean define": ("swarmsh lean define p1 --problem 'defect rate above 3%' --sponsor cto",),
    "lean measure": ("swarmsh lean measure p1 --metric defect_rate=4.5 --metric cycle_days=3",),
    "lean analyze": ("swarmsh lean analyze p1 --root-cause 'no review checklist'",),
    "lean improve": ("swarmsh lean improve p1 --improvement checklist --pilot-success",),
    "lean control": ("swarmsh lean control p1 --process-change 'checklist in every PR'",),
    "rules": ("swarmsh rules check rules/*.yaml",),
    "rules check": ("swarmsh rules check rules/*.yaml",),
    "rules test": ("swarmsh rules test rules/deploys.yaml --bus ~/.swarmsh/spans.jsonl",),
    "semconv": ("swarmsh semconv check ~/.swarmsh/spans.jsonl",),
    "semconv check": ("swarmsh semconv check ~/.swarmsh/spans.jsonl",),
    "up": ("swarmsh up",),
    "down": ("swarmsh down",),
    "demo": ("swarmsh demo --timeout 30",),
    "status": ("swarmsh status --json | jq .problems",),
    "tail": ("swarmsh tail -f --agent roberts --status error",),
    "trace": (
        "swarmsh trace --last --name swarmsh.roberts.close",
        "swarmsh trace --last --format mermaid > trace.mmd",
    ),
    "top": ("swarmsh top --interval 2", "swarmsh top --once | cat"),
    "run": ("swarmsh run --name backup -- tar czf b.tgz data/",),
}


def epilog(path: str) -> str | None:
    """The epilog for `path` ("roberts open"), or None when there is no example for it.
    `\\b` keeps click from rewrapping the lines."""
    lines = EXAMPLES.get(path)
    if not lines:
        return None
    noun = "Example" if len(lines) == 1 else "Examples"
    return "\b\n" + f"{noun}:\n" + "\n".join(f"  {line}" for line in lines)


def apply(command: click.Command, path: str) -> None:
    """Give `command` (and, for a group, every subcommand already attached) its example,
    unless it brought its own epilog (a plug-in may)."""
    if not command.epilog:
        command.epilog = epilog(path)
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            apply(sub, f"{path} {name}".strip())
