"""A customer's conversation: its transcript, feedback on a reply, and asking for a person."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
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
    public_conversation,
)
from api.schemas import (
    ContactRequest,
    FeedbackRequest,
    FeedbackResponse,
    LabelRequest,
    PickRequest,
    RatingFeedback,
    ReplyBody,
    TranscriptBody,
    reply_body,
    suggestion,
)
from copilot.service import Copilot
from copilot.settings import Settings
from copilot.types import Contact

# Every route here: the id must be a UUID (422 before any lookup) and, without an API key, the
# client's per-address limit applies (api/deps.py).
router = APIRouter(tags=["customers"], dependencies=[Depends(public_conversation)])


async def _conversation_limit(
    request: Request, copilot: Copilot, settings: Settings, conversation_id: str, token: str | None
) -> None:
    """The per-conversation limit, counted only once the token matched: knowing an id is not
    enough to 429 its owner, and no limit entry is made for a conversation that does not exist."""
    await run_in_threadpool(copilot.conversations.verify, conversation_id, token)
    limit(request, f"conversation:{conversation_id}", settings.conversation_rate_per_minute)


@router.get(
    "/v1/conversations/{conversation_id}",
    summary="The transcript, a page at a time: pass `next_after` as `after` for the next",
    responses={200: {"model": TranscriptBody}},
)
async def conversation(
    conversation_id: str,
    request: Request,
    copilot: CopilotDep,
    x_conversation_token: TokenHeader = None,
    authorization: AuthHeader = None,
    after: Annotated[int, Query(ge=0, le=2**53, description="the last turn id already read")] = 0,
    size: Annotated[int, Query(alias="limit", ge=1, le=200, description="turns per page")] = 100,
) -> Any:
    trusted = is_agent(request, authorization)
    return await run_in_threadpool(
        copilot.conversations.transcript,
        conversation_id,
        x_conversation_token,
        trusted,
        after,
        size,
    )


@router.post(
    "/v1/conversations/{conversation_id}/feedback",
    response_model=FeedbackResponse,
    summary="Feedback on a reply; a thumbs-down gets other articles to try",
)
async def feedback(
    conversation_id: str,
    body: FeedbackRequest,
    request: Request,
    copilot: CopilotDep,
    settings: SettingsDep,
    x_conversation_token: TokenHeader = None,
) -> Any:
    await _conversation_limit(request, copilot, settings, conversation_id, x_conversation_token)
    offer = await run_in_threadpool(
        lambda: copilot.conversations.feedback(
            conversation_id,
            body.kind,
            token=x_conversation_token,
            turn_id=body.turn_id,
            rating=body.rating if isinstance(body, RatingFeedback) else None,
            comment=body.comment,
        )
    )
    return {
        "ok": True,
        "suggestions": [suggestion(c.article_id, c.title, settings.article_url) for c in offer],
    }


@router.post(
    "/v1/conversations/{conversation_id}/pick",
    summary="The customer picked one of a suggest reply's articles: its answer",
    responses={200: {"model": ReplyBody}},
)
async def pick(
    conversation_id: str,
    body: PickRequest,
    request: Request,
    copilot: CopilotDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    x_conversation_token: TokenHeader = None,
) -> Any:
    await _conversation_limit(request, copilot, settings, conversation_id, x_conversation_token)
    result = await run_in_threadpool(
        copilot.conversations.pick,
        conversation_id,
        x_conversation_token,
        body.article_id,
        body.turn_id,
    )
    metrics.reply(result.reply)
    return reply_body(result, settings.article_url)


@router.post(
    "/v1/conversations/{conversation_id}/contact",
    summary="How to reach the customer (with consent): contact fields agents see",
)
async def contact(
    conversation_id: str,
    body: ContactRequest,
    request: Request,
    copilot: CopilotDep,
    settings: SettingsDep,
    x_conversation_token: TokenHeader = None,
) -> Any:
    await _conversation_limit(request, copilot, settings, conversation_id, x_conversation_token)
    await run_in_threadpool(
        copilot.conversations.contact,
        conversation_id,
        x_conversation_token,
        Contact(body.email, body.name),
        body.consent,
    )
    return {"ok": True, "contact_known": True}


@router.post("/v1/conversations/{conversation_id}/handoff", responses={200: {"model": ReplyBody}})
async def ask_for_human(
    conversation_id: str,
    request: Request,
    copilot: CopilotDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    x_conversation_token: TokenHeader = None,
) -> Any:
    await _conversation_limit(request, copilot, settings, conversation_id, x_conversation_token)
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
