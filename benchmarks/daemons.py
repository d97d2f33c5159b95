"""`make bench` rows for what runs around the agents: hops under a background load, the
receiver and the shipper, each beside its reference in the same run (flat rows, for the table)."""

from __future__ import annotations

from typing import Any

SIZES = {
    # name: (smoke, default, full)
    "loaded_hops": (20, 200, 500),
    "loaded_blocks": (2, 4, 4),  # of loaded hops, each followed by a block of unloaded ones
    "receiver_seconds": (0.3, 3.0, 6.0),
    "shipper_spans": (2_000, 100_000, 200_000),
    "shipper_runs": (1, 3, 3),
}
BACKGROUND_SPANS_S = 2000.0


def bench_hops_loaded(mode: int) -> dict[str, Any]:
    """Hops while other services' spans reach the bus through the receiver at 2,000/s, in
    blocks alternated with unloaded ones on the same swarm."""
    from benchmarks import hops

    result = hops.measure_loaded(
        SIZES["loaded_hops"][mode], BACKGROUND_SPANS_S, "receiver", SIZES["loaded_blocks"][mode]
    )
    result["target"] = "median <= 3 ms, p99 <= 10 ms"
    result["met"] = result["median_ms"] <= 3 and result["p99_ms"] <= 10
    return result


def bench_receiver(mode: int) -> dict[str, Any]:
    from benchmarks import receiver

    r = receiver.measure(SIZES["receiver_seconds"][mode])
    row: dict[str, Any] = {"spans_per_request": receiver.SPANS_PER_REQUEST}
    for transport in ("grpc", "http"):
        full, half = r[transport]["saturated"], r[transport]["half_rate"]
        row |= {
            f"{transport}_spans_per_s": round(full["spans_per_s"]),
            f"{transport}_receiver_cores": round(full["receiver_cpu_s_per_s"], 2),
            f"{transport}_spans_per_cpu_s": round(full["spans_per_cpu_s"]),
            f"{transport}_half_rate_p50_ms": round(half["p50_ms"], 1),
            f"{transport}_half_rate_p99_ms": round(half["p99_ms"], 1),
            f"{transport}_rss_mb": round(half["rss_mb"], 1),
            f"{transport}_errors": full["errors"] + half["errors"],
        }
    row["rss_peak_mb"] = round(r["http"]["half_rate"]["rss_peak_mb"], 1)
    row["reference_decode_only_spans_per_s"] = round(r["reference"]["decode_only"])
    row["reference_decode_convert_spans_per_s"] = round(r["reference"]["decode_convert"])
    row["bus_lines"], row["spans_acknowledged"] = r["bus_lines"], r["spans_acknowledged"]
    row["target"] = ">= 50,000 spans/s on one core, RSS <= 100 MB"
    row["met"] = (
        min(row["grpc_spans_per_s"], row["http_spans_per_s"]) >= 50_000
        and row["rss_peak_mb"] <= 100
    )
    return row


def bench_shipper(mode: int) -> dict[str, Any]:
    from benchmarks import shipper

    r = shipper.measure(SIZES["shipper_spans"][mode], SIZES["shipper_runs"][mode])
    row: dict[str, Any] = {"spans": r["spans"], "runs": r["runs"]}
    for protocol, label in (("grpc", "grpc"), ("http/protobuf", "http")):
        p = r[protocol]
        row |= {
            f"{label}_spans_per_s": p["shipper_spans_per_s_median"],
            f"{label}_spans_per_s_runs": p["shipper_spans_per_s_runs"],
            f"{label}_peak_rss_mb": p["peak_rss_mb_max"],
            f"{label}_lost": p["lost"],
            f"{label}_duplicated": p["duplicated"],
            f"{label}_outage_lost": p["outage_lost"],
            f"{label}_outage_duplicated": p["outage_duplicated"],
            f"{label}_outage_received_before_after": p["outage_received_before_after"],
        }
    row["reference_encode_only_spans_per_s"] = r["reference_encode_only_spans_per_s"]
    row["target"], row["met"] = r["target"], r["met"]
    return row
