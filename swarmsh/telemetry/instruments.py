"""The swarm's metric instruments, made once per process from its meter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Instruments:
    """The four swarm metrics of the contract, plus the follower's malformed-line counter."""

    spans_total: Any
    commands_total: Any
    loop_duration: Any
    transitions: Any
    malformed: Any
    rule_matches: Any = None  # the rules agent's matching spans that fired nothing

    @classmethod
    def create(cls, meter: Any) -> Instruments:
        return cls(
            spans_total=meter.create_counter(
                "swarm.spans.total", unit="{span}", description="Spans emitted, by span name"
            ),
            commands_total=meter.create_counter(
                "swarm.commands.total", unit="{command}", description="Commands, by outcome"
            ),
            loop_duration=meter.create_histogram(
                "swarm.loop.duration",
                unit="ms",
                description="Source span end to the command's span end",
            ),
            transitions=meter.create_counter(
                "swarm.agent.transitions", unit="{transition}", description="Agent transitions"
            ),
            malformed=meter.create_counter(
                "swarm.bus.malformed", unit="{line}", description="Lines dead-lettered by a reader"
            ),
            rule_matches=meter.create_counter(
                "swarm.rule.matches",
                unit="{span}",
                description="Matching spans that only advanced a rule (or were throttled)",
            ),
        )
