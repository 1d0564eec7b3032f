"""What the customer does with suggestions: picks one (its answer is shown, and the pick is a
customer label), gets other articles after a thumbs-down, and reads the conversation back on a
return visit (the transcript with suggestions, markers and the handoff's status)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from copilot.answer.catalog import Catalog
from copilot.answer.compose import extractive_answer
from copilot.errors import InvalidInput, NotFound
from copilot.record import customer, db, labels, streamed
from copilot.safety.guard import LinkPolicy
from copilot.safety.redact import redact
from copilot.types import Citation, Confidence, Hit, Reply, Turn

PICKED = "picked"  # the `reason` of an answer the customer picked from suggestions
MAX_NEXT = 3  # other articles offered after a thumbs-down


def suggest_turn(conn: Connection, conversation_id: str, turn_id: int | None) -> Any:
    """The reply a pick refers to: `turn_id`, or the latest that offered articles (a suggest
    reply, or an answer whose thumbs-down offered others)."""
    query = select(db.turns).where(
        db.turns.c.conversation_id == conversation_id, db.turns.c.role == "assistant"
    )
    if turn_id is not None:
        query = query.where(db.turns.c.id == turn_id)
    rows = conn.execute(query.order_by(db.turns.c.seq.desc()).limit(50)).all()
    turn = next((r for r in rows if r.suggestions), None)
    if turn is None:
        where = (
            f"turn {turn_id} has not" if turn_id is not None else "no reply in this conversation"
        )
        raise InvalidInput(f"turn_id: {where} offered articles to pick from")
    return turn


def picked_reply(
    turn: Any, article_id: str, catalog: Catalog, links: LinkPolicy
) -> tuple[Reply, str]:
    """The answer from the picked article, and its title: `InvalidInput` when it was not among
    the turn's suggestions."""
    offered = {s["article_id"]: s.get("title", "") for s in turn.suggestions or []}
    if article_id not in offered:
        raise InvalidInput(f"article_id: {article_id!r} was not among that reply's suggestions")
    entry = catalog.get(article_id)
    if entry is None:
        raise NotFound(f"article_id: {article_id!r} is no longer in the KB")
    hit = Hit(
        article_id, entry.title, 0.0, 0.0, 0.0, "Fix", "", entry.audience,
        entry.product_area, entry.stale,
    )  # fmt: skip
    text, cites = extractive_answer(hit, catalog.sections(article_id))
    cites = tuple(Citation(c.article_id, links.clean(c.title), c.section) for c in cites)
    confidence = Confidence(float(turn.confidence or 0.0), {"picked": 1.0})
    reply = Reply("answer", links.clean(text), confidence, cites, None, (hit,))
    return reply, links.clean(entry.title)


def store_pick(
    conn: Connection,
    conversation_id: str,
    turn: Any,
    reply: Reply,
    title: str,
    catalog: Catalog,
    waiting: Any,
) -> int:
    """The customer's "Picked: <title>", the answer, and the label; the answer's turn id."""
    db.append_turn(conn, conversation_id, "user", redact(f"Picked: {title}"))
    values = streamed.reply_values(reply, 0.0, catalog)
    values.update(reason=PICKED, while_waiting=waiting is not None)
    seq = conn.execute(
        select(func.count()).where(db.turns.c.conversation_id == conversation_id)
    ).scalar_one()
    result = conn.execute(
        db.turns.insert().values(
            conversation_id=conversation_id, seq=seq, role="assistant", **values
        )
    )
    if waiting is not None:
        turns = [Turn("user", f"Picked: {title}"), Turn("assistant", reply.text)]
        customer.add_to_packet(conn, waiting, turns)
    labels.from_pick(conn, conversation_id, turn, reply.citations[0].article_id)
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def next_steps(turn: Any, catalog: Catalog) -> list[Citation]:
    """After a thumbs-down: other customer articles from that reply's hits, best first."""
    shown = {c["article_id"] for c in turn.citations or []}
    out = []
    for h in turn.hits or []:
        aid = h["article_id"]
        entry = catalog.get(aid)
        if aid in shown or entry is None or not catalog.visible(aid, "customer"):
            continue
        out.append(Citation(aid, entry.title, ""))
        if len(out) == MAX_NEXT:
            break
    return out


def transcript_turn(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "turn_id": r.id,
        "role": r.role,
        "text": r.text,
        "type": r.decision,
        "citations": r.citations or [],
        "suggestions": [
            {"article_id": s["article_id"], "title": s.get("title", "")}
            for s in (r.suggestions or [])
        ],
        "while_waiting": bool(r.while_waiting),
        "created_at": db.aware(r.created_at).isoformat(),
    }


def customer_state(conn: Connection, conversation_id: str, trusted: bool) -> dict[str, Any]:
    """The transcript's top level: the handoff as the customer sees it, whether a way to reach
    them is known, and (agents only) the contact fields themselves."""
    last = customer.latest_handoff(conn, conversation_id)
    contact = customer.contact_of(conn, conversation_id)
    body: dict[str, Any] = {
        "handoff": customer.view(last.id if last else None, customer.status_of(last)),
        "contact_known": bool(contact and contact["email"]),
    }
    if trusted:
        body["contact"] = contact
    return body


PLACEHOLDER = re.compile(r"\[[A-Z_]+\]")  # what redaction left: not a question to suggest


# A stored question is shown to every visitor only once this many conversations asked it word
# for word: one customer's question ("why was acme billed twice") is theirs, not a suggestion.
MIN_ASKERS = 3


def most_asked(conn: Connection, n: int = 3) -> list[str]:
    """The customers' most frequent first-hand questions that got an answer (not a pick), each
    asked in at least MIN_ASKERS conversations."""
    asked, answer = db.turns.alias("asked"), db.turns.alias("answer")
    rows = conn.execute(
        select(asked.c.text, func.count().label("times"))
        .join(
            answer,
            (answer.c.conversation_id == asked.c.conversation_id)
            & (answer.c.seq == asked.c.seq + 1),
        )
        .where(
            asked.c.role == "user",
            answer.c.decision == "answer",
            (answer.c.reason.is_(None)) | (answer.c.reason != PICKED),
        )
        .group_by(asked.c.text)
        .having(func.count(asked.c.conversation_id.distinct()) >= MIN_ASKERS)
        .order_by(func.count().desc(), asked.c.text)
        .limit(50)
    ).all()
    out = [r.text.strip() for r in rows if not PLACEHOLDER.search(r.text) and len(r.text) <= 120]
    return out[:n]
