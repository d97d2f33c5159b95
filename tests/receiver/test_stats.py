"""The receiver's metrics are the registry's, with the Collector's names and attributes."""

from __future__ import annotations

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from swarmsh.receiver import stats
from swarmsh.semconv.registry import load


def test_metrics_are_registered_and_recorded_with_collector_attributes() -> None:
    reader = InMemoryMetricReader()
    meter = MeterProvider(metric_readers=[reader]).get_meter("t")
    s = stats.ReceiverStats(meter, {"grpc": "127.0.0.1:1", "http": None})
    s.request("grpc", 0.01, accepted=5, failed=2)
    s.request("http", 0.02, refused=3)
    s.request("http", 0.001, bad=True)
    data = reader.get_metrics_data()
    points = {
        m.name: [(dict(p.attributes), getattr(p, "value", None)) for p in m.data.data_points]
        for rm in data.resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    grpc_labels = {"receiver": "otlp", "transport": "grpc"}
    assert points[stats.ACCEPTED] == [(grpc_labels, 5)]
    assert points[stats.FAILED] == [(grpc_labels, 2)]
    assert points[stats.REFUSED] == [({"receiver": "otlp", "transport": "http"}, 3)]
    registry = load()
    for name in (stats.ACCEPTED, stats.REFUSED, stats.FAILED):
        group = registry.metrics[name]
        assert group["instrument"] == "counter" and group["unit"] == "{spans}"
        assert {a["ref"] for a in group["attributes"]} == set(grpc_labels)
    for name in (stats.GRPC_DURATION, stats.HTTP_DURATION):
        assert registry.metrics[name]["instrument"] == "histogram"
        assert name in points
    assert s.snapshot()["counts"] == {
        "grpc": {"accepted": 5, "refused": 0, "failed": 2, "bad_requests": 0},
        "http": {"accepted": 0, "refused": 3, "failed": 0, "bad_requests": 1},
    }
