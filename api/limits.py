"""Per-key rate limits for the public endpoints: a token bucket per client address and per
conversation, in this process. With several workers or servers each keeps its own buckets, so the
effective limit is multiplied by their number (docs/api.md)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def hit(self, key: str, per_minute: int) -> int:
        """Take one token; 0 when allowed, else the seconds to wait (for Retry-After)."""
        now = self._clock()
        rate = per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(key, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                if len(self._buckets) > 100_000:  # forget idle keys rather than grow forever
                    self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 120}
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / rate))
