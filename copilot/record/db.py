"""The conversation store: SQLAlchemy 2 tables, SQLite in the data folder by default (WAL, a busy
timeout) or Postgres from `COPILOT_DATABASE_URL`, and ordered migrations applied on start-up.

Text is redacted before it gets here (copilot/record/conversations.py, handoffs.py, drafts.py);
this module stores what it is given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from copilot.errors import ConfigError, Unavailable

log = logging.getLogger(__name__)
metadata = MetaData()
DATABASE_DOWN = "the conversation store is unavailable or busy; nothing was saved, try again"


@contextmanager
def unavailable_when_down() -> Iterator[None]:
    """A database that is down, locked or busy raises `Unavailable` (retry later), so callers
    need not know SQLAlchemy. A context manager, or a decorator for a whole store call."""
    try:
        yield
    except (DBAPIError, PoolTimeout) as exc:
        log.error("database error: %s", getattr(exc, "orig", None) or exc)
        raise Unavailable(DATABASE_DOWN) from exc


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
    Column("decision", String(16)),  # answer | clarify | handoff
    Column("reason", String(32)),  # the handoff reason
    Column("confidence", Float),
    Column("signals", JSON),
    Column("hits", JSON),  # [{"article_id", "score", "stale", "owner", "product_area"}]
    Column("citations", JSON),
    Column("composed_by", String(32)),
    Column("latency_ms", Float),
    Column("query", Text),  # the standalone question retrieval used
    Column("fault", Text),  # what failed while composing the reply (v5)
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
    Index("handoffs_by_status", "status", "priority"),
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
schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("applied_at", DateTime(timezone=True), nullable=False, default=now),
    Column("description", String(200), nullable=False),
)


def append_turn(conn: Connection, conversation_id: str, role: str, text: str) -> tuple[int, int]:
    """Add a turn after the conversation's last one; (turn id, seq)."""
    seq = conn.execute(
        select(func.count()).where(turns.c.conversation_id == conversation_id)
    ).scalar_one()
    result = conn.execute(
        turns.insert().values(conversation_id=conversation_id, seq=seq, role=role, text=text)
    )
    return int(result.inserted_primary_key[0]), int(seq)  # type: ignore[index]


V1_TABLES = (conversations, turns, feedback, handoffs, drafts, schema_version)


def _v1(conn: Connection) -> None:
    metadata.create_all(conn, tables=list(V1_TABLES))


def _v2(conn: Connection) -> None:
    metadata.create_all(conn, tables=[aggregates])


def _v3(conn: Connection) -> None:
    conn.execute(
        text("CREATE INDEX IF NOT EXISTS conversations_by_time ON conversations (created_at)")
    )


def _v4(conn: Connection) -> None:
    metadata.create_all(conn, tables=[outbox])


def _v5(conn: Connection) -> None:
    # v1 creates `turns` from today's definition, which already has the column.
    if "fault" not in {c["name"] for c in inspect(conn).get_columns("turns")}:
        conn.execute(text("ALTER TABLE turns ADD COLUMN fault TEXT"))


def _v6(conn: Connection) -> None:
    metadata.create_all(conn, tables=[labels])


def _v7(conn: Connection) -> None:
    metadata.create_all(conn, tables=[handoff_events])


# Append only: a migration that shipped is never edited. Each runs in its own transaction.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "conversations, turns, feedback, handoffs, drafts", _v1),
    (2, "aggregates kept by purge", _v2),
    (3, "index conversations by time", _v3),
    (4, "webhook outbox", _v4),
    (5, "the fault behind a reply", _v5),
    (6, "labels for certifying the answer threshold", _v6),
    (7, "the audit trail of each handoff", _v7),
]


# How long a request waits for a database another process has locked before it gets a 503.
BUSY_SECONDS = 5


def database_url(database_url: str | None, data_dir: Path) -> str:
    if database_url:
        if database_url.startswith("postgresql://"):
            return "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
        return database_url
    data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{data_dir / 'copilot.db'}"


def connect(database_url_: str | None, data_dir: Path, *, migrate_to: int | None = None) -> Engine:
    """An engine with the schema migrated up to date (or to `migrate_to`, for tests)."""
    url = database_url(database_url_, data_dir)
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": BUSY_SECONDS}
    try:
        engine = create_engine(url, **kwargs)
    except Exception as exc:  # an unknown dialect or malformed URL
        raise ConfigError(f"COPILOT_DATABASE_URL {url.split('@')[-1]!r} unusable: {exc}") from None
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    migrate(engine, migrate_to)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cur.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
    cur.execute("PRAGMA foreign_keys=ON")
    # With WAL, NORMAL keeps every commit across a killed process (not across power loss) and
    # saves an fsync per turn.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def current_version(engine: Engine) -> int:
    with engine.connect() as conn:
        return _version(conn)


def _version(conn: Connection) -> int:
    if not inspect(conn).has_table("schema_version"):
        return 0
    return int(
        conn.execute(text("SELECT COALESCE(MAX(version), 0) FROM schema_version")).scalar_one()
    )


def migrate(engine: Engine, to: int | None = None) -> int:
    """Apply the migrations above the database's version; return the version reached.

    Servers and workers starting together each run this: every step takes the database's write
    lock first (SQLite: BEGIN IMMEDIATE, so its DDL is transactional too; Postgres: an advisory
    lock), checks the version again under it, and applies the step only if nobody else has."""
    for number, description, step in MIGRATIONS:
        if to is not None and number > to:
            break
        with engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            elif conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(7262761)"))  # "copilot" schema
            if _version(conn) >= number:
                conn.rollback()
                continue
            step(conn)
            conn.execute(schema_version.insert().values(version=number, description=description))
            conn.commit()
    return current_version(engine)
