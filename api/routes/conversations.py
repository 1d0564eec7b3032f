"""A customer's conversation: its transcript, feedback on a reply, and asking for a person."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from api.deps import (
    AgentKey,
    AuthHeader,
    CopilotDep,
    MetricsDep,
    SettingsDep,
    TokenHeader,
    is_agent,
    limit,
)
from api.schemas import FeedbackRequest, LabelRequest, RatingFeedback, reply_body

router = APIRouter(tags=["customers"])


@router.get("/v1/conversations/{conversation_id}")
async def conversation(
    conversation_id: str,
    request: Request,
    copilot: CopilotDep,
    x_conversation_token: TokenHeader = None,
    authorization: AuthHeader = None,
) -> Any:
    trusted = is_agent(request, authorization)
    return await run_in_threadpool(
        copilot.conversations.transcript, conversation_id, x_conversation_token, trusted
    )


@router.post("/v1/conversations/{conversation_id}/feedback")
async def feedback(
    conversation_id: str,
    body: FeedbackRequest,
    request: Request,
    copilot: CopilotDep,
    settings: SettingsDep,
    x_conversation_token: TokenHeader = None,
) -> Any:
    limit(request, f"conversation:{conversation_id}", settings.conversation_rate_per_minute)
    await run_in_threadpool(
        lambda: copilot.conversations.feedback(
            conversation_id,
            body.kind,
            token=x_conversation_token,
            turn_id=body.turn_id,
            rating=body.rating if isinstance(body, RatingFeedback) else None,
            comment=body.comment,
        )
    )
    return {"ok": True}


@router.post("/v1/conversations/{conversation_id}/handoff")
async def ask_for_human(
    conversation_id: str,
    request: Request,
    copilot: CopilotDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    x_conversation_token: TokenHeader = None,
) -> Any:
    limit(request, f"conversation:{conversation_id}", settings.conversation_rate_per_minute)
    result = await run_in_threadpool(
        copilot.conversations.request_handoff, conversation_id, x_conversation_token
    )
    metrics.reply(result.reply)
    return reply_body(result, settings.article_url)


@router.post(
    "/v1/conversations/{conversation_id}/labels",
    tags=["agents"],
    summary="Teach the copilot: this article answers it, or it is not in the KB",
)
async def label(
    conversation_id: str, body: LabelRequest, copilot: CopilotDep, agent: AgentKey
) -> Any:
    stored = await run_in_threadpool(
        copilot.label, conversation_id, body.turn_id, body.article_id, agent
    )
    return {"verdict": stored.verdict, "articles": list(stored.articles), "by": stored.author}
