"""Head sampling that never starves the bus: what a sampler drops is still recorded."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from swarmsh.errors import ConfigError

_log = logging.getLogger(__name__)

ENV_SAMPLER = "OTEL_TRACES_SAMPLER"
ENV_SAMPLER_ARG = "OTEL_TRACES_SAMPLER_ARG"


class RecordAlwaysSampler(Sampler):
    """Wraps a sampler and turns its DROP into RECORD_ONLY.

    Sampled spans go everywhere; unsampled ones are still recorded, so the bus
    processor (which exports every recorded span) sees them while the OTLP
    batch processor (which exports sampled spans only) does not. Wrapping the
    whole `ParentBased` sampler also covers children of unsampled parents.
    """

    def __init__(self, delegate: Sampler) -> None:
        self._delegate = delegate

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        result = self._delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        if result.decision is Decision.DROP:
            return SamplingResult(Decision.RECORD_ONLY, attributes, result.trace_state)
        return result

    def get_description(self) -> str:
        return f"RecordAlways{{{self._delegate.get_description()}}}"

    @property
    def follows_remote_parent(self) -> bool:
        """True if, for every remote parent, this sampler records the span, samples it
        exactly when the parent is sampled, adds no attributes and keeps the parent's trace
        state: `ParentBased` with its default remote-parent samplers (whatever its root).
        `Telemetry.record_span` then decides from the parent's flag, without a `Context` and
        a `SamplingResult` per span (an agent records one per handled span)."""
        inner = self._delegate
        if type(inner) is not ParentBased:
            return False
        # getattr: private fields of the SDK; if they ever change, the general path is taken.
        on = getattr(inner, "_remote_parent_sampled", None)
        off = getattr(inner, "_remote_parent_not_sampled", None)
        return _static(on) is Decision.RECORD_AND_SAMPLE and _static(off) is Decision.DROP


def _static(sampler: Sampler | None) -> Decision | None:
    """The decision of one of the SDK's constant samplers (None for any other sampler)."""
    if sampler is ALWAYS_ON:
        return Decision.RECORD_AND_SAMPLE
    if sampler is ALWAYS_OFF:
        return Decision.DROP
    return None


def sampler_from_env() -> Sampler:
    """The head sampler of `OTEL_TRACES_SAMPLER`/`_ARG` (default parentbased_always_on)."""
    name = os.environ.get(ENV_SAMPLER, "").strip().lower() or "parentbased_always_on"
    ratio = 1.0
    if name.endswith("traceidratio"):
        raw = os.environ.get(ENV_SAMPLER_ARG, "").strip()
        try:
            ratio = float(raw) if raw else 1.0
        except ValueError:
            raise ConfigError(f"{ENV_SAMPLER_ARG}={raw!r} is not a number in [0, 1]") from None
        if not 0.0 <= ratio <= 1.0:
            raise ConfigError(f"{ENV_SAMPLER_ARG}={raw!r} is not a number in [0, 1]")
    samplers: dict[str, Sampler] = {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "traceidratio": TraceIdRatioBased(ratio),
        "parentbased_always_on": ParentBased(ALWAYS_ON),
        "parentbased_always_off": ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": ParentBased(TraceIdRatioBased(ratio)),
    }
    if name not in samplers:
        known = ", ".join(samplers)
        raise ConfigError(f"{ENV_SAMPLER}={name!r} is not supported (one of: {known})")
    return RecordAlwaysSampler(samplers[name])
