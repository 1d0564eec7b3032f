"""The HTTP API (`copilot serve`): `create_app` wires the `Copilot` service, middleware, routers
and error handlers. Routes only translate HTTP into service calls (api/routes/)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

from api import errors
from api.limits import BodyLimit, RateLimiter, RedisRateLimiter
from api.prometheus import Metrics
from api.routes import ROUTERS
from copilot.service import Copilot
from copilot.settings import Settings, load_settings

log = logging.getLogger("copilot.api")
REOPEN_SECONDS = 10  # how often a service without an index tries to open it again


def create_app(settings: Settings | None = None, *, copilot: Copilot | None = None) -> FastAPI:
    """The app. Pass a `Copilot` to serve one already built (tests do, to reuse an opened
    agent); the caller then closes it. Otherwise the app builds one at start-up and closes it."""
    settings = settings or (copilot.settings if copilot else load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = copilot or Copilot(settings)
        app.state.copilot = service
        reopening = None
        if service.agent is not None:
            await run_in_threadpool(service.warm_up)
        elif not await run_in_threadpool(service.start):  # degraded: customers get a person
            reopening = asyncio.create_task(_keep_reopening(service))
        try:
            service.start_webhooks()
            app.state.ready = True
            yield
        finally:
            app.state.ready = False
            if reopening is not None:
                reopening.cancel()
            service.stop_webhooks()
            if copilot is None:
                service.close()

    app = FastAPI(
        title="Support Copilot API",
        version="1",
        lifespan=lifespan,
        description="Grounded answers from your knowledge base, and clean handoffs to humans.",
    )
    app.state.settings, app.state.metrics = settings, Metrics()
    app.state.limiter = (
        RedisRateLimiter(settings.redis_url)
        if settings.redis_url
        else RateLimiter(max_keys=settings.rate_limit_max_keys)
    )
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, timeout=settings.body_timeout_seconds
    )
    app.add_middleware(  # outside the body limit: a 413 still carries the CORS headers
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Authorization", "X-Conversation-Token"],
    )
    app.add_middleware(app.state.metrics.middleware)
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    return app


async def _keep_reopening(service: Copilot) -> None:
    """Try to open the index every REOPEN_SECONDS until it opens (`copilot index` ran)."""
    await asyncio.sleep(REOPEN_SECONDS)
    while not await run_in_threadpool(service.start):
        await asyncio.sleep(REOPEN_SECONDS)
    log.info("the index is open: the assistant is back")
