"""The agents' queue, read side: a page of handoffs with their SLA state, filtered (status, mine
or unassigned, reason, product area, breached), searched (over the redacted transcripts), sorted
by priority then due time, plus a version (`etag`) so a console polling every few seconds gets
`304 Not Modified` until something changed. Also the internal notes and the conversations triage
kept out of the queue ("not for us"). The state machine is copilot/record/handoffs.py.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from sqlalchemy import Engine, and_, func, or_, select
from sqlalchemy.engine import Connection

from copilot.errors import InvalidInput
from copilot.record import db
from copilot.safety.redact import redact

ACTIVE = ("open", "claimed", "reopened")
STATUSES = ("active", "all", "open", "claimed", "resolved", "reopened")
Assigned = Literal["anyone", "mine", "unassigned"]
MAX_PAGE = 100


def sla_json(row: Any) -> dict[str, Any]:
    """The queue's columns of a handoff: the rule that set the priority, the first-response due
    time and whether it was missed (`breached`: no reply yet and past due, or the first one came
    late)."""
    due = db.aware(row.due_at) if row.due_at is not None else None
    first = db.aware(row.first_response_at) if row.first_response_at is not None else None
    return {
        "sla_rule": row.sla_rule,
        "due_at": due.isoformat() if due else None,
        "first_response_at": first.isoformat() if first else None,
        "breached": due is not None and (first or db.now()) > due,
        "product_area": row.product_area,
        "plan": row.plan,
        "merged": row.merged,
    }


def breached_clause(now: Any) -> Any:
    h = db.handoffs.c
    return and_(
        h.due_at.is_not(None),
        or_(
            and_(h.first_response_at.is_(None), h.due_at < now),
            h.first_response_at > h.due_at,
        ),
    )


@db.unavailable_when_down()
def listing(
    engine: Engine,
    *,
    agent: str = "",
    status: str = "active",
    assigned: Assigned = "anyone",
    reason: str | None = None,
    area: str | None = None,
    breached: bool | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """One page of the queue: most urgent first, then the earliest due, then the oldest.
    `status` "active" is open, claimed and reopened; `q` searches what was said (customer, bot
    and agents), case-insensitively. `etag` changes whenever any item on the page (or the total)
    does."""
    if status not in STATUSES:
        raise InvalidInput(f"status: one of {', '.join(STATUSES)}")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit: 1 to {MAX_PAGE}")
    h, now = db.handoffs.c, db.now()
    where: list[Any] = []
    if status == "active":
        where.append(h.status.in_(ACTIVE))
    elif status != "all":
        where.append(h.status == status)
    if assigned == "mine":
        where.append(h.claimed_by == agent)
    elif assigned == "unassigned":
        where.append(h.claimed_by.is_(None))
    if reason:
        where.append(h.reason == reason)
    if area:
        where.append(h.product_area == area)
    if breached is not None:
        clause = breached_clause(now)
        where.append(clause if breached else ~clause)
    if q and q.strip():
        said = select(db.turns.c.conversation_id).where(
            func.lower(db.turns.c.text).contains(q.strip().lower(), autoescape=True)
        )
        where.append(h.conversation_id.in_(said))
    # Handoffs without a due time (opened before v9) sort after the ones with one.
    no_due = db.handoffs.c.due_at.is_(None)
    order = (h.priority.desc(), no_due.asc(), h.due_at.asc(), h.created_at.asc(), h.id)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(db.handoffs).where(*where))
        count = int(total.scalar_one())
        rows = conn.execute(
            select(db.handoffs).where(*where).order_by(*order).limit(limit).offset(offset)
        ).all()
        previews = _previews(conn, [r.conversation_id for r in rows])
        contexts = _contexts(conn, [r.conversation_id for r in rows])
    items = [_item(r, previews, contexts) for r in rows]
    body: dict[str, Any] = {"items": items, "total": count}
    if offset + len(items) < count:
        body["next_offset"] = offset + len(items)
    # Waiting time is computed by the reader from `created_at`, so an idle queue keeps its etag
    # until something happens or a due time passes (`breached` flips).
    body["etag"] = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]
    return body


def row_json(row: Any) -> dict[str, Any]:
    """A handoff row as the API shows it, without its packet."""
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
        **sla_json(row),
    }


def _item(row: Any, previews: dict[str, str], contexts: dict[str, Any]) -> dict[str, Any]:
    return {
        **row_json(row),
        "preview": previews.get(row.conversation_id, ""),
        "context": contexts.get(row.conversation_id, {}),
    }


def _previews(conn: Connection, ids: list[str]) -> dict[str, str]:
    """Each conversation's latest customer message, shortened: what the row shows."""
    if not ids:
        return {}
    t = db.turns.c
    latest = (
        select(t.conversation_id, func.max(t.seq).label("seq"))
        .where(t.conversation_id.in_(ids), t.role == "user")
        .group_by(t.conversation_id)
        .subquery()
    )
    rows = conn.execute(
        select(t.conversation_id, t.text).join(
            latest, and_(t.conversation_id == latest.c.conversation_id, t.seq == latest.c.seq)
        )
    )
    return {r.conversation_id: r.text[:160] for r in rows}


def _contexts(conn: Connection, ids: list[str]) -> dict[str, Any]:
    if not ids:
        return {}
    rows = conn.execute(
        select(db.conversations.c.id, db.conversations.c.context).where(
            db.conversations.c.id.in_(ids)
        )
    )
    return {r.id: r.context for r in rows}


def notes(conn: Connection, handoff_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(db.handoff_notes)
        .where(db.handoff_notes.c.handoff_id == handoff_id)
        .order_by(db.handoff_notes.c.id)
    )
    return [{"at": db.aware(n.at).isoformat(), "author": n.author, "text": n.text} for n in rows]


def add_note(conn: Connection, handoff_id: str, agent: str, text: str) -> dict[str, Any]:
    """An internal note: for agents only, never a turn of the conversation (redacted)."""
    at = db.now()
    conn.execute(
        db.handoff_notes.insert().values(
            handoff_id=handoff_id, at=at, author=agent, text=redact(text)
        )
    )
    return {"at": at.isoformat(), "author": agent, "text": redact(text)}


def record_not_for_us(conn: Connection, conversation_id: str, kind: str, question: str) -> None:
    conn.execute(
        db.not_for_us.insert().values(
            conversation_id=conversation_id, kind=kind, question=redact(question)[:2000]
        )
    )


@db.unavailable_when_down()
def not_for_us(engine: Engine, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    """What triage kept out of the queue, newest first, with counts by kind."""
    n = db.not_for_us.c
    with engine.connect() as conn:
        counts: dict[str, int] = dict(
            conn.execute(select(n.kind, func.count()).group_by(n.kind)).all()
        )
        rows = conn.execute(
            select(db.not_for_us).order_by(n.id.desc()).limit(min(limit, MAX_PAGE)).offset(offset)
        ).all()
    return {
        "counts": {k: int(v) for k, v in counts.items()},
        "total": int(sum(counts.values())),
        "items": [
            {
                "conversation_id": r.conversation_id,
                "at": db.aware(r.at).isoformat(),
                "kind": r.kind,
                "question": r.question,
            }
            for r in rows
        ],
    }
