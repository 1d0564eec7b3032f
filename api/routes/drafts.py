"""`POST /v1/drafts`: a draft reply to a ticket for an agent, stored redacted with its ticket."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import AgentKey, CopilotDep
from api.schemas import DraftRequest
from copilot.answer.draft import article_text
from copilot.errors import NotFound
from copilot.types import Turn

router = APIRouter(tags=["agents"])


@router.post("/v1/drafts", summary="A draft reply to a ticket")
async def draft(body: DraftRequest, copilot: CopilotDep, agent: AgentKey) -> Any:
    """Greeting, cause, numbered steps, how to check, sign-off (by the key's agent); internal
    procedures in `guidance` for the agent only; what no source covers in `not_covered`."""
    ticket = f"{body.subject}\n{body.body}".strip()
    history = [Turn(m.role, m.content) for m in body.messages]
    draft_id, reply = await run_in_threadpool(
        copilot.draft,
        ticket,
        history,
        body.context.customer(),
        body.model_dump(),
        body.customer_name,
        agent,
    )
    return {"id": draft_id, **asdict(reply)}


@router.get("/v1/articles/{article_id}/reply", summary="An article as reply text to insert")
async def article_reply(article_id: str, copilot: CopilotDep, _: AgentKey) -> Any:
    """The cause, numbered steps and how to check it worked, as plain text for the console's
    "insert article". Internal articles are a 422: they are guidance, never customer text."""
    if article_id not in copilot.catalog:
        raise NotFound(f"article_id: no article {article_id!r} in the KB")
    entry = copilot.catalog[article_id]
    return {
        "article_id": article_id,
        "title": entry.title,
        "text": article_text(copilot.catalog, article_id),
    }
