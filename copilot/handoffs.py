"""The handoff state machine, owned here and nowhere else:

    open ──claim──▶ claimed ──resolve──▶ resolved ──customer writes within 7 days──▶ reopened
      ▲               │                                                             │
      └───release─────┘                           claimed ◀──────claim──────────────┘

Agents' messages go into the conversation as `agent` turns. Every change is one transaction with
a guard on the current status, so two agents claiming at once (on two servers) cannot both win.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select, update

from copilot import db
from copilot.errors import CopilotError, NotFound
from copilot.redact import redact

TRANSITIONS: dict[str, dict[str, str]] = {
    # action -> {from status: to status}
    "claim": {"open": "claimed", "reopened": "claimed"},
    "release": {"claimed": "open"},
    "resolve": {"claimed": "resolved"},
}


class IllegalTransition(CopilotError):
    """The handoff is not in a state that allows this (the API answers 409)."""


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


def transition(engine: Engine, handoff_id: str, action: str, agent: str = "") -> dict[str, Any]:
    moves = TRANSITIONS[action]
    with engine.begin() as conn:
        row = _row(conn, handoff_id)
        if row.status not in moves:
            raise IllegalTransition(
                f"cannot {action} handoff {handoff_id}: it is {row.status}"
                + (f" by {row.claimed_by}" if row.claimed_by and row.status == "claimed" else "")
            )
        if action == "resolve" and agent and row.claimed_by != agent:
            raise IllegalTransition(f"handoff {handoff_id} is claimed by {row.claimed_by}")
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
            raise IllegalTransition(f"handoff {handoff_id} changed meanwhile: try again")
        return as_json(_row(conn, handoff_id))


def queue(engine: Engine, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Most urgent first, then oldest first."""
    query = select(db.handoffs).order_by(db.handoffs.c.priority.desc(), db.handoffs.c.created_at)
    if status:
        query = query.where(db.handoffs.c.status == status)
    with engine.connect() as conn:
        return [as_json(r) for r in conn.execute(query.limit(limit))]


def get(engine: Engine, handoff_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return as_json(_row(conn, handoff_id))


def agent_message(engine: Engine, handoff_id: str, agent: str, text: str) -> dict[str, Any]:
    """The human side of the conversation: only the agent who claimed the handoff writes."""
    with engine.begin() as conn:
        row = _row(conn, handoff_id)
        if row.status != "claimed" or (agent and row.claimed_by != agent):
            raise IllegalTransition(
                f"handoff {handoff_id} is {row.status}"
                + (f" by {row.claimed_by}" if row.claimed_by else "")
                + ": claim it before writing"
            )
        _, seq = db.append_turn(conn, row.conversation_id, "agent", redact(text))
        return {"conversation_id": row.conversation_id, "seq": seq}
