"""The label store: what docs owners, agents and customers said answers a question. Fed by
`copilot calibrate --labels FILE`, by agents in the console ("answers it" / "not in the KB") and by
customers (a thumbs-down on an answer, a pick among suggestions); read by `copilot calibrate` to
certify a threshold."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from copilot.errors import Conflict
from copilot.record import db
from copilot.safety.redact import redact
from copilot.types import Label, LabelVerdict


def _key(label: Label) -> str:
    raw = [label.source, label.verdict, label.question, label.history, sorted(label.articles)]
    return hashlib.sha256(json.dumps(raw).encode()).hexdigest()


@db.unavailable_when_down()
def add(engine: Engine, labels: Iterable[Label], conversation_id: str | None = None) -> int:
    """Store labels (redacted); the same label given twice is kept once. Returns how many were
    new."""
    added = 0
    for label in labels:
        with engine.begin() as conn:
            added += insert(conn, label, conversation_id)
    return added


def insert(conn: Connection, label: Label, conversation_id: str | None = None) -> bool:
    """One label, redacted, inside the caller's transaction; False when it was already there."""
    label = Label(
        redact(label.question),
        label.verdict,
        label.articles,
        tuple((role, redact(text)) for role, text in label.history),
        label.source,
        label.author,
    )
    key = _key(label)
    if conn.execute(select(db.labels.c.id).where(db.labels.c.key == key)).first():
        return False
    conn.execute(
        db.labels.insert().values(
            key=key,
            source=label.source,
            author=label.author[:200],
            verdict=label.verdict,
            question=label.question,
            history=[list(t) for t in label.history],
            articles=list(label.articles),
            conversation_id=conversation_id,
        )
    )
    return True


@db.unavailable_when_down()
def all_labels(engine: Engine) -> list[Label]:
    with engine.connect() as conn:
        rows = conn.execute(select(db.labels).order_by(db.labels.c.id)).all()
    return [
        Label(
            r.question,
            r.verdict,
            tuple(r.articles),
            tuple((str(role), str(text)) for role, text in r.history),
            r.source,
            r.author,
        )
        for r in rows
    ]


def from_agent(
    conn: Connection, conversation_id: str, turn: Any, article_id: str | None, author: str
) -> Label:
    """An agent's one click on a reply: `article_id` answers the question behind it, or (None)
    the KB does not."""
    question, history = _asked_before(conn, conversation_id, turn.seq)
    if question is None:
        raise Conflict("turn_id: no customer question comes before this reply")
    verdict: LabelVerdict = "answers" if article_id else "not_in_kb"
    label = Label(question, verdict, (article_id,) if article_id else (), history, "agent", author)
    insert(conn, label, conversation_id)
    return label


def from_thumbs_down(conn: Connection, conversation_id: str, turn: Any) -> None:
    """A thumbs-down on an answer: the article it cited does not answer the question asked."""
    if turn.decision != "answer" or not turn.citations:
        return
    question, history = _asked_before(conn, conversation_id, turn.seq)
    if question is None:
        return
    article = str(turn.citations[0]["article_id"])
    label = Label(question, "not_this", (article,), history, "customer", "feedback")
    insert(conn, label, conversation_id)


def from_pick(conn: Connection, conversation_id: str, turn: Any, article_id: str) -> None:
    """The customer picked `article_id` from a reply's suggestions: it answers the question that
    reply was unsure about (a label the calibration can learn from)."""
    question, history = _asked_before(conn, conversation_id, turn.seq)
    if question is None:
        return
    insert(
        conn,
        Label(question, "answers", (article_id,), history, "customer", "pick"),
        conversation_id,
    )


def _asked_before(
    conn: Connection, conversation_id: str, seq: int
) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """The customer message a reply at `seq` answered, and the turns before it."""
    earlier = conn.execute(
        select(db.turns.c.role, db.turns.c.text)
        .where(db.turns.c.conversation_id == conversation_id, db.turns.c.seq < seq)
        .order_by(db.turns.c.seq)
    ).all()
    if not earlier or earlier[-1].role != "user":
        return None, ()
    history = tuple((r.role, r.text) for r in earlier[:-1] if r.role in ("user", "assistant"))
    return earlier[-1].text, history
