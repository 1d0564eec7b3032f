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

import uuid
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection

from copilot.answer import triage
from copilot.errors import Conflict, InvalidInput, NotFound
from copilot.record import db, queue, sla
from copilot.record.outbox import enqueue
from copilot.safety.guard import LinkPolicy
from copilot.safety.redact import redact
from copilot.types import Handoff, Reply

TRANSITIONS: dict[str, dict[str, str]] = {
    # action -> {from status: to status}
    "claim": {"open": "claimed", "reopened": "claimed"},
    "release": {"claimed": "open"},
    "resolve": {"claimed": "resolved"},
}
PAST = {"claim": "claimed", "release": "released", "resolve": "resolved"}  # the event's action
COPILOT, CUSTOMER = "copilot", "customer"  # actors that are not agents
MERGE_WINDOW = timedelta(
    days=7
)  # a ticket resolved longer ago than this is not reopened by merging


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


def priority(handoff: Handoff, rules: Sequence[sla.SlaRule] = sla.DEFAULT_SLA_RULES) -> int:
    """The priority the rule table gives this packet (docs/console.md)."""
    return _verdict(handoff, rules, db.now()).priority


def _verdict(handoff: Handoff, rules: Sequence[sla.SlaRule], opened_at: Any) -> sla.Verdict:
    said = [t.content for t in handoff.transcript if t.role == "user"]
    facts = sla.facts(handoff.reason, said, asdict(handoff.context), handoff.product_area)
    return sla.evaluate(rules, facts, db.aware(opened_at))


def open_handoff(
    conn: Connection,
    conversation_id: str,
    handoff: Handoff,
    webhook_url: str | None = None,
    rules: Sequence[sla.SlaRule] = sla.DEFAULT_SLA_RULES,
) -> str:
    """Store a new handoff (its transcript redacted) in the caller's transaction; its id. A
    conversation has one ticket: a repeat handoff is merged into the one it already has."""
    transcript = tuple(replace(t, content=redact(t.content)) for t in handoff.transcript)
    packet = replace(handoff, transcript=transcript)
    existing = conn.execute(
        select(db.handoffs)
        .where(db.handoffs.c.conversation_id == conversation_id)
        .order_by(db.handoffs.c.created_at.desc())
    ).first()
    if existing is not None and (
        existing.status != "resolved" or db.now() - db.aware(existing.updated_at) <= MERGE_WINDOW
    ):
        return merge(conn, existing, packet, rules)
    handoff_id = str(uuid.uuid4())
    opened = db.now()
    verdict = _verdict(packet, rules, opened)
    body = {**asdict(packet), "id": handoff_id, "conversation_id": conversation_id}
    body["priority"] = verdict.priority
    body["sla_rule"] = verdict.rule
    body["due_at"] = verdict.due_at.isoformat()
    conn.execute(
        db.handoffs.insert().values(
            id=handoff_id,
            conversation_id=conversation_id,
            created_at=opened,
            updated_at=opened,
            reason=packet.reason,
            priority=verdict.priority,
            packet=body,
            sla_rule=verdict.rule,
            due_at=verdict.due_at,
            product_area=packet.product_area,
            plan=packet.context.plan,
        )
    )
    record(conn, handoff_id, COPILOT, "created", reason=packet.reason, rule=verdict.rule)
    if webhook_url:
        enqueue(conn, webhook_url, {"event": "handoff.created", "handoff": body})
    return handoff_id


def merge(conn: Connection, row: Any, packet: Handoff, rules: Sequence[sla.SlaRule]) -> str:
    """A repeat handoff of a conversation: its transcript and articles go into the ticket the
    conversation has (a resolved one is reopened), and the rules are evaluated again."""
    body = dict(row.packet)
    tried = {a: s for a, s in body.get("articles_tried") or []}
    tried.update({a: s for a, s in packet.articles_tried})
    body["transcript"] = [asdict(t) for t in packet.transcript]
    body["articles_tried"] = [[a, s] for a, s in tried.items()]
    body["reasons"] = [*body.get("reasons", [body.get("reason")]), packet.reason]
    if packet.suggested_next_step and not body.get("suggested_next_step"):
        body["suggested_next_step"] = packet.suggested_next_step
    values: dict[str, Any] = {"packet": body, "merged": row.merged + 1, "updated_at": db.now()}
    if row.status == "resolved":
        values["status"] = "reopened"
        values["reopened"] = row.reopened + 1
    conn.execute(update(db.handoffs).where(db.handoffs.c.id == row.id).values(**values))
    if row.status == "resolved":  # the customer came back: the trail says so before the merge
        record(conn, row.id, CUSTOMER, "reopened")
    record(conn, row.id, COPILOT, "merged", reason=packet.reason)
    reevaluate(conn, row.id, rules, packet.reason)
    return str(row.id)


