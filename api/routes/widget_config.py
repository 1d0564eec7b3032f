"""`GET /v1/widget/config`: what the widget shows when it opens (public, cached)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import CopilotDep, client_limit

router = APIRouter(tags=["customers"])
MAX_AGE = 300  # seconds: the most-asked questions change slowly


class WidgetConfig(BaseModel):
    greeting: str
    disclosure: str  # that the assistant is an AI
    suggested_questions: list[str]


@router.get(
    "/v1/widget/config",
    response_model=WidgetConfig,
    summary="The widget's greeting, AI disclosure and suggested questions",
)
async def widget_config(request: Request, response: Response, copilot: CopilotDep) -> Any:
    client_limit(request, "widget")
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    return await run_in_threadpool(copilot.widget_config)
