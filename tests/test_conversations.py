"""The conversation store against SQLite and a real PostgreSQL server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from copilot.answer.agent import Agent
from copilot.answer.confidence import ConfidenceModel
from copilot.errors import InvalidInput, NotFound
from copilot.record import db
from copilot.record.conversations import Conversations
from copilot.record.handoffs import priority
from copilot.types import CustomerContext, Handoff, Turn
from tests.conftest import ROOT

ALWAYS = ConfidenceModel(answer_threshold=0.0, clarify_threshold=0.0)


@pytest.fixture
def store(db_url: str, tmp_path: Path, sample: Any) -> Iterator[Conversations]:
    engine = db.connect(db_url, tmp_path)
    yield Conversations(engine, Agent(sample[2], ALWAYS))
    engine.dispose()


def test_migrations_run_up_from_empty_and_step_by_step(db_url: str, tmp_path: Path) -> None:
    engine = db.connect(db_url, tmp_path, migrate_to=1)
    assert db.current_version(engine) == 1
    assert not sa.inspect(engine).has_table("aggregates")
    assert db.migrate(engine) == len(db.MIGRATIONS)
    assert sa.inspect(engine).has_table("aggregates")
    assert db.migrate(engine) == len(db.MIGRATIONS)  # idempotent
    with engine.connect() as conn:
        versions = conn.execute(sa.select(db.schema_version.c.version)).scalars().all()
    assert sorted(versions) == list(range(1, len(db.MIGRATIONS) + 1))
    engine.dispose()


def test_each_turn_is_stored_redacted_before_the_reply_returns(
    store: Conversations, db_url: str, tmp_path: Path
) -> None:
    context = CustomerContext(page="https://app.example.com/settings/billing", plan="business")
    first = store.chat("my card 4242 4242 4242 4242 was declined, I'm ana@acme.io", context=context)
    assert first.token and first.reply.type == "answer"
    # Another connection (as another process would) sees both turns already.
    other = db.connect(db_url, tmp_path)
    with other.connect() as conn:
        rows = conn.execute(sa.select(db.turns).order_by(db.turns.c.seq)).all()
    other.dispose()
    assert [r.role for r in rows] == ["user", "assistant"]
    assert rows[0].text == "my card [CARD] was declined, I'm [EMAIL]"
    assert rows[1].decision == "answer" and rows[1].citations[0]["article_id"] == "payment-declined"
    assert rows[1].hits[0]["owner"] and rows[1].latency_ms > 0 and rows[1].signals
    second = store.chat("and how do I pay the open invoice", first.conversation_id, first.token)
    transcript = store.transcript(first.conversation_id, first.token)
    assert [t["role"] for t in transcript["turns"]] == ["user", "assistant"] * 2
    assert transcript["context"]["plan"] == "business" and second.token is None


def test_tokens_guard_conversations(store: Conversations) -> None:
    result = store.chat("invoice pdf")
    with pytest.raises(NotFound):
        store.chat("more", result.conversation_id, "wrong-token")
    with pytest.raises(NotFound):
        store.transcript(str(uuid.uuid4()), result.token)
    assert store.transcript(result.conversation_id, trusted=True)["turns"]


def test_a_handoff_as_the_customer_lives_it(store: Conversations) -> None:
    """Waiting: the bot keeps answering (marked, added to the packet); claimed: the bot is quiet;
    resolved: the bot answers again, and a new handoff soon after reopens the old one."""
    result = store.chat("I want to talk to a human", context=CustomerContext(plan="Enterprise"))
    assert result.reply.type == "handoff" and result.handoff_id
    assert result.handoff_status == "waiting"
    cid, token = result.conversation_id, result.token
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(db.handoffs)).one()
    assert row.status == "open" and row.priority == 4  # the default rule table's "enterprise" row
    assert row.packet["transcript"][0]["content"] == "I want to talk to a human"

    waiting = store.chat("how do I rotate my webhook secret", cid, token)
    assert waiting.reply.type == "answer" and waiting.handoff_status == "waiting"
    assert waiting.handoff_id == result.handoff_id
    again = store.chat("talk to a person please", cid, token)  # no second handoff
    assert again.reply.type == "handoff" and again.handoff_id == result.handoff_id
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(db.handoffs)).one()
    said = [t["content"] for t in row.packet["transcript"]]
    assert "how do I rotate my webhook secret" in said and waiting.reply.text in said
    turns = store.transcript(cid, token)
    assert turns["handoff"]["status"] == "waiting"
    assert [t["while_waiting"] for t in turns["turns"] if t["role"] == "assistant"] == [
        False,
        True,
        True,
    ]

    with store.engine.begin() as conn:
        conn.execute(sa.update(db.handoffs).values(status="claimed", claimed_by="ana"))
    quiet = store.chat("hello? my webhook fails", cid, token)
    assert quiet.reply.type == "handoff" and quiet.handoff_status == "claimed"
    assert quiet.reply.hits == ()  # the bot did not answer
    assert store.transcript(cid, token)["handoff"]["status"] == "claimed"

    with store.engine.begin() as conn:
        conn.execute(sa.update(db.handoffs).values(status="resolved"))
    back = store.chat("how do I rotate my webhook secret", cid, token)
    assert back.reply.type == "answer" and back.handoff_status is None and not back.handoff_id
    view = store.transcript(cid, token)
    assert view["handoff"] is None and view["state"] == "bot"
    reopened = store.request_handoff(cid, token)
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(db.handoffs)).one()
    assert reopened.handoff_id == row.id and row.status == "reopened" and row.reopened == 1


def test_feedback_reaches_the_agent_as_unhelpful_turns(store: Conversations) -> None:
    first = store.chat("my card was declined")
    store.feedback(first.conversation_id, "unhelpful", token=first.token)
    second = store.chat("my card was declined again", first.conversation_id, first.token)
    assert second.reply.type == "answer"
    store.feedback(
        first.conversation_id, "wrong_answer", token=first.token, comment="call 555-123-4567"
    )
    third = store.chat("card declined", first.conversation_id, first.token)
    assert third.reply.handoff and third.reply.handoff.reason == "repeated_unhelpful"
    with store.engine.connect() as conn:
        comments = conn.execute(sa.select(db.feedback.c.comment)).scalars().all()
    assert "call [PHONE]" in comments
    with pytest.raises(InvalidInput):
        store.feedback(first.conversation_id, "rating", token=first.token, rating=9)


def test_priority_rules() -> None:
    def packet(reason: Any, plan: str, words: str) -> Handoff:
        return Handoff(reason, 0.1, (Turn("user", words),), CustomerContext(plan=plan), (), "")

    assert priority(packet("low_confidence", "", "how do I export")) == 1
    frustrated = packet("repeated_unhelpful", "business", "still not working!!")
    assert priority(frustrated) == 3  # the "frustrated" row comes before "business"


CHILD = """
import os, signal, sys
from pathlib import Path
from copilot.record import db
from copilot.service import open_agent
from copilot.record.conversations import Conversations
from copilot.settings import Settings
settings = Settings(kb_dir=Path(sys.argv[1]), data_dir=Path(sys.argv[2]))
agent, index = open_agent(settings)
store = Conversations(db.connect(sys.argv[3], settings.data_dir), agent)
result = store.chat("my webhook signature verification fails")
print(result.conversation_id, result.reply.type, flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # killed right after the reply was sent
"""


@pytest.mark.slow
def test_nothing_is_lost_when_the_process_is_killed_after_replying(
    sample: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'copilot.db'}"
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT / "kb_articles"), str(sample[0].data_dir), url],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    conversation_id, decision = proc.stdout.split()
    engine = db.connect(url, tmp_path)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(db.turns).where(db.turns.c.conversation_id == conversation_id)
        ).all()
    engine.dispose()
    assert [r.role for r in rows] == ["user", "assistant"] and rows[1].decision == decision


def test_outbox_survives_a_receiver_that_is_down_and_a_restart(tmp_path: Path) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    from copilot.record.outbox import deliver_due, enqueue

    class Ok(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hooks"
    url = f"sqlite:///{tmp_path / 'copilot.db'}"
    engine = db.connect(url, tmp_path)
    with engine.begin() as conn:
        enqueue(conn, hook, {"event": "handoff.created", "handoff": {"id": "h1"}})
    with httpx.Client() as client:  # bound but not serving yet: the receiver is down
        assert deliver_due(engine, "s", client, timeout=0.5) == 0
    engine.dispose()  # the server restarts
    engine = db.connect(url, tmp_path)
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.outbox)).one()
    assert row.attempts == 1 and row.delivered_at is None and row.last_error
    with httpx.Client() as client:
        assert deliver_due(engine, "s", client) == 0  # not due yet: backoff
    with engine.begin() as conn:
        conn.execute(sa.update(db.outbox).values(next_attempt_at=db.now()))
    thread = threading.Thread(target=receiver.serve_forever, daemon=True)
    thread.start()
    try:
        with httpx.Client() as client:
            assert deliver_due(engine, "s", client) == 1
    finally:
        receiver.shutdown()
        receiver.server_close()
    with engine.connect() as conn:
        row = conn.execute(sa.select(db.outbox)).one()
    engine.dispose()
    assert row.attempts == 2 and row.delivered_at is not None


def _migrate_at_once(url: str, data_dir: str, barrier: Any, results: Any) -> None:
    barrier.wait()
    try:
        engine = db.connect(url, Path(data_dir))
        results.put(db.current_version(engine))
        engine.dispose()
    except Exception as exc:  # reported to the test, which fails on it
        results.put(repr(exc))


def test_servers_starting_together_migrate_once(db_url: str, tmp_path: Path) -> None:
    """Four processes open a new database at the same moment, as `copilot serve --workers 4`
    does: each waits for the others' migration step instead of failing on its tables."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(4), ctx.Queue()
    procs = [
        ctx.Process(target=_migrate_at_once, args=(db_url, str(tmp_path), barrier, results))
        for _ in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [results.get(timeout=5) for _ in procs] == [len(db.MIGRATIONS)] * 4
