"""The customer's own calls on a conversation besides chatting (a mixin of `Conversations`):
reading it back (a return visit resumes it), picking a suggestion, giving a way to be reached,
and feedback (a thumbs-down gets other articles to try)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection

from copilot.answer.agent import Agent
from copilot.errors import InvalidInput, NotFound, Unavailable
from copilot.record import customer, db, labels, picks
from copilot.safety.redact import redact
from copilot.types import Citation, Contact, Reply

FeedbackKind = Literal["helpful", "unhelpful", "wrong_answer", "rating"]


@dataclass(frozen=True)
class ChatResult:
    reply: Reply
    conversation_id: str
    token: str | None  # only when the conversation was created by this message
    handoff_id: str | None
    turn_id: int
    handoff_status: customer.CustomerStatus | None = None  # the customer's view of the handoff


class CustomerSide:
    engine: Engine
    agent: Agent | None
    problem: str

    def _conversation(
        self, conn: Connection, conversation_id: str, token: str | None, trusted: bool
    ) -> dict[str, Any]:
        raise NotImplementedError

    @db.unavailable_when_down()
    def transcript(
        self,
        conversation_id: str,
        token: str | None = None,
        trusted: bool = False,
        after: int = 0,
        limit: int = 100,
    ) -> dict[str, Any]:
        """Up to `limit` turns after the turn `after`, oldest first; `next_after` is there when
        more remain (pass it as `after`). With the handoff's status for the customer, whether a
        way to reach them is known, and (agents only) the contact fields."""
        with self.engine.connect() as conn:
            conv = self._conversation(conn, conversation_id, token, trusted)
            rows = conn.execute(
                select(db.turns)
                .where(db.turns.c.conversation_id == conversation_id, db.turns.c.id > after)
                .order_by(db.turns.c.id)
                .limit(limit + 1)
            ).all()
            state = picks.customer_state(conn, conversation_id, trusted)
        body = {
            "conversation_id": conversation_id,
            "state": conv["state"],
            "context": conv["context"],
            "turns": [picks.transcript_turn(r) for r in rows[:limit]],
            **state,
        }
        if len(rows) > limit:
            body["next_after"] = rows[limit - 1].id
        return body

    @db.unavailable_when_down()
    def pick(
        self, conversation_id: str, token: str | None, article_id: str, turn_id: int | None = None
    ) -> ChatResult:
        """The customer picked one of a suggest reply's articles (`turn_id`, default the latest):
        its answer, stored with the pick ("Picked: <title>") and a customer label."""
        if self.agent is None:
            raise Unavailable(f"the assistant is not ready: {self.problem}")
        catalog, links = self.agent.retriever.catalog, self.agent.links
        with self.engine.begin() as conn:
            self._conversation(conn, conversation_id, token, False)
            turn = picks.suggest_turn(conn, conversation_id, turn_id)
            reply, title = picks.picked_reply(turn, article_id, catalog, links)
            last = customer.latest_handoff(conn, conversation_id)
            status = customer.status_of(last)
            waiting = last if status == "waiting" else None
            answer_id = picks.store_pick(
                conn, conversation_id, turn, reply, title, catalog, waiting
            )
            conn.execute(
                update(db.conversations)
                .where(db.conversations.c.id == conversation_id)
                .values(updated_at=db.now())
            )
        handoff_id = last.id if status else None
        return ChatResult(reply, conversation_id, None, handoff_id, answer_id, status)

    @db.unavailable_when_down()
    def contact(
        self, conversation_id: str, token: str | None, contact: Contact, consent: bool
    ) -> Contact:
        """How to reach the customer, given with their consent: stored as contact fields."""
        if not consent:
            raise InvalidInput("consent: must be true to keep contact details")
        contact = replace(contact, email=customer.check_email(contact.email))
        with self.engine.begin() as conn:
            self._conversation(conn, conversation_id, token, False)
            customer.save_contact(conn, conversation_id, contact, "widget", consent=True)
        return contact

    @db.unavailable_when_down()
    def feedback(
        self,
        conversation_id: str,
        kind: FeedbackKind,
        *,
        token: str | None = None,
        turn_id: int | None = None,
        rating: int | None = None,
        comment: str = "",
        trusted: bool = False,
    ) -> list[Citation]:
        """Store the feedback; after a thumbs-down, other articles to offer (else [])."""
        if kind == "rating" and (rating is None or not 1 <= rating <= 5):
            raise InvalidInput("rating: must be 1 to 5")
        with self.engine.begin() as conn:
            self._conversation(conn, conversation_id, token, trusted)
            replies = select(db.turns).where(
                db.turns.c.conversation_id == conversation_id, db.turns.c.role == "assistant"
            )
            if turn_id is None:  # the latest reply
                turn = conn.execute(replies.order_by(db.turns.c.seq.desc())).first()
            else:
                turn = conn.execute(replies.where(db.turns.c.id == turn_id)).first()
                if turn is None:
                    raise NotFound(f"turn {turn_id} is not a reply in this conversation")
            turn_id = turn.id if turn is not None else None
            offer: list[Citation] = []
            if turn is not None and kind in ("unhelpful", "wrong_answer"):
                labels.from_thumbs_down(conn, conversation_id, turn)
                if self.agent is not None:
                    offer = picks.next_steps(turn, self.agent.retriever.catalog)
                if offer:  # what the customer may pick next (POST .../pick with this turn)
                    shown = [{"article_id": c.article_id, "title": c.title} for c in offer]
                    conn.execute(
                        update(db.turns).where(db.turns.c.id == turn.id).values(suggestions=shown)
                    )
            conn.execute(
                db.feedback.insert().values(
                    conversation_id=conversation_id,
                    turn_id=turn_id,
                    kind=kind,
                    rating=rating,
                    comment=redact(comment),
                )
            )
        return offer
