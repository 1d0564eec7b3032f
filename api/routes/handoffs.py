"""The agents' handoff queue: list, read, claim, release, resolve, and write to the customer.
The state machine lives in copilot/record/handoffs.py; a move it forbids is a 409. Every action is
the API key's agent's: a name in the body is not read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import AuthHeader, CopilotDep, key_scope
from api.schemas import AgentMessage
from copilot.record.handoffs import OffsiteLinks
from copilot.settings import Settings

router = APIRouter(tags=["agents"])


@dataclass(frozen=True)
class Actor:
    name: str  # the API key's name: one key, one agent
    admin: bool  # admins may release or resolve another agent's claim


def _actor(request: Request, authorization: AuthHeader = None) -> Actor:
    """The agent behind the key (every key, agent or admin, may work the queue); 401 without."""
    settings: Settings = request.app.state.settings
    name, scope = key_scope(settings, authorization)
    return Actor(name, scope == "admin")


AgentDep = Annotated[Actor, Depends(_actor)]
LINKS_REFUSED: dict[int | str, dict[str, Any]] = {
    422: {
        "description": "The message links where customers may not be sent (`links`), or the "
        "body is invalid.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "error": {"type": "string"},
                        "links": {"type": "array", "items": {"type": "string"}},
                    },
                }
            }
        },
    }
}


class Note(BaseModel):
    """An internal note on a handoff: agents see it, the customer never does."""

    text: str = Field(min_length=1, max_length=4000)


QUEUE_RESPONSES: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the queue page is the one the `If-None-Match` ETag names."}
}


@router.get("/v1/agents/me", summary="Who the API key belongs to")
async def me(agent: AgentDep) -> Any:
    """The console shows who is signed in from this: every action is this agent's."""
    return {"name": agent.name, "scope": "admin" if agent.admin else "agent"}


@router.get(
    "/v1/handoffs",
    summary="The queue: filtered, searched, most urgent first, a page at a time",
    responses=QUEUE_RESPONSES,
)
async def handoff_queue(
    copilot: CopilotDep,
    agent: AgentDep,
    response: Response,
    status: Literal["active", "all", "open", "claimed", "resolved", "reopened"] = "active",
    assigned: Literal["anyone", "mine", "unassigned"] = "anyone",
    reason: Annotated[str | None, Query(max_length=32)] = None,
    area: Annotated[str | None, Query(max_length=64)] = None,
    breached: bool | None = None,
    q: Annotated[str | None, Query(max_length=200, description="searched in transcripts")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    if_none_match: Annotated[str | None, Header(max_length=100)] = None,
) -> Any:
    """Sorted by priority, then due time, then age. `status=active` (the default) is open,
    claimed and reopened. Poll with the `ETag` in `If-None-Match`: 304 until the page changes."""
    page = await run_in_threadpool(
        lambda: copilot.handoffs.queue(
            agent=agent.name,
            status=status,
            assigned=assigned,
            reason=reason,
            area=area,
            breached=breached,
            q=q,
            limit=limit,
            offset=offset,
        )
    )
    etag = f'"{page["etag"]}"'
    if if_none_match and if_none_match.strip() == etag:
        return Response(status_code=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    response.headers["Cache-Control"] = "no-cache"
    return page


@router.get("/v1/not-for-us", summary="Conversations triage kept out of the queue")
async def not_for_us(
    copilot: CopilotDep,
    _: AgentDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> Any:
    """Off-topic, abusive or injection-only messages that got an out-of-scope reply instead of a
    ticket: counts by kind, newest first."""
    return await run_in_threadpool(copilot.handoffs.not_for_us, limit, offset)


@router.post("/v1/handoffs/{handoff_id}/notes", summary="An internal note (never to the customer)")
async def note(handoff_id: str, body: Note, copilot: CopilotDep, agent: AgentDep) -> Any:
    return await run_in_threadpool(copilot.handoffs.note, handoff_id, agent.name, body.text)


@router.get("/v1/handoffs/{handoff_id}", summary="A handoff, its packet and its audit trail")
async def handoff(handoff_id: str, copilot: CopilotDep, _: AgentDep) -> Any:
    return await run_in_threadpool(copilot.handoffs.get, handoff_id)


@router.post("/v1/handoffs/{handoff_id}/claim")
async def claim(handoff_id: str, copilot: CopilotDep, agent: AgentDep) -> Any:
    return await run_in_threadpool(copilot.handoffs.claim, handoff_id, agent.name)


@router.post("/v1/handoffs/{handoff_id}/release")
async def release(handoff_id: str, copilot: CopilotDep, agent: AgentDep) -> Any:
    return await run_in_threadpool(copilot.handoffs.release, handoff_id, agent.name, agent.admin)


@router.post("/v1/handoffs/{handoff_id}/resolve")
async def resolve(handoff_id: str, copilot: CopilotDep, agent: AgentDep) -> Any:
    return await run_in_threadpool(copilot.handoffs.resolve, handoff_id, agent.name, agent.admin)


@router.post("/v1/handoffs/{handoff_id}/messages", responses=LINKS_REFUSED)
async def agent_message(
    handoff_id: str, body: AgentMessage, copilot: CopilotDep, agent: AgentDep
) -> Any:
    try:
        return await run_in_threadpool(
            copilot.handoffs.message, handoff_id, agent.name, body.text, body.confirm_links
        )
    except OffsiteLinks as exc:
        return JSONResponse({"error": str(exc), "links": exc.links}, 422)
