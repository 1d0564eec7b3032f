"""The handoff state machine, owned here and nowhere else:

    open ──claim──▶ claimed ──resolve──▶ resolved ──customer writes within 7 days──▶ reopened
      ▲               │                                                             │
      └───release─────┘                           claimed ◀──────claim──────────────┘

A handoff opens in the transaction of the turn that caused it, redacted, with its priority and
its webhook delivery. Agents' messages go into the conversation as `agent` turns. Every change is
one transaction with a guard on the current status, so two agents claiming at once (on two
servers) cannot both win. A database that is down raises `Unavailable`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, replace
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection

from copilot.errors import Conflict, NotFound
from copilot.record import db
from copilot.record.outbox import enqueue
from copilot.safety.redact import redact
from copilot.types import Handoff

# Priority rules for the agents' queue (docs/conversations.md): higher is more urgent.
REASON_PRIORITY = {
    "repeated_unhelpful": 3,
    "customer_asked": 2,
    "llm_failure": 2,
    "unavailable": 2,
    "low_confidence": 1,
    "no_results": 1,
}
PLAN_PRIORITY = {"enterprise": 2, "business": 1}
FRUSTRATION = re.compile(
    r"still (?:not|doesn'?t|broken)|not working|urgent|asap|right now|!!|unacceptable|"
    r"frustrat|angry|ridiculous|cancel my",
    re.I,
)
TRANSITIONS: dict[str, dict[str, str]] = {
    # action -> {from status: to status}
    "claim": {"open": "claimed", "reopened": "claimed"},
    "release": {"claimed": "open"},
    "resolve": {"claimed": "resolved"},
}


def priority(handoff: Handoff) -> int:
    customer_words = " ".join(t.content for t in handoff.transcript if t.role == "user")
    return (
        REASON_PRIORITY.get(handoff.reason, 1)
        + PLAN_PRIORITY.get(handoff.context.plan.lower(), 0)
        + (1 if FRUSTRATION.search(customer_words) else 0)
    )


def open_handoff(
    conn: Connection, conversation_id: str, handoff: Handoff, webhook_url: str | None = None
) -> str:
    """Store a new handoff (its transcript redacted) in the caller's transaction; its id."""
    handoff_id = str(uuid.uuid4())
    transcript = tuple(replace(t, content=redact(t.content)) for t in handoff.transcript)
    packet = replace(handoff, transcript=transcript)
    body = {**asdict(packet), "id": handoff_id, "conversation_id": conversation_id}
    body["priority"] = priority(packet)
    conn.execute(
        db.handoffs.insert().values(
            id=handoff_id,
            conversation_id=conversation_id,
            reason=packet.reason,
            priority=body["priority"],
            packet=body,
        )
    )
    if webhook_url:
        enqueue(conn, webhook_url, {"event": "handoff.created", "handoff": body})
    return handoff_id


def _row(conn: Any, handoff_id: str) -> Any:
    row = conn.execute(select(db.handoffs).where(db.handoffs.c.id == handoff_id)).first()
    if row is None:
        raise NotFound(f"handoff {handoff_id} not found")
    return row


def as_json(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "conversation_id": row.conversation_id,
        "status": row.status,
        "reason": row.reason,
        "priority": row.priority,
        "claimed_by": row.claimed_by,
        "reopened": row.reopened,
        "created_at": db.aware(row.created_at).isoformat(),
        "updated_at": db.aware(row.updated_at).isoformat(),
        "packet": row.packet,
    }


@db.unavailable_when_down()
def transition(engine: Engine, handoff_id: str, action: str, agent: str = "") -> dict[str, Any]:
    moves = TRANSITIONS[action]
    with engine.begin() as conn:
        row = _row(conn, handoff_id)
        if row.status not in moves:
            raise Conflict(
                f"cannot {action} handoff {handoff_id}: it is {row.status}"
                + (f" by {row.claimed_by}" if row.claimed_by and row.status == "claimed" else "")
            )
        if action == "resolve" and agent and row.claimed_by != agent:
            raise Conflict(f"handoff {handoff_id} is claimed by {row.claimed_by}")
        values: dict[str, Any] = {"status": moves[row.status], "updated_at": db.now()}
        if action == "claim":
            values["claimed_by"] = agent or "agent"
        if action == "release":
            values["claimed_by"] = None
        done = conn.execute(
            update(db.handoffs)
            .where(db.handoffs.c.id == handoff_id, db.handoffs.c.status == row.status)
            .values(**values)
        )
        if done.rowcount != 1:  # somebody else moved it between our read and our write
            raise Conflict(f"handoff {handoff_id} changed meanwhile: try again")
        return as_json(_row(conn, handoff_id))


@db.unavailable_when_down()
def queue(engine: Engine, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Most urgent first, then oldest first."""
    query = select(db.handoffs).order_by(db.handoffs.c.priority.desc(), db.handoffs.c.created_at)
    if status:
        query = query.where(db.handoffs.c.status == status)
    with engine.connect() as conn:
        return [as_json(r) for r in conn.execute(query.limit(limit))]


@db.unavailable_when_down()
def get(engine: Engine, handoff_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return as_json(_row(conn, handoff_id))


@db.unavailable_when_down()
def agent_message(engine: Engine, handoff_id: str, agent: str, text: str) -> dict[str, Any]:
    """The human side of the conversation: only the agent who claimed the handoff writes."""
    with engine.begin() as conn:
        row = _row(conn, handoff_id)
        if row.status != "claimed" or (agent and row.claimed_by != agent):
            raise Conflict(
                f"handoff {handoff_id} is {row.status}"
                + (f" by {row.claimed_by}" if row.claimed_by else "")
                + ": claim it before writing"
            )
        _, seq = db.append_turn(conn, row.conversation_id, "agent", redact(text))
        return {"conversation_id": row.conversation_id, "seq": seq}


class Handoffs:
    """The agents' side of the queue over one database: what the service hands to the API."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def queue(self, status: str | None = None) -> list[dict[str, Any]]:
        return queue(self.engine, status)

    def get(self, handoff_id: str) -> dict[str, Any]:
        return get(self.engine, handoff_id)

    def claim(self, handoff_id: str, agent: str) -> dict[str, Any]:
        return transition(self.engine, handoff_id, "claim", agent)

    def release(self, handoff_id: str) -> dict[str, Any]:
        return transition(self.engine, handoff_id, "release")

    def resolve(self, handoff_id: str, agent: str) -> dict[str, Any]:
        return transition(self.engine, handoff_id, "resolve", agent)

    def message(self, handoff_id: str, agent: str, text: str) -> dict[str, Any]:
        return agent_message(self.engine, handoff_id, agent, text)
