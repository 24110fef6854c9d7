"""Prometheus series: requests and latency per endpoint, the model version, swaps.

With several workers, `recsys serve` sets PROMETHEUS_MULTIPROC_DIR before they start,
so every worker writes its samples there and `/metrics` sums them (prometheus_client's
multiprocess mode); with one worker the default registry is used.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REQUESTS = Counter("recsys_requests", "HTTP requests answered", ["endpoint", "method", "status"])
LATENCY = Histogram(
    "recsys_request_seconds",
    "Time to answer a request, by endpoint",
    ["endpoint"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
)
MODEL = Gauge(
    "recsys_model_info",
    "1 for the bundle version a worker serves, by kind",
    ["kind", "version"],
    multiprocess_mode="liveall",
)
SWAPS = Counter("recsys_model_swaps", "Bundles loaded while serving", ["kind"])
REFUSED = Counter("recsys_model_refused", "Bundles refused as damaged", ["kind"])


def observe(endpoint: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(endpoint, method, str(status)).inc()
    LATENCY.labels(endpoint).observe(seconds)


_serving: dict[str, str] = {}  # kind -> the version this process serves


def serving(kind: str, version: str) -> None:
    """A bundle was loaded: its version becomes the one this process reports."""
    previous = _serving.get(kind)
    if previous is not None:
        MODEL.labels(kind, previous).set(0)
    MODEL.labels(kind, version).set(1)
    _serving[kind] = version
    SWAPS.labels(kind).inc()


def refused(kind: str) -> None:
    REFUSED.labels(kind).inc()


def exposition() -> tuple[bytes, str]:
    """The text format of every series (all workers' in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
