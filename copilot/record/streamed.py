"""How a chat turn is written (for `Conversations.chat`): the reply's row, the customer's context
redacted, and, for a streamed reply, a pending turn committed before the customer sees anything.

A streamed reply goes out event by event while the agent is still composing it. So that a server
that dies mid-stream (SIGKILL, OOM, a deploy) loses nothing the customer saw, the customer's
message and an assistant turn marked `pending` are committed at the decision, before the first
event leaves; each sentence sent is added to that turn's text as it goes out; the end of the turn
completes it (text, decision, evidence). A turn still `pending` with the `INCOMPLETE` fault is one
the server stopped in the middle of (docs/reliability.md)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import Engine, update
from sqlalchemy.engine import Connection

from copilot.answer.agent import DecisionSink, DeltaSink
from copilot.answer.catalog import Catalog
from copilot.record import db
from copilot.safety.redact import redact
from copilot.types import Confidence, CustomerContext, Hit, Reply, ReplyType

PENDING = "pending"  # the decision of a streamed turn not completed yet
INCOMPLETE = "incomplete: the server stopped mid-reply"


def redacted_context(context: CustomerContext) -> CustomerContext:
    """The page URL, workspace and the rest with PII replaced: this is what is stored, put in a
    handoff packet and sent in the webhook (a page URL may carry ?email=…&card=…)."""
    fields = {k: v for k, v in asdict(context).items() if k != "attributes"}
    attributes = {k: redact(str(v)) for k, v in context.attributes.items()}
    return CustomerContext(**{k: redact(v) for k, v in fields.items()}, attributes=attributes)


def reply_values(reply: Reply, latency: float, catalog: Catalog | None) -> dict[str, Any]:
    """The columns of an assistant turn for `reply` (its text redacted)."""
    hits = [
        {
            "article_id": h.article_id,
            "score": round(h.score, 4),
            "dense": round(h.dense, 4),
            "stale": h.stale,
            "product_area": h.product_area,
            "owner": entry.owner if catalog and (entry := catalog.get(h.article_id)) else "",
        }
        for h in reply.hits
    ]
    return {
        "text": redact(reply.text),
        "decision": reply.type,
        "reason": reply.handoff.reason if reply.handoff else None,
        "confidence": reply.confidence.value,
        "signals": reply.confidence.signals,
        "hits": hits,
        "citations": [asdict(c) for c in reply.citations],
        "suggestions": [{"article_id": c.article_id, "title": c.title} for c in reply.suggestions],
        "composed_by": reply.composed_by,
        "fault": reply.fault or None,
        "latency_ms": round(latency, 2),
    }


class PendingTurn:
    """The question and a pending reply, committed at the first event of a streamed turn."""

    def __init__(
        self,
        engine: Engine,
        conversation_id: str,
        seq: int,
        message: str,
        new_conversation: dict[str, Any] | None,
    ) -> None:
        self.engine, self.conversation_id, self.seq = engine, conversation_id, seq
        self.message, self.new_conversation = message, new_conversation
        self.turn_id: int | None = None
        self.sent: list[str] = []

    def sinks(
        self, on_decision: DecisionSink | None, on_delta: DeltaSink | None
    ) -> tuple[DecisionSink, DeltaSink]:
        """The callbacks to give the agent: each writes first, then lets the event go out."""

        def decision(kind: ReplyType, confidence: Confidence, hits: tuple[Hit, ...]) -> None:
            self.open()
            if on_decision is not None:
                on_decision(kind, confidence, hits)

        def delta(sentence: str) -> None:
            self.open()
            self.sent.append(sentence)
            with self.engine.begin() as conn:
                conn.execute(
                    update(db.turns)
                    .where(db.turns.c.id == self.turn_id)
                    .values(text=redact(" ".join(self.sent)))
                )
            if on_delta is not None:
                on_delta(sentence)

        return decision, delta

    def open(self) -> None:
        """Commit the conversation (when new), the question and the pending reply; once."""
        if self.turn_id is not None:
            return
        with self.engine.begin() as conn:
            if self.new_conversation is not None:
                conn.execute(db.conversations.insert().values(**self.new_conversation))
            conn.execute(
                db.turns.insert().values(
                    conversation_id=self.conversation_id,
                    seq=self.seq,
                    role="user",
                    text=redact(self.message),
                )
            )
            result = conn.execute(
                db.turns.insert().values(
                    conversation_id=self.conversation_id,
                    seq=self.seq + 1,
                    role="assistant",
                    text="",
                    decision=PENDING,
                    fault=INCOMPLETE,
                )
            )
        self.turn_id = int(result.inserted_primary_key[0])  # type: ignore[index]

    def complete(self, conn: Connection, values: dict[str, Any]) -> int:
        """The reply as it ended, in place of the pending one; its turn id."""
        conn.execute(update(db.turns).where(db.turns.c.id == self.turn_id).values(**values))
        assert self.turn_id is not None
        return self.turn_id
