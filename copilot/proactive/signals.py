"""The store of product signals and of the nudges and flags they led to: two tables on the
conversation store's `metadata` (created by migration 8), written redacted, kept as long as
conversations (`copilot purge` deletes them with the same cutoff).

Who a signal belongs to is `subject`: the host page's user id or the widget's anonymous session
id, stored only as a hash (it may be an email address: the raw id is never kept, though a known
id can still be hashed and matched, so this is pseudonymous, not anonymous); `account` is the
workspace name the page gave, redacted like any customer text."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    select,
    update,
)

from copilot.proactive.rules import Signal
from copilot.record.schema import aware, metadata, now
from copilot.safety.redact import redact

signals = Table(
    "signals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, default=now),
    Column("subject", String(64), nullable=False),  # sha256 of the user or session id
    Column("account", String(200), nullable=False, default=""),
    Column("name", String(32), nullable=False),
    Column("page", Text, nullable=False, default=""),
    Column("product_area", String(64), nullable=False, default=""),
    Column("props", JSON, nullable=False, default=dict),
    Index("signals_by_subject", "subject", "at"),
    Index("signals_by_time", "at"),
)
# One row per nudge shown (action "nudge") or struggle flagged (action "flag"); the customer's
# later moves on a nudge update its row: opened_at, feedback, dismissed_at.
nudges = Table(
    "nudges",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False, default=now),
    Column("subject", String(64), nullable=False),
    Column("account", String(200), nullable=False, default=""),
    Column("rule", String(64), nullable=False),
    Column("action", String(8), nullable=False),  # nudge | flag | held (a nudge not shown)
    Column("page", Text, nullable=False, default=""),
    Column("product_area", String(64), nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),
    Column("article_id", String(200)),
    Column("confidence", String(16)),  # "symptoms" (an exact match) or the retrieval confidence
    Column("opened_at", DateTime(timezone=True)),
    Column("feedback", String(16)),  # helpful | unhelpful
    Column("dismissed_at", DateTime(timezone=True)),
    Index("nudges_by_subject", "subject", "at"),
    Index("nudges_by_time", "at"),
)
TABLES = (signals, nudges)


def subject_key(subject: str) -> str:
    """The stored form of a user or session id: hashed, so an email used as an id is not kept."""
    return hashlib.sha256(b"support-copilot-subject:" + subject.encode()).hexdigest()


def clean_page(page: str) -> str:
    """A page URL without its query string or fragment (they carry tokens and search terms)."""
    return redact(page.split("#", 1)[0].split("?", 1)[0])[:500]


@dataclass(frozen=True)
class NudgeRow:
    id: str
    at: datetime
    rule: str
    action: str
    article_id: str | None
    dismissed_at: datetime | None


class SignalStore:
    """Signals and nudges of the conversation store's database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self, subject: str, account: str, events: Sequence[Signal], areas: Sequence[str]
    ) -> list[Signal]:
        """Store a batch (already cleaned and redacted); the stored signals back."""
        if not events:
            return []
        rows = [
            {
                "at": e.at,
                "subject": subject,
                "account": account,
                "name": e.name,
                "page": e.page,
                "product_area": area,
                "props": e.props,
            }
            for e, area in zip(events, areas, strict=True)
        ]
        with self.engine.begin() as conn:
            conn.execute(signals.insert(), rows)
        return list(events)

    def history(self, subject: str, since: datetime) -> list[Signal]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(signals)
                .where(signals.c.subject == subject, signals.c.at >= since)
                .order_by(signals.c.at, signals.c.id)
                .limit(5000)
            ).all()
        return [Signal(r.name, aware(r.at), r.page, dict(r.props)) for r in rows]

    def features_used(self, account: str, subject: str) -> frozenset[str]:
        """Features anyone in the account used (or this subject, without an account)."""
        who = signals.c.account == account if account else signals.c.subject == subject
        with self.engine.connect() as conn:
            props = conn.execute(
                select(signals.c.props).where(who, signals.c.name == "feature_used")
            ).scalars()
            return frozenset(str(p.get("feature", "")).lower() for p in props)

    def recent_nudges(self, subject: str, since: datetime) -> list[NudgeRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(nudges).where(nudges.c.subject == subject, nudges.c.at >= since)
            ).all()
        return [
            NudgeRow(
                r.id,
                aware(r.at),
                r.rule,
                r.action,
                r.article_id,
                aware(r.dismissed_at) if r.dismissed_at else None,
            )
            for r in rows
        ]

    def add_nudge(self, **values: Any) -> str:
        nudge_id = str(uuid.uuid4())
        with self.engine.begin() as conn:
            conn.execute(nudges.insert().values(id=nudge_id, **values))
        return nudge_id

    def nudge(self, nudge_id: str, subject: str) -> Any:
        """The nudge row, or None when there is none for this subject (callers cannot tell)."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(nudges).where(
                    nudges.c.id == nudge_id,
                    nudges.c.subject == subject,
                    nudges.c.action == "nudge",
                )
            ).first()

    def update_nudge(self, nudge_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(nudges).where(nudges.c.id == nudge_id).values(**values))


def struggles(engine: Engine, account: str, since: datetime) -> list[dict[str, Any]]:
    """The rules that fired for an account since `since` (flags and nudges), newest first: the
    "struggling" marker agents see before they answer that customer."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(nudges)
            .where(nudges.c.account == redact(account)[:200], nudges.c.at >= since)
            .order_by(nudges.c.at.desc())
            .limit(50)
        ).all()
    return [
        {
            "at": aware(r.at).isoformat(),
            "rule": r.rule,
            "action": r.action,
            "reason": r.reason,
            "page": r.page,
            "product_area": r.product_area,
            "article_id": r.article_id,
        }
        for r in rows
    ]


def purge(engine: Engine, older_than: timedelta) -> int:
    """Delete signals, nudges and flags older than now - `older_than` (conversations' cutoff);
    how many signals went."""
    cutoff = now() - older_than
    with engine.begin() as conn:
        gone = conn.execute(delete(signals).where(signals.c.at < cutoff)).rowcount
        conn.execute(delete(nudges).where(nudges.c.at < cutoff))
    return int(gone or 0)
