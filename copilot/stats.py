"""Percentiles, one definition for the eval suite, the conversation report and the benchmarks.

Linear interpolation between closest ranks (numpy's default, `statistics.quantiles(...,
method="inclusive")`): p=50 is the median, p=0 the minimum, p=100 the maximum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """The `p`th percentile (0-100) of `values`, linearly interpolated; 0.0 when there are none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)
