"""Conversations: the agent plus the store. Every turn (the customer's message, redacted, and the
copilot's reply with its evidence) is committed before the reply is returned, so a reply that was
sent is never lost (a streamed one is committed as pending before its first event and completed
at the end: copilot/record/streamed.py); a database that is down raises `Unavailable`. While a
handoff waits the bot keeps answering (marked, and added to the packet); once an agent has claimed
it the bot stays quiet; after resolution it answers again (copilot/record/customer.py).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import Engine, func, select, update
from sqlalchemy.engine import Connection

from copilot.answer import triage
from copilot.answer.agent import Agent, DecisionSink, DeltaSink
from copilot.answer.compose import HANDOFF_TEXT
from copilot.errors import Expired, NotFound
from copilot.record import customer, db, handoffs, labels, queue, sla, streamed
from copilot.record.customer_side import ChatResult as ChatResult, CustomerSide
from copilot.safety.redact import redact
from copilot.types import (
    Confidence,
    Contact,
    CustomerContext,
    Handoff,
    Label,
    Reply,
    Turn,
)

log = logging.getLogger(__name__)
WITH_HUMAN_TEXT = "A person from our support team has this conversation and will see your message."
STILL_WAITING_TEXT = (
    "A person from our support team already has your question and will reply here; anything "
    "you add reaches them too."
)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Conversations(CustomerSide):
    def __init__(
        self,
        engine: Engine,
        agent: Agent | None,
        webhook_url: str | None = None,
        clock: Callable[[], float] = time.perf_counter,
        resume_days: int = 30,
    ):
        self.engine, self.agent, self.clock = engine, agent, clock
        self.resume_window = timedelta(days=resume_days)  # a token works this long after use
        # While there is no agent (the index cannot be opened) every message is handed off.
        self.problem = "the index is not loaded"
        self.webhook_url = webhook_url  # handoffs are also POSTed here (copilot/outbox.py)
        self.sla_rules, self.not_for_us = list(sla.DEFAULT_SLA_RULES), "ticket"  # the service's

    @db.unavailable_when_down()
    def chat(
        self,
        message: str,
        conversation_id: str | None = None,
        token: str | None = None,
        context: CustomerContext | None = None,
        audience: Literal["customer", "internal"] = "customer",
        on_delta: DeltaSink | None = None,
        trusted: bool = False,
        on_decision: DecisionSink | None = None,
        contact: Contact | None = None,
    ) -> ChatResult:
        """One customer message. A new conversation gets a token the customer must present to
        continue it (`trusted` callers, the agents' side, need none). `contact` (the host page's
        `identify()`) is stored as contact fields, never as chat text."""
        start = self.clock()
        new_token = None
        last: Any = None  # the latest handoff of a conversation handed off
        with self.engine.connect() as conn:
            if conversation_id is None:
                conversation_id, new_token = str(uuid.uuid4()), secrets.token_urlsafe(24)
                conv: dict[str, Any] | None = None
            else:
                conv = self._conversation(conn, conversation_id, token, trusted)
                if conv["state"] == "handed_off":
                    last = customer.latest_handoff(conn, conversation_id)
            history = self._history(conn, conversation_id) if conv else []
        # Redacted before the agent sees it: the stored row, the handoff packet and the webhook
        # all carry this one.
        context = streamed.redacted_context(context) if context else None
        context = context or (CustomerContext(**conv["context"]) if conv else CustomerContext())
        status = customer.status_of(last)
        if status == "claimed":  # a person has it: the bot stays quiet
            return self._to_human(conversation_id, message, last, contact)
        seq = len(history)
        new = None
        if conv is None:
            new = {
                "id": conversation_id,
                "token_hash": _hash(new_token or ""),
                "audience": audience,
                "context": asdict(context),
            }
        pending = None
        if on_delta is not None or on_decision is not None:  # streamed: nothing sent is lost
            pending = streamed.PendingTurn(self.engine, conversation_id, seq, message, new)
            on_decision, on_delta = pending.sinks(on_decision, on_delta)
        reply = self._reply(message, history, audience, context, on_delta, on_decision)
        if status == "waiting" and reply.type == "handoff":  # one handoff at a time
            reply = Reply("handoff", STILL_WAITING_TEXT, reply.confidence, (), None, reply.hits)
        latency = (self.clock() - start) * 1000
        catalog = self.agent.retriever.catalog if self.agent else None
        row = streamed.reply_values(reply, latency, catalog)
        row["while_waiting"] = status == "waiting"
        with self.engine.begin() as conn:
            if pending is not None and pending.turn_id is not None:
                turn_id = pending.complete(conn, row)
            else:
                if new is not None:
                    conn.execute(db.conversations.insert().values(**new))
                conn.execute(
                    db.turns.insert().values(
                        conversation_id=conversation_id, seq=seq, role="user", text=redact(message)
                    )
                )
                result = conn.execute(
                    db.turns.insert().values(
                        conversation_id=conversation_id, seq=seq + 1, role="assistant", **row
                    )
                )
                turn_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            if contact:
                customer.save_contact(conn, conversation_id, contact, "identify", consent=False)
            handoff_id = last.id if status == "waiting" else None
            values: dict[str, Any] = {"updated_at": db.now()}
            if reply.hits:
                values["product_area"] = reply.hits[0].product_area
            if status == "waiting":
                customer.add_to_packet(
                    conn, last, [Turn("user", message), Turn("assistant", reply.text)]
                )
                handoffs.on_customer_message(conn, conversation_id, self.sla_rules)  # "urgent"?
            elif reply.handoff is not None:
                handoff_id = self._open(conn, conversation_id, reply.handoff)
                status = "waiting"
            elif kind := triage.kind_of(reply):
                queue.record_not_for_us(conn, conversation_id, kind, message)
            values["state"] = "handed_off" if status == "waiting" else "bot"
            conn.execute(
                update(db.conversations)
                .where(db.conversations.c.id == conversation_id)
                .values(**values)
            )
        return ChatResult(reply, conversation_id, new_token, handoff_id, turn_id, status)

    def _open(self, conn: Connection, conversation_id: str, packet: Handoff) -> str:
        """A new handoff with its SLA, or the conversation's ticket again (merged; a resolved one
        reopened within handoffs.MERGE_WINDOW: the agent who solved it sees it come back)."""
        handoff_id = handoffs.open_handoff(
            conn, conversation_id, packet, self.webhook_url, self.sla_rules
        )
        customer.sync_contact(conn, conversation_id)
        return handoff_id

    def _reply(
        self,
        message: str,
        history: list[Turn],
        audience: Literal["customer", "internal"],
        context: CustomerContext,
        on_delta: DeltaSink | None,
        on_decision: DecisionSink | None,
    ) -> Reply:
        """The agent's reply, or, when the agent cannot run (no index, vector store down), a
        handoff that says so: the customer reaches a person instead of an error."""
        fault = self.problem
        if self.agent is not None:
            try:
                args = (message, history, audience, context, on_delta, on_decision)
                return triage.agent_reply(self.agent, self.not_for_us == "reply", *args)
            except Exception as exc:  # whatever broke, the customer gets a person, not a 500
                log.exception("the agent failed; handing off")
                fault = f"{type(exc).__name__}: {exc}"[:500]
        packet = Handoff("unavailable", 0.0, (*history, Turn("user", message)), context, (), "", "")
        if on_decision is not None:
            on_decision("handoff", Confidence(0.0, {}), ())
        text = HANDOFF_TEXT["unavailable"]
        return Reply("handoff", text, Confidence(0.0, {}), (), packet, fault=f"agent: {fault}")

    @db.unavailable_when_down()
    def verify(self, conversation_id: str, token: str | None, trusted: bool = False) -> None:
        """`NotFound` unless the conversation exists and the token matches: the API checks it
        before counting a per-conversation limit."""
        with self.engine.connect() as conn:
            self._conversation(conn, conversation_id, token, trusted)

    @db.unavailable_when_down()
    def request_handoff(
        self, conversation_id: str, token: str | None = None, trusted: bool = False
    ) -> ChatResult:
        """The customer pressed "talk to a person": hand off now, with everything tried so far.
        A handoff already waiting or claimed is not duplicated."""
        with self.engine.connect() as conn:
            conv = self._conversation(conn, conversation_id, token, trusted)
            history = self._history(conn, conversation_id)
            last = customer.latest_handoff(conn, conversation_id)
            tried_turn = conn.execute(
                select(db.turns.c.hits, db.turns.c.confidence)
                .where(db.turns.c.conversation_id == conversation_id, db.turns.c.hits.is_not(None))
                .order_by(db.turns.c.seq.desc())
            ).first()
        if customer.status_of(last) is not None:
            # Worded so the SLA rules see it as asking for a person (WANTS_HUMAN).
            return self._to_human(conversation_id, "(asked again to talk to a person)", last, None)
        tried = [(h["article_id"], h["score"]) for h in (tried_turn.hits if tried_turn else [])]
        top = tried[0][0] if tried else None
        escalate = (
            self.agent.retriever.catalog.sections(top).get("Escalate", "")
            if self.agent and top
            else ""
        )
        packet = Handoff(
            reason="customer_asked",
            confidence=float(tried_turn.confidence or 0.0) if tried_turn else 0.0,
            transcript=tuple(history),
            context=CustomerContext(**conv["context"]),
            articles_tried=tuple(tried),
            suggested_next_step=escalate,
            product_area=conv["product_area"],
        )
        text = HANDOFF_TEXT["customer_asked"]
        with self.engine.begin() as conn:
            handoff_id = self._open(conn, conversation_id, packet)
            result = conn.execute(
                db.turns.insert().values(
                    conversation_id=conversation_id,
                    seq=len(history),
                    role="assistant",
                    text=text,
                    decision="handoff",
                    reason="customer_asked",
                    confidence=packet.confidence,
                )
            )
            conn.execute(
                update(db.conversations)
                .where(db.conversations.c.id == conversation_id)
                .values(state="handed_off", updated_at=db.now())
            )
        reply = Reply("handoff", text, Confidence(packet.confidence, {}), (), packet)
        turn_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return ChatResult(reply, conversation_id, None, handoff_id, turn_id, "waiting")

    def _to_human(
        self, conversation_id: str, message: str, handoff: Any, contact: Contact | None
    ) -> ChatResult:
        """A person has the conversation (or the customer asked again while one is coming): the
        message is stored for them and the bot says nothing of its own."""
        status = customer.status_of(handoff)
        with self.engine.begin() as conn:
            turn_id, _ = db.append_turn(conn, conversation_id, "user", redact(message))
            if contact:
                customer.save_contact(conn, conversation_id, contact, "identify", consent=False)
            conn.execute(
                update(db.conversations)
                .where(db.conversations.c.id == conversation_id)
                .values(updated_at=db.now())
            )
            handoffs.on_customer_message(conn, conversation_id, self.sla_rules)  # "urgent"?
        text = WITH_HUMAN_TEXT if status == "claimed" else STILL_WAITING_TEXT
        reply = Reply("handoff", text, Confidence(0.0, {}))
        return ChatResult(reply, conversation_id, None, handoff.id, turn_id, status)

    def _conversation(
        self, conn: Connection, conversation_id: str, token: str | None, trusted: bool
    ) -> dict[str, Any]:
        row = conn.execute(
            select(db.conversations).where(db.conversations.c.id == conversation_id)
        ).first()
        # One message for "no such conversation" and "wrong token": ids are not guessable, and
        # telling them apart would confirm which ones exist.
        if row is None or not (
            trusted or (token and hmac.compare_digest(_hash(token), row.token_hash))
        ):
            raise NotFound(
                f"conversation {conversation_id} not found (or the token does not match)"
            )
        if not trusted and db.now() - db.aware(row.updated_at) > self.resume_window:
            raise Expired(
                f"conversation {conversation_id}: its token expired (no message for "
                f"{self.resume_window.days} days): start a new conversation"
            )
        return dict(row._mapping)

    def _history(self, conn: Connection, conversation_id: str) -> list[Turn]:
        rows = conn.execute(
            select(
                db.turns.c.id,
                db.turns.c.role,
                db.turns.c.text,
                db.turns.c.decision,
                db.turns.c.citations,
            )
            .where(db.turns.c.conversation_id == conversation_id)
            .order_by(db.turns.c.seq)
        ).all()
        votes = dict(
            conn.execute(
                select(db.feedback.c.turn_id, db.feedback.c.kind).where(
                    db.feedback.c.conversation_id == conversation_id,
                    db.feedback.c.kind.in_(("helpful", "unhelpful", "wrong_answer")),
                )
            ).all()
        )
        return [Turn(r.role, r.text, _verdict(votes.get(r.id)), _article(r)) for r in rows]

    @db.unavailable_when_down()
    def turn_count(
        self, conversation_id: str, token: str | None = None, trusted: bool = False
    ) -> int:
        """How many turns the conversation holds (its token checked first, as chat does)."""
        with self.engine.connect() as conn:
            self._conversation(conn, conversation_id, token, trusted)
            return int(
                conn.execute(
                    select(func.count()).where(db.turns.c.conversation_id == conversation_id)
                ).scalar_one()
            )

    @db.unavailable_when_down()
    def label(
        self, conversation_id: str, turn_id: int | None, article_id: str | None, author: str
    ) -> Label:
        """An agent's verdict on the question behind a reply (the latest when `turn_id` is
        None): `article_id` answers it, or (None) the KB does not."""
        with self.engine.begin() as conn:
            self._conversation(conn, conversation_id, None, trusted=True)
            replies = select(db.turns).where(
                db.turns.c.conversation_id == conversation_id, db.turns.c.role == "assistant"
            )
            if turn_id is not None:
                replies = replies.where(db.turns.c.id == turn_id)
            turn = conn.execute(replies.order_by(db.turns.c.seq.desc())).first()
            if turn is None:
                raise NotFound(f"turn {turn_id} is not a reply in this conversation")
            return labels.from_agent(conn, conversation_id, turn, article_id, author)


def _article(row: Any) -> str:
    """The article an answer came from: the one in play for the next question."""
    if row.decision != "answer" or not row.citations:
        return ""
    return str(row.citations[0].get("article_id", ""))


def _verdict(kind: str | None) -> Literal["helpful", "unhelpful"] | None:
    if kind == "helpful":
        return "helpful"
    return "unhelpful" if kind in ("unhelpful", "wrong_answer") else None
