"""The handoff state machine, owned here and nowhere else:

    open ──claim──▶ claimed ──resolve──▶ resolved ──customer writes within 7 days──▶ reopened
      ▲               │                                                             │
      └───release─────┘                           claimed ◀──────claim──────────────┘

A handoff opens in the transaction of the turn that caused it, redacted, with its priority and
its webhook delivery. Agents' messages go into the conversation as `agent` turns. Every change is
one transaction with a guard on the current status, so two agents claiming at once (on two
servers) cannot both win. The agent is the API key's, never a name the caller typed: only the
holder of a claim writes, releases or resolves (an admin may release or resolve anyone's), and
each change writes its `handoff_events` row (who, what, when) in the same transaction. A link in
an agent's message that customers may not be shown is refused unless the agent confirms it. A
database that is down raises `Unavailable`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, replace
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection

from copilot.errors import Conflict, InvalidInput, NotFound
from copilot.record import db
from copilot.record.outbox import enqueue
from copilot.safety.guard import LinkPolicy
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
PAST = {"claim": "claimed", "release": "released", "resolve": "resolved"}  # the event's action
COPILOT, CUSTOMER = "copilot", "customer"  # actors that are not agents


class OffsiteLinks(InvalidInput):
    """An agent's message links where customers may not be sent; `links` names them."""

    def __init__(self, links: list[str]) -> None:
        super().__init__(
            f"the message links off-site ({', '.join(links)}): check them, then send it again "
            'with "confirm_links": true'
        )
        self.links = links


def record(conn: Connection, handoff_id: str, actor: str, action: str, **detail: Any) -> None:
    """One line of a handoff's audit trail, in the caller's transaction."""
    conn.execute(
        db.handoff_events.insert().values(
            handoff_id=handoff_id, at=db.now(), actor=actor, action=action, detail=detail
        )
    )


def reopen(conn: Connection, row: Any) -> None:
    """The customer wrote again soon after resolution: the handoff goes back to the queue."""
    conn.execute(
        update(db.handoffs)
        .where(db.handoffs.c.id == row.id)
        .values(status="reopened", reopened=row.reopened + 1, updated_at=db.now())
    )
    record(conn, row.id, CUSTOMER, "reopened")


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
    record(conn, handoff_id, COPILOT, "created", reason=packet.reason)
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


def events(conn: Any, handoff_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(db.handoff_events)
        .where(db.handoff_events.c.handoff_id == handoff_id)
        .order_by(db.handoff_events.c.id)
    )
    return [
        {
            "at": db.aware(r.at).isoformat(),
            "actor": r.actor,
            "action": r.action,
            "detail": r.detail,
        }
        for r in rows
    ]


@db.unavailable_when_down()
def transition(
    engine: Engine, handoff_id: str, action: str, agent: str, admin: bool = False
) -> dict[str, Any]:
    """Claim, release or resolve as `agent` (the key's name). Releasing or resolving another
    agent's claim is a `Conflict` naming the holder, unless `admin`."""
    moves = TRANSITIONS[action]
    with engine.begin() as conn:
        row = _row(conn, handoff_id)
        if row.status not in moves:
            raise Conflict(
                f"cannot {action} handoff {handoff_id}: it is {row.status}"
                + (f" by {row.claimed_by}" if row.claimed_by and row.status == "claimed" else "")
            )
        if action != "claim" and row.claimed_by != agent and not admin:
            raise Conflict(
                f"cannot {action} handoff {handoff_id}: it is claimed by {row.claimed_by}"
            )
        values: dict[str, Any] = {"status": moves[row.status], "updated_at": db.now()}
        if action == "claim":
            values["claimed_by"] = agent
        if action == "release":
            values["claimed_by"] = None
        done = conn.execute(
            update(db.handoffs)
            .where(db.handoffs.c.id == handoff_id, db.handoffs.c.status == row.status)
            .values(**values)
        )
        if done.rowcount != 1:  # somebody else moved it between our read and our write
            raise Conflict(f"handoff {handoff_id} changed meanwhile: try again")
        detail = {"holder": row.claimed_by} if row.claimed_by not in (None, agent) else {}
        record(conn, handoff_id, agent, PAST[action], **detail)
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
        return {**as_json(_row(conn, handoff_id)), "events": events(conn, handoff_id)}


@db.unavailable_when_down()
def agent_message(
    engine: Engine,
    handoff_id: str,
    agent: str,
    text: str,
    links: LinkPolicy,
    confirm_links: bool = False,
) -> dict[str, Any]:
    """The human side of the conversation: only the agent who claimed the handoff writes. A
    link customers may not be shown raises `OffsiteLinks` unless `confirm_links`; a confirmed
    message is stored as written, and the confirmation is in the audit trail."""
    with engine.begin() as conn:
        row = _row(conn, handoff_id)
        if row.status != "claimed" or row.claimed_by != agent:
            raise Conflict(
                f"handoff {handoff_id} is {row.status}"
                + (f" by {row.claimed_by}" if row.claimed_by else "")
                + ": claim it before writing"
            )
        offsite = list(dict.fromkeys(links.offsite(text)))  # each link once, in order
        if offsite and not confirm_links:
            raise OffsiteLinks(offsite)
        turn_id, seq = db.append_turn(conn, row.conversation_id, "agent", redact(text))
        detail: dict[str, Any] = {"turn_id": turn_id}
        if offsite:
            detail["confirmed_links"] = offsite
        record(conn, handoff_id, agent, "message", **detail)
        return {"conversation_id": row.conversation_id, "seq": seq, "turn_id": turn_id}


class Handoffs:
    """The agents' side of the queue over one database: what the service hands to the API.
    `agent` is always the name of the caller's API key."""

    def __init__(self, engine: Engine, links: LinkPolicy | None = None) -> None:
        self.engine = engine
        self.links = links or LinkPolicy([])

    def queue(self, status: str | None = None) -> list[dict[str, Any]]:
        return queue(self.engine, status)

    def get(self, handoff_id: str) -> dict[str, Any]:
        """The handoff with its audit trail (`events`)."""
        return get(self.engine, handoff_id)

    def claim(self, handoff_id: str, agent: str) -> dict[str, Any]:
        return transition(self.engine, handoff_id, "claim", agent)

    def release(self, handoff_id: str, agent: str, admin: bool = False) -> dict[str, Any]:
        return transition(self.engine, handoff_id, "release", agent, admin)

    def resolve(self, handoff_id: str, agent: str, admin: bool = False) -> dict[str, Any]:
        return transition(self.engine, handoff_id, "resolve", agent, admin)

    def message(
        self, handoff_id: str, agent: str, text: str, confirm_links: bool = False
    ) -> dict[str, Any]:
        return agent_message(self.engine, handoff_id, agent, text, self.links, confirm_links)
