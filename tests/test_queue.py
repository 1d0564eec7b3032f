"""The agents' queue API (issue 18): filters, search over transcripts, sort by priority then due
time, paging, ETags for short polling, notes, repeat handoffs merged, SLA breach, and who acts.

The service runs without an index: every customer message is handed off ("unavailable"), which
is what these tests need, and no model is loaded."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select as sa_select, update

from copilot.record import db, handoffs
from copilot.record.queue import listing
from copilot.types import CustomerContext, Handoff, Turn
from tests.test_handoffs import AS, _client, act


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with _client(tmp_path) as c:
        yield c


def ask(client: TestClient, text: str, **context: Any) -> dict[str, Any]:
    r = client.post("/v1/chat", json={"message": text, "context": context})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["type"] == "handoff"
    return body


def queue(client: TestClient, who: str = "ana", **params: Any) -> dict[str, Any]:
    r = client.get("/v1/handoffs", params=params, headers=AS[who])
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    return page


def engine_of(client: TestClient) -> Any:
    return client.app.state.copilot.engine  # type: ignore[attr-defined]


def test_filters_search_sort_and_paging(client: TestClient) -> None:
    calm = ask(client, "how do I rename a workspace")
    big = ask(client, "our SSO setup fails", plan="Enterprise")
    angry = ask(client, "invoices are wrong and this is urgent!!", plan="business")
    at_risk = ask(client, "export is slow", attributes={"health_score": 20})
    ids = [h["handoff"]["id"] for h in (calm, big, angry, at_risk)]
    page = queue(client)
    assert page["total"] == 4
    order = [h["id"] for h in page["items"]]
    # health 20 -> "account at risk" (5), enterprise (4), frustrated (3), everyone else (1)
    assert order == [ids[3], ids[1], ids[2], ids[0]]
    first = page["items"][0]
    assert first["sla_rule"] == "account at risk" and first["due_at"] and not first["breached"]
    assert first["preview"] == "export is slow"
    assert first["context"]["attributes"] == {"health_score": "20"}
    # Search is over what was said, case-insensitively; % and _ are literal.
    assert [h["id"] for h in queue(client, q="INVOICES")["items"]] == [ids[2]]
    assert queue(client, q="100%")["total"] == 0
    # Paging: two at a time, in the same order.
    one = queue(client, limit=2)
    two = queue(client, limit=2, offset=one["next_offset"])
    assert [h["id"] for h in one["items"] + two["items"]] == order and "next_offset" not in two
    # Mine / unassigned / status / reason follow claims.
    assert act(client, ids[0], "claim", "bob").status_code == 200
    assert [h["id"] for h in queue(client, "bob", assigned="mine")["items"]] == [ids[0]]
    assert queue(client, "ana", assigned="mine")["total"] == 0
    assert ids[0] not in [h["id"] for h in queue(client, assigned="unassigned")["items"]]
    assert queue(client, status="claimed")["total"] == 1
    assert queue(client, reason="unavailable")["total"] == 4
    assert queue(client, reason="no_results")["total"] == 0
    r = client.get("/v1/handoffs", params={"status": "lost"}, headers=AS["ana"])
    assert r.status_code == 422 and "status" in r.text


def test_etag_short_polling(client: TestClient) -> None:
    ask(client, "how do I rename a workspace")
    r = client.get("/v1/handoffs", headers=AS["ana"])
    etag = r.headers["ETag"]
    again = client.get("/v1/handoffs", headers={**AS["ana"], "If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag and not again.content
    hid = ask(client, "the export fails")["handoff"]["id"]
    changed = client.get("/v1/handoffs", headers={**AS["ana"], "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert hid in [h["id"] for h in changed.json()["items"]]
    # A claim changes the page too: the console sees it at the next poll.
    etag = changed.headers["ETag"]
    act(client, hid, "claim", "ana")
    assert (
        client.get("/v1/handoffs", headers={**AS["ana"], "If-None-Match": etag}).status_code == 200
    )


def test_breach_and_first_response(client: TestClient) -> None:
    late = ask(client, "my invoices are wrong")["handoff"]["id"]
    answered = ask(client, "the export fails")["handoff"]["id"]
    assert queue(client, breached=True)["total"] == 0
    # Time passes: both are a day overdue; one got its first reply before that.
    with engine_of(client).begin() as conn:
        conn.execute(update(db.handoffs).values(due_at=db.now() - timedelta(days=1)))
    assert queue(client, breached=True)["total"] == 2
    act(client, answered, "claim", "ana")
    with engine_of(client).begin() as conn:
        conn.execute(
            update(db.handoffs)
            .where(db.handoffs.c.id == answered)
            .values(due_at=db.now() + timedelta(hours=1))
        )
    assert act(client, answered, "messages", "ana", text="Looking into it now.").status_code == 200
    assert [h["id"] for h in queue(client, breached=True)["items"]] == [late]
    item = next(h for h in queue(client)["items"] if h["id"] == answered)
    assert item["first_response_at"] and not item["breached"]


def test_notes_are_internal_and_attributed(client: TestClient) -> None:
    body = ask(client, "my invoices are wrong")
    hid, cid, token = body["handoff"]["id"], body["conversation_id"], body["conversation_token"]
    r = client.post(
        f"/v1/handoffs/{hid}/notes",
        json={"text": "VIP, call ana@acme.io", "agent": "bob"},
        headers=AS["ana"],
    )
    assert r.status_code == 200 and r.json()["author"] == "ana"
    detail = client.get(f"/v1/handoffs/{hid}", headers=AS["bob"]).json()
    assert [n["text"] for n in detail["notes"]] == ["VIP, call [EMAIL]"]
    assert detail["events"][-1]["actor"] == "ana" and detail["events"][-1]["action"] == "note"
    seen = client.get(f"/v1/conversations/{cid}", headers={"X-Conversation-Token": token}).json()
    assert "VIP" not in str(seen)
    assert client.post(f"/v1/handoffs/{hid}/notes", json={"text": "x"}).status_code == 401


def test_repeat_handoffs_of_a_conversation_are_one_ticket(client: TestClient) -> None:
    """Asking again while handed off stays one ticket; a second handoff of the same conversation
    (the bot answering while a ticket waits, then handing off again) merges into it, and a
    resolved ticket is reopened rather than duplicated."""
    body = ask(client, "my invoices are wrong")
    hid, cid, token = body["handoff"]["id"], body["conversation_id"], body["conversation_token"]
    again = client.post(
        f"/v1/conversations/{cid}/handoff", headers={"X-Conversation-Token": token}
    ).json()
    assert again["handoff"]["id"] == hid
    packet = Handoff(
        "customer_asked",
        0.2,
        (Turn("user", "my invoices are wrong"), Turn("user", "I want a real person")),
        CustomerContext(),
        (("download-invoice", 0.4),),
        "",
    )
    act(client, hid, "claim", "ana")
    act(client, hid, "resolve", "ana")
    with engine_of(client).begin() as conn:
        assert handoffs.open_handoff(conn, cid, packet) == hid
    page = queue(client)
    assert page["total"] == 1
    item = page["items"][0]
    assert item["status"] == "reopened" and item["merged"] == 1
    assert item["sla_rule"] == "asked for a person"
    detail = client.get(f"/v1/handoffs/{hid}", headers=AS["ana"]).json()
    assert detail["packet"]["reasons"] == ["unavailable", "customer_asked"]
    assert ["download-invoice", 0.4] in detail["packet"]["articles_tried"]
    assert "merged" in [e["action"] for e in detail["events"]]
    # Resolved long ago: the conversation's next handoff is a new ticket, not a reopened one.
    with engine_of(client).begin() as conn:
        conn.execute(
            update(db.handoffs)
            .where(db.handoffs.c.id == hid)
            .values(status="resolved", updated_at=db.now() - timedelta(days=8))
        )
        assert handoffs.open_handoff(conn, cid, packet) != hid


def test_who_am_i(client: TestClient) -> None:
    assert client.get("/v1/agents/me", headers=AS["bob"]).json() == {
        "name": "bob",
        "scope": "agent",
    }
    assert client.get("/v1/agents/me", headers=AS["root"]).json()["scope"] == "admin"
    assert client.get("/v1/agents/me").status_code == 401


def test_report_and_prometheus_show_the_queue(client: TestClient) -> None:
    """`copilot report` (and its HTML, and /metrics): first-response time, SLA breaches,
    handoffs by agent, the "not for us" count."""
    from copilot.record import queue as queue_store
    from copilot.record.report_html import render

    late = ask(client, "my invoices are wrong")
    quick = ask(client, "the export fails")
    ask(client, "where is my logo")
    with engine_of(client).begin() as conn:
        conn.execute(
            update(db.handoffs)
            .where(db.handoffs.c.id == late["handoff"]["id"])
            .values(due_at=db.now() - timedelta(minutes=5))
        )
        queue_store.record_not_for_us(conn, quick["conversation_id"], "off_topic", "weather?")
        queue_store.record_not_for_us(conn, quick["conversation_id"], "injection", "ignore it")
    for hid, who in ((late["handoff"]["id"], "ana"), (quick["handoff"]["id"], "bob")):
        act(client, hid, "claim", who)
        act(client, hid, "messages", who, text="On it.")
    act(client, quick["handoff"]["id"], "resolve", "bob")
    result = client.app.state.copilot.report()  # type: ignore[attr-defined]
    assert result["handoffs_answered"] == 2 and result["first_response_p50_minutes"] is not None
    assert result["sla_breaches"] == 1 and result["sla_breached_waiting"] == 0
    assert result["not_for_us"] == 2 and result["not_for_us_by_kind"]["injection"] == 1
    assert result["handoffs_by_agent"] == {
        "ana": {"claimed": 1, "message": 1},
        "bob": {"claimed": 1, "message": 1, "resolved": 1},
    }
    html = render(result, [])
    assert "The agents' queue" in html and "<td>SLA breaches</td><td>1</td>" in html
    assert "<td>bob</td><td>1</td><td>1</td><td>1</td>" in html
    metrics = client.get("/metrics").text
    assert "copilot_sla_breaches 1" in metrics
    assert 'copilot_not_for_us{kind="off_topic"} 1' in metrics


V9_COLUMNS = ("sla_rule", "due_at", "first_response_at", "product_area", "plan", "merged")


def test_migration_9_adds_the_queue_to_a_v7_database(db_url: str, tmp_path: Path) -> None:
    """A database from before the queue (v7, with a waiting handoff) migrates: the new columns
    are added, and the old ticket is listed after the ones with a due time."""
    import sqlalchemy as sa

    old = db.connect(db_url, tmp_path, migrate_to=7)
    with old.begin() as conn:
        cols = {c["name"] for c in sa.inspect(conn).get_columns("handoffs")}
        if "due_at" in cols:  # v1 creates today's table: make it the v7 one, as shipped
            for name in (
                "sla_rule",
                "due_at",
                "first_response_at",
                "product_area",
                "plan",
                "merged",
            ):
                conn.execute(sa.text(f"ALTER TABLE handoffs DROP COLUMN {name}"))
        conn.execute(
            sa.text(
                "INSERT INTO conversations (id, token_hash, created_at, updated_at, audience,"
                " context, state, product_area) VALUES ('c-old', 'x', :t, :t, 'customer', '{}',"
                " 'handed_off', '')"
            ),
            {"t": db.now()},
        )
        conn.execute(
            sa.text(
                "INSERT INTO handoffs (id, conversation_id, created_at, reason, priority, status,"
                " updated_at, reopened, packet) VALUES ('h-old', 'c-old', :t, 'low_confidence', 9,"
                " 'open', :t, 0, '{}')"
            ),
            {"t": db.now()},
        )
    old.dispose()
    engine = db.connect(db_url, tmp_path)
    assert db.current_version(engine) >= 8
    page = listing(engine)
    assert [h["id"] for h in page["items"]] == ["h-old"]
    assert page["items"][0]["due_at"] is None and page["items"][0]["breached"] is False
    engine.dispose()


def test_purge_deletes_notes_and_the_not_for_us_log(client: TestClient) -> None:
    from copilot.record import queue as queue_store
    from copilot.record.report import purge

    body = ask(client, "my invoices are wrong")
    hid = body["handoff"]["id"]
    client.post(f"/v1/handoffs/{hid}/notes", json={"text": "call back"}, headers=AS["ana"])
    engine = engine_of(client)
    with engine.begin() as conn:
        queue_store.record_not_for_us(conn, body["conversation_id"], "off_topic", "weather?")
    assert purge(engine, timedelta(seconds=-5)) == 1
    with engine.connect() as conn:
        for table in (db.handoffs, db.handoff_notes, db.not_for_us):
            assert conn.execute(sa_select(table)).all() == [], table.name
