"""What runs the service rather than a conversation: the report and content gaps (agent key),
reindex-and-swap and the KB linter (admin key)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import AdminKey, AgentKey, CopilotDep
from api.schemas import IsoDate

router = APIRouter()


@router.get("/v1/metrics", tags=["agents"], summary="`copilot report` as JSON")
async def report_json(copilot: CopilotDep, _: AgentKey, since: IsoDate | None = None) -> Any:
    return await run_in_threadpool(copilot.report, since)


@router.post("/v1/admin/reindex", tags=["admin"])
async def reindex(copilot: CopilotDep, _: AdminKey) -> Any:
    return asdict(await run_in_threadpool(copilot.reindex))


@router.get("/v1/admin/lint", tags=["admin"])
async def lint(copilot: CopilotDep, _: AdminKey) -> Any:
    result = await run_in_threadpool(copilot.lint)
    return {
        "errors": result.errors,
        "warnings": result.warnings,
        "findings": [asdict(f) for f in result.findings],
        "skipped_articles": await run_in_threadpool(copilot.skipped),
    }


@router.get("/v1/gaps", tags=["agents"], summary="Unanswered questions, clustered")
async def gaps(copilot: CopilotDep, _: AgentKey, top: int = 10) -> Any:
    found = await run_in_threadpool(copilot.gaps)
    return [
        {"size": g.size, "product_area": g.product_area, "examples": g.questions[:3]}
        for g in found[: max(1, min(top, 50))]
    ]
