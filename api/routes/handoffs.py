"""The agents' handoff queue: list, read, claim, release, resolve, and write to the customer.
The state machine lives in copilot/record/handoffs.py; a move it forbids is a 409. Every action is
the API key's agent's: a name in the body is not read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
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


@router.get("/v1/handoffs")
async def handoff_queue(copilot: CopilotDep, _: AgentDep, status: str | None = None) -> Any:
    return await run_in_threadpool(copilot.handoffs.queue, status)


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
