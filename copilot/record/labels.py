"""The label store: what docs owners, agents and customers said answers a question. Fed by
`copilot calibrate --labels FILE`, by agents in the console ("answers it" / "not in the KB") and by
customers (a thumbs-down on an answer); read by `copilot calibrate` to certify a threshold."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection

from copilot.record import db
from copilot.safety.redact import redact
from copilot.types import Label


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
