"""The agents' side of a handoff, hardened (issue 16): who acts is the API key's agent, never a
name in the body; every change is in the handoff's audit trail; agents' links go through the URL
policy; customers see a reference and what happens next, never the packet; transcripts come a
page at a time and a conversation has a turn cap.

The service runs without an index here: every customer message is handed off, which is what
these tests need, and no model is loaded."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from copilot.record import db
from copilot.service import Copilot
from copilot.settings import ApiKey, Settings

KEYS = {"ana": ("agent", "ana-key"), "bob": ("agent", "bob-key"), "root": ("admin", "root-key")}
AS = {name: {"Authorization": f"Bearer {key}"} for name, (_, key) in KEYS.items()}


@contextmanager
def _client(tmp_path: Path, database_url: str | None = None, **extra: Any) -> Iterator[TestClient]:
    keys = [
        ApiKey(name=name, scope=scope, sha256=hashlib.sha256(key.encode()).hexdigest())  # type: ignore[arg-type]
        for name, (scope, key) in KEYS.items()
    ]
    settings = Settings(kb_dir=tmp_path / "kb", data_dir=tmp_path / "data", api_keys=keys, **extra)
    engine = db.connect(database_url, settings.data_dir)
    copilot = Copilot(settings, engine=engine)
    try:
        with TestClient(create_app(settings, copilot=copilot)) as client:
            yield client
    finally:
        copilot.close()
        engine.dispose()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with _client(tmp_path, link_hosts=["flowbench.io", "*.flowbench.io"]) as c:
        yield c


def handed_off(client: TestClient) -> tuple[str, str, str]:
    """A new conversation, handed off: (conversation id, its token, handoff id)."""
    r = client.post("/v1/chat", json={"message": "my invoices are wrong, I'm ana@acme.io"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["type"] == "handoff"
    return body["conversation_id"], body["conversation_token"], body["handoff"]["id"]


def act(client: TestClient, hid: str, action: str, who: str, **body: Any) -> Any:
    return client.post(f"/v1/handoffs/{hid}/{action}", json=body or None, headers=AS[who])


def test_agent_actions_are_the_keys_agent_and_every_change_is_audited(
    db_url: str, tmp_path: Path
) -> None:
    """Finding 9, on SQLite and Postgres (the audit table is new in migration 7)."""
    with _client(tmp_path, db_url) as client:
        cid, token, hid = handed_off(client)
        # A name in the body is not who acts: the key is.
        claimed = act(client, hid, "claim", "ana", agent="bob")
        assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "ana"
        # Another agent cannot write, release or resolve ana's claim, whatever the body says.
        for action, body in (("messages", {"text": "hi", "agent": "ana"}), ("release", {})):
            r = act(client, hid, action, "bob", **body)
            assert r.status_code == 409 and "ana" in r.json()["error"], r.text
        r = act(client, hid, "resolve", "bob", agent="ana")
        assert r.status_code == 409 and "claimed by ana" in r.json()["error"]
        assert (
            act(client, hid, "messages", "ana", agent="bob", text="Hi, Ana here").status_code == 200
        )
        # An admin may release another agent's claim; the trail says whose it was.
        assert act(client, hid, "release", "root").json()["status"] == "open"
        assert act(client, hid, "claim", "bob").json()["claimed_by"] == "bob"
        assert act(client, hid, "resolve", "bob").json()["status"] == "resolved"
        again = client.post(
            "/v1/chat",
            json={"message": "still wrong", "conversation_id": cid},
            headers={"X-Conversation-Token": token},
        )
        assert again.status_code == 200, again.text

        handoff = client.get(f"/v1/handoffs/{hid}", headers=AS["ana"]).json()
        assert handoff["status"] == "reopened"
        trail = [(e["actor"], e["action"]) for e in handoff["events"]]
        assert trail == [
            ("copilot", "created"),
            ("ana", "claimed"),
            ("ana", "message"),
            ("root", "released"),
            ("bob", "claimed"),
            ("bob", "resolved"),
            ("customer", "reopened"),
            ("copilot", "merged"),  # the new handoff went into the same ticket
        ]
        events = handoff["events"]
        assert events[0]["detail"] == {"reason": "unavailable", "rule": "everyone else"}
        assert events[3]["detail"] == {"holder": "ana"}
        assert all(e["at"] for e in events)
        turns = client.get(f"/v1/conversations/{cid}", headers=AS["ana"]).json()["turns"]
        assert events[2]["detail"]["turn_id"] == next(
            t["id"] for t in turns if t["role"] == "agent"
        )


def test_the_request_bodies_no_longer_name_an_agent(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    message = spec["components"]["schemas"]["AgentMessage"]
    assert set(message["properties"]) == {"text", "confirm_links"}
    assert "ClaimRequest" not in spec["components"]["schemas"]
    for action in ("claim", "release", "resolve"):
        assert "requestBody" not in spec["paths"][f"/v1/handoffs/{{handoff_id}}/{action}"]["post"]


def test_agent_links_customers_may_not_see_need_a_confirmation(client: TestClient) -> None:
    """Finding 1's last sentence: agents' messages go through the same URL policy."""
    cid, _, hid = handed_off(client)
    assert act(client, hid, "claim", "ana").status_code == 200
    phishing = "Please confirm your password here: https://evil.example/login"
    refused = act(client, hid, "messages", "ana", text=phishing)
    assert refused.status_code == 422
    assert refused.json()["links"] == ["https://evil.example/login"]
    assert "confirm_links" in refused.json()["error"]
    markdown = act(client, hid, "messages", "ana", text="See [the fix](https://evil.example/fix)")
    assert markdown.status_code == 422 and markdown.json()["links"] == ["https://evil.example/fix"]
    ours = "See https://docs.flowbench.io/invoices and [billing](/articles/invoice-pdf-missing)"
    assert act(client, hid, "messages", "ana", text=ours).status_code == 200
    confirmed = act(client, hid, "messages", "ana", text=phishing, confirm_links=True)
    assert confirmed.status_code == 200

    turns = client.get(f"/v1/conversations/{cid}", headers=AS["ana"]).json()["turns"]
    agents = [t["text"] for t in turns if t["role"] == "agent"]
    assert agents == [ours, phishing]  # the refused ones were not stored; confirmed as written
    events = client.get(f"/v1/handoffs/{hid}", headers=AS["ana"]).json()["events"]
    messages = [e["detail"] for e in events if e["action"] == "message"]
    assert "confirmed_links" not in messages[0]
    assert messages[1]["confirmed_links"] == ["https://evil.example/login"]


CUSTOMER_VIEW = {"id", "status", "next"}


def test_customers_see_a_reference_and_what_happens_next_never_the_packet(
    client: TestClient,
) -> None:
    """Finding 12: the chat reply (JSON and the streamed `final`) carries the customer's view;
    agents keep the whole packet through /v1/handoffs."""
    body = client.post("/v1/chat", json={"message": "I'm ana@acme.io, refund me"}).json()
    view = body["handoff"]
    assert set(view) == CUSTOMER_VIEW and view["status"] == "waiting"
    assert view["next"].endswith(".") and view["id"]
    for internal in ("transcript", "articles_tried", "unavailable", "reason", "priority"):
        assert internal not in json.dumps(view)

    streamed = client.post("/v1/chat", json={"message": "refund me please", "stream": True})
    final = streamed.text.split("event: final\ndata: ", 1)[1].split("\n", 1)[0]
    assert set(json.loads(final)["handoff"]) == CUSTOMER_VIEW

    cid, token = body["conversation_id"], body["conversation_token"]
    asked = client.post(f"/v1/conversations/{cid}/handoff", headers={"X-Conversation-Token": token})
    assert set(asked.json()["handoff"]) == CUSTOMER_VIEW  # already with a person: same view
    packet = client.get(f"/v1/handoffs/{view['id']}", headers=AS["ana"]).json()["packet"]
    assert packet["reason"] == "unavailable" and packet["transcript"]


def test_transcripts_come_a_page_at_a_time(client: TestClient) -> None:
    """Finding 11: `after` and `limit`, and `next_after` while more remain."""
    cid, token, hid = handed_off(client)
    act(client, hid, "claim", "ana")
    for n in range(7):
        assert act(client, hid, "messages", "ana", text=f"message {n}").status_code == 200
    customer = {"X-Conversation-Token": token}
    whole = client.get(f"/v1/conversations/{cid}", headers=customer).json()
    assert len(whole["turns"]) == 9 and "next_after" not in whole
    pages, after = [], 0
    while True:
        page = client.get(f"/v1/conversations/{cid}?after={after}&limit=4", headers=customer).json()
        pages.append(len(page["turns"]))
        if "next_after" not in page:
            break
        after = page["next_after"]
        assert after == page["turns"][-1]["id"]
    assert pages == [4, 4, 1]
    for bad in ("limit=0", "limit=201", "after=-1", "after=x"):
        assert client.get(f"/v1/conversations/{cid}?{bad}", headers=customer).status_code == 422


def test_a_full_conversation_says_so(tmp_path: Path) -> None:
    """Finding 11: a cap on turns per conversation, with a clear 409."""
    with _client(tmp_path, max_turns_per_conversation=4) as client:
        cid, token, _ = handed_off(client)  # 2 turns
        customer = {"X-Conversation-Token": token}

        def write(text: str) -> Any:
            return client.post(
                "/v1/chat", json={"message": text, "conversation_id": cid}, headers=customer
            )

        # While the handoff waits the bot still answers: the message and its reply, 4 turns.
        assert write("hello?").status_code == 200
        full = write("anyone?")
        assert full.status_code == 409
        assert full.json()["error"] == "this conversation is full: start a new one"
        turns = client.get(f"/v1/conversations/{cid}", headers=customer).json()["turns"]
        assert len(turns) == 4
        # Without the token a full conversation is as unknown as any other.
        stranger = client.post("/v1/chat", json={"message": "x", "conversation_id": cid})
        assert stranger.status_code == 404
        assert client.post("/v1/chat", json={"message": "a new one"}).status_code == 200
