"""The conversation store: SQLAlchemy 2 tables (schema.py), SQLite in the data folder by default
(WAL, a busy timeout) or Postgres from `COPILOT_DATABASE_URL`, and ordered migrations applied on
start-up.

Text is redacted before it gets here (copilot/record/conversations.py, handoffs.py, drafts.py);
this module stores what it is given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, TimeoutError as PoolTimeout

from copilot.errors import ConfigError, Unavailable

# Re-exported (`x as x`): callers write db.turns, db.now().
from copilot.record.schema import (
    aggregates as aggregates,
    aware as aware,
    contacts as contacts,
    conversations as conversations,
    drafts as drafts,
    feedback as feedback,
    handoff_events as handoff_events,
    handoff_notes as handoff_notes,
    handoffs as handoffs,
    labels as labels,
    metadata as metadata,
    not_for_us as not_for_us,
    now as now,
    outbox as outbox,
    schema_version as schema_version,
    turns as turns,
)

log = logging.getLogger(__name__)
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


def _v8(conn: Connection) -> None:
    # Product signals and the nudges they led to (issue 19): tables of copilot/proactive.
    from copilot.proactive.signals import TABLES

    metadata.create_all(conn, tables=list(TABLES))


def _v9(conn: Connection) -> None:
    # The queue: SLA columns on handoffs (v1 creates them from today's definition), notes, and
    # the conversations triage kept out of the queue.
    have = {c["name"] for c in inspect(conn).get_columns("handoffs")}
    added = {
        "sla_rule": "VARCHAR(100) NOT NULL DEFAULT ''",
        "due_at": "TIMESTAMP WITH TIME ZONE" if conn.dialect.name == "postgresql" else "DATETIME",
        "first_response_at": "TIMESTAMP WITH TIME ZONE"
        if conn.dialect.name == "postgresql"
        else "DATETIME",
        "product_area": "VARCHAR(64) NOT NULL DEFAULT ''",
        "plan": "VARCHAR(100) NOT NULL DEFAULT ''",
        "merged": "INTEGER NOT NULL DEFAULT 0",
    }
    for name, ddl in added.items():
        if name not in have:
            conn.execute(text(f"ALTER TABLE handoffs ADD COLUMN {name} {ddl}"))
    conn.execute(
        text("CREATE INDEX IF NOT EXISTS handoffs_by_conversation ON handoffs (conversation_id)")
    )
    metadata.create_all(conn, tables=[handoff_notes, not_for_us])


def _v10(conn: Connection) -> None:
    # v1 creates `turns` from today's definition, which already has the columns.
    have = {c["name"] for c in inspect(conn).get_columns("turns")}
    for column, kind in (("suggestions", "JSON"), ("while_waiting", "BOOLEAN")):
        if column not in have:
            conn.execute(text(f"ALTER TABLE turns ADD COLUMN {column} {kind}"))
    metadata.create_all(conn, tables=[contacts])


# Append only: a migration that shipped is never edited. Each runs in its own transaction.
MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "conversations, turns, feedback, handoffs, drafts", _v1),
    (2, "aggregates kept by purge", _v2),
    (3, "index conversations by time", _v3),
    (4, "webhook outbox", _v4),
    (5, "the fault behind a reply", _v5),
    (6, "labels for certifying the answer threshold", _v6),
    (7, "the audit trail of each handoff", _v7),
    (8, "product signals and nudges", _v8),
    (9, "the queue: SLAs, notes, not-for-us triage", _v9),
    (10, "suggestions, bot replies while a handoff waits, contact fields", _v10),
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
