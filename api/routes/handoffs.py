"""The agents' handoff queue: list, read, claim, release, resolve, and write to the customer.
The state machine lives in copilot/record/handoffs.py; a move it forbids is a 409."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.deps import AgentKey, CopilotDep
from api.schemas import AgentMessage, ClaimRequest

router = APIRouter(tags=["agents"])


@router.get("/v1/handoffs")
async def handoff_queue(copilot: CopilotDep, _: AgentKey, status: str | None = None) -> Any:
    return await run_in_threadpool(copilot.handoffs.queue, status)


@router.get("/v1/handoffs/{handoff_id}")
async def handoff(handoff_id: str, copilot: CopilotDep, _: AgentKey) -> Any:
    return await run_in_threadpool(copilot.handoffs.get, handoff_id)


@router.post("/v1/handoffs/{handoff_id}/claim")
async def claim(handoff_id: str, body: ClaimRequest, copilot: CopilotDep, _: AgentKey) -> Any:
    return await run_in_threadpool(copilot.handoffs.claim, handoff_id, body.agent)


@router.post("/v1/handoffs/{handoff_id}/release")
async def release(handoff_id: str, copilot: CopilotDep, _: AgentKey) -> Any:
    return await run_in_threadpool(copilot.handoffs.release, handoff_id)


@router.post("/v1/handoffs/{handoff_id}/resolve")
async def resolve(handoff_id: str, body: ClaimRequest, copilot: CopilotDep, _: AgentKey) -> Any:
    return await run_in_threadpool(copilot.handoffs.resolve, handoff_id, body.agent)


@router.post("/v1/handoffs/{handoff_id}/messages")
async def agent_message(
    handoff_id: str, body: AgentMessage, copilot: CopilotDep, _: AgentKey
) -> Any:
    return await run_in_threadpool(copilot.handoffs.message, handoff_id, body.agent, body.text)
