"""Limits: the size of a request body, and per-key rate limits for the public endpoints, per
client address and per conversation.

`RateLimiter` keeps token buckets in this process: with several workers or servers each keeps its
own, so the effective limit is multiplied by their number. With `COPILOT_REDIS_URL` every process
counts in Redis instead (`RedisRateLimiter`, fixed one-minute windows), so the limit holds across
all of them (docs/api.md)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
TOO_LARGE = "request body too large"


class BodyLimit:
    """ASGI middleware: a body over `max_bytes` gets a 413, whether it declares its length or
    streams in chunks without one; nothing past the limit is read into memory."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await JSONResponse({"error": TOO_LARGE}, 413)(scope, receive, send)
            return
        received = 0

        async def limited() -> MutableMapping[str, Any]:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, TOO_LARGE)  # answered by the app's error handler
            return message

        await self.app(scope, limited, send)


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


log = logging.getLogger(__name__)


class RedisRateLimiter:
    """Shared limits: one counter per key and minute in Redis, expiring after two minutes."""

    def __init__(self, url: str, clock: Callable[[], float] = time.time) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._clock = clock

    def hit(self, key: str, per_minute: int) -> int:
        import redis

        now = self._clock()
        window = int(now // 60)
        name = f"copilot:ratelimit:{key}:{window}"
        try:
            pipe = self._redis.pipeline()
            pipe.incr(name)
            pipe.expire(name, 120)
            count = int(pipe.execute()[0])
        except redis.RedisError:
            # Fail open: a Redis outage must not take the help widget down with it.
            log.warning("rate limiter: Redis unreachable, allowing the request")
            return 0
        if count <= per_minute:
            return 0
        return max(1, math.ceil(60 - now % 60))
