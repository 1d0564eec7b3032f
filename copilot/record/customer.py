"""The customer's side of a handoff and how to reach them.

A handoff as the customer lives it: while it waits for a person ("waiting": open or reopened) the
bot keeps answering, each such reply marked and added to the handoff's packet so the agent sees
it all; once an agent has claimed it the bot stays quiet; after the agent resolved it the bot
answers again (a new handoff within the reopen window reopens the resolved one).

Contact fields are what the customer gave on purpose to be reached (the widget's form, or the
host page's `identify()`): the one thing stored unredacted, never in chat text, shown to agents
only (the handoff packet, the agent's transcript), and deleted with the conversation.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from copilot.errors import InvalidInput
from copilot.record import db
from copilot.safety.redact import redact
from copilot.types import Contact, Turn

CustomerStatus = Literal["waiting", "claimed"]
WAITING = ("open", "reopened")
NEXT = {
    "waiting": "A person from our support team will reply in this conversation. Meanwhile I can "
    "keep answering; they see everything here.",
    "claimed": "A person from our support team has this conversation and will reply here.",
}


def latest_handoff(conn: Connection, conversation_id: str) -> Any:
    """The conversation's most recent handoff row, or None."""
    return conn.execute(
        select(db.handoffs)
        .where(db.handoffs.c.conversation_id == conversation_id)
        .order_by(db.handoffs.c.created_at.desc(), db.handoffs.c.id)
    ).first()


def status_of(row: Any) -> CustomerStatus | None:
    """What the customer is told: "waiting", "claimed", or None (no handoff, or resolved)."""
    if row is None:
        return None
    if row.status in WAITING:
        return "waiting"
    return "claimed" if row.status == "claimed" else None


def view(handoff_id: str | None, status: str | None) -> dict[str, Any] | None:
    """The customer's view of a handoff: its reference, status and what happens next. Never the
    packet (scores, transcript, reason codes): agents read that from /v1/handoffs."""
    if not handoff_id or status not in NEXT:
        return None
    return {"id": handoff_id, "status": status, "next": NEXT[status]}


def add_to_packet(conn: Connection, row: Any, turns: list[Turn]) -> None:
    """Turns said while the handoff waited, appended (redacted) to its packet's transcript."""
    packet = dict(row.packet)
    packet["transcript"] = [
        *packet.get("transcript", []),
        *({**asdict(t), "content": redact(t.content)} for t in turns),
    ]
    conn.execute(update(db.handoffs).where(db.handoffs.c.id == row.id).values(packet=packet))


def check_email(email: str, field: str = "email") -> str:
    """The address normalised (domain lower-cased, IDNA), or `InvalidInput` naming `field`.
    email-validator rather than a regular expression: quoting, IDNA and length rules are subtle,
    and the deliverability (DNS) check is off so a test or an offline server gives one answer.
    `.test` addresses (RFC 2606: staging sites, tests) pass; `.local`, `.invalid` and the like
    cannot reach anyone and do not."""
    try:
        return validate_email(email, check_deliverability=False, test_environment=True).normalized
    except EmailNotValidError as exc:
        raise InvalidInput(f"{field}: {exc}") from None


def save_contact(
    conn: Connection, conversation_id: str, contact: Contact, source: str, consent: bool
) -> None:
    """Store or update the contact fields; a field left empty keeps what was there."""
    values: dict[str, Any] = {k: v for k, v in asdict(contact).items() if v}
    values["source"] = source
    values["updated_at"] = db.now()
    if consent:
        values["consent_at"] = db.now()
    where = db.contacts.c.conversation_id == conversation_id
    if conn.execute(select(db.contacts.c.conversation_id).where(where)).first():
        conn.execute(update(db.contacts).where(where).values(**values))
    else:
        conn.execute(db.contacts.insert().values(conversation_id=conversation_id, **values))
    sync_contact(conn, conversation_id)


def contact_of(conn: Connection, conversation_id: str) -> dict[str, Any] | None:
    """The contact fields for agents: email, name, user id, where from, consent time."""
    row = conn.execute(
        select(db.contacts).where(db.contacts.c.conversation_id == conversation_id)
    ).first()
    if row is None:
        return None
    return {
        "email": row.email,
        "name": row.name,
        "user_id": row.user_id,
        "source": row.source,
        "consent_at": db.aware(row.consent_at).isoformat() if row.consent_at else None,
    }


def sync_contact(conn: Connection, conversation_id: str) -> None:
    """Put the contact fields into the packet of the conversation's handoffs still in the queue
    (the agent reads the packet); resolved ones keep what they had."""
    contact = contact_of(conn, conversation_id)
    if contact is None:
        return
    rows = conn.execute(
        select(db.handoffs).where(
            db.handoffs.c.conversation_id == conversation_id,
            db.handoffs.c.status != "resolved",
        )
    ).all()
    for row in rows:
        packet = {**row.packet, "contact": contact}
        conn.execute(update(db.handoffs).where(db.handoffs.c.id == row.id).values(packet=packet))
