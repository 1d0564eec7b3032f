"""Latency measurement shared by the benchmarks: milliseconds per call, and their percentiles."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from copilot.stats import percentile

T = TypeVar("T")


def timed(fn: Callable[[T], object], items: Sequence[T], rounds: int = 3) -> list[float]:
    """Milliseconds of each `fn(item)`, `rounds` times over `items`."""
    fn(items[0])  # warm-up: first-call allocations are not a customer's latency
    times = []
    for _ in range(rounds):
        for item in items:
            start = time.perf_counter()
            fn(item)
            times.append((time.perf_counter() - start) * 1000)
    return times


def percentiles(times: list[float], digits: int = 2) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(times, 50), digits),
        "p95_ms": round(percentile(times, 95), digits),
    }
