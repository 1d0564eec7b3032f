"""For operators and their probes: liveness, readiness (each part, and why one is down) and the
Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.concurrency import run_in_threadpool

from api.deps import MetricsDep
from copilot.errors import Unavailable
from copilot.service import Copilot

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> Any:
    return {"status": "alive"}


@router.get("/readyz")
async def readyz(request: Request) -> Any:
    copilot: Copilot | None = getattr(request.app.state, "copilot", None)
    checks: dict[str, Any] = {"index": False, "embedder": False, "database": False}
    problems = []
    if copilot is not None and getattr(request.app.state, "ready", False):
        checks["index"] = checks["embedder"] = copilot.agent is not None
        if copilot.agent is None:
            problems.append(copilot.problem)
        try:
            await run_in_threadpool(copilot.ping)
            checks["database"] = True
        except Unavailable as exc:
            problems.append(str(exc))
    ok = all(checks.values())
    body: dict[str, Any] = {"status": "ready" if ok else "not ready", **checks}
    if copilot is not None:  # how many articles the index left out; which, at /v1/admin/lint
        body["skipped_articles"] = len(await run_in_threadpool(copilot.skipped))
    if problems:
        body["problems"] = problems
    return JSONResponse(body, 200 if ok else 503)


@router.get("/metrics", response_class=PlainTextResponse)
async def prometheus(metrics: MetricsDep, request: Request) -> Any:
    copilot: Copilot | None = getattr(request.app.state, "copilot", None)
    queue = None
    if copilot is not None:  # the queue's gauges: a database that is down leaves them out
        try:
            queue = await run_in_threadpool(copilot.queue_figures)
        except Unavailable:
            queue = None
    return PlainTextResponse(metrics.render(queue), media_type="text/plain; version=0.0.4")
