"""The tables of the conversation store, on one `metadata`. Migrations (copilot/record/db.py)
create them; a feature's tables may also live in its own module on this `metadata`."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their time zone; they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


conversations = Table(
    "conversations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("token_hash", String(64), nullable=False),  # the customer's conversation token, hashed
    Column("created_at", DateTime(timezone=True), nullable=False, default=now),
    Column("updated_at", DateTime(timezone=True), nullable=False, default=now),
    Column("audience", String(16), nullable=False, default="customer"),
    Column("context", JSON, nullable=False, default=dict),  # page, workspace, plan, role
    Column("state", String(16), nullable=False, default="bot"),  # bot | handed_off
    Column("product_area", String(64), nullable=False, default=""),
)
turns = Table(
    "turns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, default=now),
    Column("role", String(16), nullable=False),  # user | assistant | agent
    Column("text", Text, nullable=False),
    # assistant turns: what the copilot decided and why
    Column("decision", String(16)),  # answer | suggest | handoff (| clarify, before v10)
    Column("reason", String(32)),  # the handoff reason
    Column("confidence", Float),
    Column("signals", JSON),
    Column("hits", JSON),  # [{"article_id", "score", "stale", "owner", "product_area"}]
    Column("citations", JSON),
    Column("composed_by", String(32)),
    Column("latency_ms", Float),
    Column("query", Text),  # the standalone question retrieval used
    Column("fault", Text),  # what failed while composing the reply (v5)
    Column("suggestions", JSON),  # "suggest": [{"article_id", "title"}] offered to pick (v10)
    Column("while_waiting", Boolean),  # a bot reply sent while a handoff waited for a person (v10)
    Index("turns_by_conversation", "conversation_id", "seq", unique=True),
)
feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("turn_id", ForeignKey("turns.id", ondelete="CASCADE")),
    Column("created_at", DateTime(timezone=True), nullable=False, default=now),
    Column("kind", String(16), nullable=False),  # helpful | unhelpful | wrong_answer | rating
    Column("rating", Integer),  # 1-5, the widget's satisfaction score
    Column("comment", Text, nullable=False, default=""),
)
handoffs = Table(
    "handoffs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("conversation_id", ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, default=now),
    Column("reason", String(32), nullable=False),
    Column("priority", Integer, nullable=False, default=0),
    Column("status", String(16), nullable=False, default="open"),  # open|claimed|resolved|reopened
    Column("claimed_by", String(128)),
    Column("updated_at", DateTime(timezone=True), nullable=False, default=now),
    Column("reopened", Integer, nullable=False, default=0),
    Column("packet", JSON, nullable=False),
    # The queue (v9): what the SLA rule table decided, when the first agent reply went out, and
    # what the queue filters on without opening the packet.
    Column("sla_rule", String(100), nullable=False, default=""),
    Column("due_at", DateTime(timezone=True)),
    Column("first_response_at", DateTime(timezone=True)),
    Column("product_area", String(64), nullable=False, default=""),
    Column("plan", String(100), nullable=False, default=""),
    Column("merged", Integer, nullable=False, default=0),  # repeat handoffs folded into this one
    Index("handoffs_by_status", "status", "priority"),
    Index("handoffs_by_conversation", "conversation_id"),  # v8: each chat turn looks its ticket up
)
# What people said answers a question (or that nothing does): the labels that certify the answer
# threshold. Text is redacted like every other write.
labels = Table(
    "labels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False, default=now),
    Column("key", String(64), nullable=False, unique=True),  # the same label is stored once
    Column("source", String(16), nullable=False),
    Column("author", String(200), nullable=False, default=""),
    Column("verdict", String(16), nullable=False),
    Column("question", Text, nullable=False),
    Column("history", JSON, nullable=False),
    Column("articles", JSON, nullable=False),
    Column("conversation_id", String(36)),
)
drafts = Table(
    "drafts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, default=now),
    Column("ticket", JSON, nullable=False),
    Column("reply", JSON, nullable=False),
)
# What `copilot purge` keeps of the conversations it deletes: counts per day and product area.
aggregates = Table(
    "aggregates",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("product_area", String(64), primary_key=True),
    Column("counts", JSON, nullable=False),
)
# Handoffs waiting to be POSTed to the webhook: written in the same transaction as the handoff,
# so a handoff is never created without its delivery, nor lost while the receiver is down.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime(timezone=True), nullable=False, default=now),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("url", Text, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, default=now),
    Column("delivered_at", DateTime(timezone=True)),
    Column("last_error", Text, nullable=False, default=""),
)
# Who did what on each handoff, written in the transaction of the change itself (v7): created,
# claimed, message, released, resolved, reopened. `actor` is the agent's key name, or "copilot" /
# "customer" for what the service and the customer did.
handoff_events = Table(
    "handoff_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("handoff_id", ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, default=now),
    Column("actor", String(128), nullable=False),
    Column("action", String(16), nullable=False),
    Column("detail", JSON, nullable=False, default=dict),
    Index("handoff_events_by_handoff", "handoff_id", "id"),
)
# Agents' notes on a handoff (v9): internal, never shown to the customer; redacted like all text.
handoff_notes = Table(
    "handoff_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("handoff_id", ForeignKey("handoffs.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, default=now),
    Column("author", String(128), nullable=False),
    Column("text", Text, nullable=False),
)
# Conversations triage kept out of the queue (v9): off-topic, abusive, injection-only. Counted
# and listed ("not for us" in the console) so nothing is hidden; the question is redacted.
not_for_us = Table(
    "not_for_us",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, default=now),
    Column("kind", String(16), nullable=False),  # off_topic | abusive | injection
    Column("question", Text, nullable=False),
)
# How to reach the customer, given on purpose (the widget's form after a handoff, or the host
# page's `identify()`): the one thing stored unredacted, shown to agents only, deleted with its
# conversation (`copilot purge`, by the foreign key) (v10).
contacts = Table(
    "contacts",
    metadata,
    Column(
        "conversation_id",
        ForeignKey("conversations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("email", String(320), nullable=False, default=""),
    Column("name", String(200), nullable=False, default=""),
    Column("user_id", String(200), nullable=False, default=""),
    Column("source", String(16), nullable=False),  # widget | identify
    Column("consent_at", DateTime(timezone=True)),  # when the customer agreed to be contacted
    Column("updated_at", DateTime(timezone=True), nullable=False, default=now),
)
schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False, default=now),
    Column("description", String(200), nullable=False),
)
