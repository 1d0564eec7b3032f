"""`POST /v1/chat`: a customer's message and the reply, as JSON or streamed as server-sent
events (api/sse.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.deps import (
    AuthHeader,
    CopilotDep,
    MetricsDep,
    SettingsDep,
    TokenHeader,
    client_limit,
    limit,
)
from api.schemas import ChatRequest, ReplyBody, reply_body
from api.sse import SSE_EVENT, chat_events
from copilot.types import CustomerContext

router = APIRouter(tags=["customers"])


@router.post(
    "/v1/chat",
    summary="A customer's message; the reply",
    responses={200: {"model": ReplyBody, "content": {"text/event-stream": {"schema": SSE_EVENT}}}},
)
async def chat(
    body: ChatRequest,
    request: Request,
    copilot: CopilotDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    x_conversation_token: TokenHeader = None,
    accept: AuthHeader = None,
) -> Any:
    client_limit(request, "chat")
    if len(body.message) > settings.max_message_chars:
        raise HTTPException(413, f"message longer than {settings.max_message_chars} characters")
    token = body.conversation_token or x_conversation_token
    if body.conversation_id:
        # turn_count checks the token first (404): the per-conversation limit is counted only
        # once it matched, so knowing a conversation's id does not let anyone 429 its owner, and
        # an unknown id leaves no limit entry behind.
        held = await run_in_threadpool(
            copilot.conversations.turn_count, body.conversation_id, token
        )
        limit(
            request, f"conversation:{body.conversation_id}", settings.conversation_rate_per_minute
        )
        if held >= settings.max_turns_per_conversation:
            raise HTTPException(409, "this conversation is full: start a new one")
    given = body.context.customer()
    # `attributes` do not take part in ==: a context of attributes only is still a context.
    context = given if given != CustomerContext() or given.attributes else None
    contact = body.context.contact()
    if not (body.stream or (accept and "text/event-stream" in accept)):
        result = await run_in_threadpool(
            lambda: copilot.conversations.chat(
                body.message, body.conversation_id, token, context, contact=contact
            )
        )
        metrics.reply(result.reply)
        return reply_body(result, settings.article_url)
    return StreamingResponse(
        chat_events(
            copilot,
            body.message,
            body.conversation_id,
            token,
            context,
            metrics,
            settings.article_url,
            contact,
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
