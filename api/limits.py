"""Limits: the size of a request body and how long it may take to arrive, and per-key rate limits
for the public endpoints, per client address and per conversation.

`RateLimiter` keeps token buckets in this process, at most `max_keys` of them (the least recently
used is forgotten first): with several workers or servers each keeps its own, so the effective
limit is multiplied by their number. With `COPILOT_REDIS_URL` every process counts in Redis instead
(`RedisRateLimiter`, fixed one-minute windows, each key expiring after two minutes), so the limit
holds across all of them (docs/api.md)."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
TOO_LARGE = "request body too large"
TOO_SLOW = "the request body did not arrive in time"
MAX_KEYS = 20_000  # buckets kept in memory; ~200 bytes each, so a few MB at most


class BodyLimit:
    """ASGI middleware: a body over `max_bytes` gets a 413, whether it declares its length or
    streams in chunks without one; nothing past the limit is read into memory. A body that has
    not fully arrived `timeout` seconds after the app first asked for it gets a 408, so a slow
    client cannot hold a worker's request open (uvicorn has no body read timeout of its own)."""

    def __init__(self, app: Any, max_bytes: int, timeout: float = 10.0) -> None:
        self.app, self.max_bytes, self.timeout = app, max_bytes, timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await JSONResponse({"error": TOO_LARGE}, 413)(scope, receive, send)
            return
        received, complete, deadline = 0, False, 0.0

        async def limited() -> MutableMapping[str, Any]:
            nonlocal received, complete, deadline
            if complete:  # after the body, receive() waits for a disconnect: no deadline then
                return await receive()
            loop = asyncio.get_running_loop()
            deadline = deadline or loop.time() + self.timeout
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise HTTPException(408, TOO_SLOW) from None  # answered by the error handler
            received += len(message.get("body", b""))
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            if received > self.max_bytes:
                raise HTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, limited, send)


class RateLimiter:
    """Token buckets per key, bounded: past `max_keys` the least recently used bucket is dropped.

    The `limits` package's MemoryStorage was considered; it expires keys only by time, with no
    cap on their number, so a flood of distinct keys (one per IPv6 address) within a window would
    still grow it. Forgetting a bucket only gives its key a full bucket again, so the cap costs
    precision under such a flood, never memory."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = MAX_KEYS):
        self._clock, self.max_keys = clock, max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # (tokens, refill)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def hit(self, key: str, per_minute: int) -> int:
        """Take one token; 0 when allowed, else the seconds to wait (for Retry-After)."""
        now = self._clock()
        rate = per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - last) * rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)  # most recent last
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return 0 if allowed else max(1, math.ceil((1.0 - tokens) / rate))


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