def reevaluate(
    conn: Connection,
    handoff_id: str,
    rules: Sequence[sla.SlaRule] = sla.DEFAULT_SLA_RULES,
    reason: str | None = None,
) -> None:
    """The conversation changed (a new customer message, a repeat handoff): read the rules again
    over everything the customer has said. A new priority or due time is in the audit trail.
    `reason` (e.g. customer_asked on a repeat handoff) counts alongside the ticket's own."""
    row = _row(conn, handoff_id)
    said = list(
        conn.execute(
            select(db.turns.c.text)
            .where(db.turns.c.conversation_id == row.conversation_id, db.turns.c.role == "user")
            .order_by(db.turns.c.seq)
        ).scalars()
    )
    said += [t["content"] for t in row.packet.get("transcript", []) if t.get("role") == "user"]
    context = conn.execute(
        select(db.conversations.c.context).where(db.conversations.c.id == row.conversation_id)
    ).scalar_one_or_none() or dict(row.packet.get("context") or {})
    verdicts = [
        sla.evaluate(
            rules,
            sla.facts(r, said, context, row.product_area),
            db.aware(row.created_at),
        )
        for r in {row.reason, reason or row.reason}
    ]
    best = max(verdicts, key=lambda v: (v.priority, -v.due_at.timestamp()))
    if (best.priority, best.rule) == (row.priority, row.sla_rule):
        return
    conn.execute(
        update(db.handoffs)
        .where(db.handoffs.c.id == handoff_id)
        .values(priority=best.priority, sla_rule=best.rule, due_at=best.due_at)
    )
    moved = {"rule": best.rule, "priority": best.priority, "was": row.priority}
    record(conn, handoff_id, COPILOT, "reprioritized", **moved)


def after_reply(
    conn: Connection,
    conversation_id: str,
    message: str,
    reply: Reply,
    webhook_url: str | None,
    rules: Sequence[sla.SlaRule],
) -> str | None:
    """In the transaction of a chat turn: a handoff opens (or merges into the conversation's
    ticket) and its id is returned; otherwise the waiting ticket, if any, is re-read by the rules,
    and a message triage kept out of the queue is counted."""
    if reply.handoff is not None:
        return open_handoff(conn, conversation_id, reply.handoff, webhook_url, rules)
    on_customer_message(conn, conversation_id, rules)
    if kind := triage.kind_of(reply):
        queue.record_not_for_us(conn, conversation_id, kind, message)
    return None


def on_customer_message(
    conn: Connection, conversation_id: str, rules: Sequence[sla.SlaRule] = sla.DEFAULT_SLA_RULES
) -> None:
    """Called in the transaction that stored a customer message: the conversation's waiting
    ticket, if any, gets its priority and due time from the rules again."""
    row = conn.execute(
        select(db.handoffs.c.id).where(
            db.handoffs.c.conversation_id == conversation_id,
            db.handoffs.c.status.in_(("open", "claimed", "reopened")),
        )
    ).first()
    if row is not None:
        reevaluate(conn, row.id, rules)


def _row(conn: Any, handoff_id: str) -> Any:
    row = conn.execute(select(db.handoffs).where(db.handoffs.c.id == handoff_id)).first()
    if row is None:
        raise NotFound(f"handoff {handoff_id} not found")
    return row


def as_json(row: Any) -> dict[str, Any]:
    return {**queue.row_json(row), "packet": row.packet}


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
def get(engine: Engine, handoff_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return {
            **as_json(_row(conn, handoff_id)),
            "events": events(conn, handoff_id),
            "notes": queue.notes(conn, handoff_id),
        }


@db.unavailable_when_down()
def add_note(engine: Engine, handoff_id: str, agent: str, text: str) -> dict[str, Any]:
    with engine.begin() as conn:
        _row(conn, handoff_id)
        record(conn, handoff_id, agent, "note")
        return queue.add_note(conn, handoff_id, agent, text)


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
        if row.first_response_at is None:  # the SLA clock stops at the first human reply
            conn.execute(
                update(db.handoffs)
                .where(db.handoffs.c.id == handoff_id)
                .values(first_response_at=db.now(), updated_at=db.now())
            )
        return {"conversation_id": row.conversation_id, "seq": seq, "turn_id": turn_id}


class Handoffs:
    """The agents' side of the queue over one database: what the service hands to the API.
    `agent` is always the name of the caller's API key."""

    def __init__(self, engine: Engine, links: LinkPolicy | None = None) -> None:
        self.engine = engine
        self.links = links or LinkPolicy([])

    def queue(self, **filters: Any) -> dict[str, Any]:
        """A page of the queue (copilot/record/queue.py)."""
        return queue.listing(self.engine, **filters)

    def not_for_us(self, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        return queue.not_for_us(self.engine, limit, offset)

    def note(self, handoff_id: str, agent: str, text: str) -> dict[str, Any]:
        return add_note(self.engine, handoff_id, agent, text)

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
