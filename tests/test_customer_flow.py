"""The customer's conversation (#17) over HTTP against a real uvicorn and in the store: suggestions
and picks (stored as customer labels), next steps after a thumbs-down, contact fields (agents
only, purged with the conversation), resume with a token that expires, the widget's config."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.main import create_app
from copilot.answer.agent import Agent
from copilot.answer.confidence import ConfidenceModel
from copilot.errors import Expired, InvalidInput
from copilot.record import db, labels
from copilot.record.conversations import Conversations
from copilot.record.report import purge
from copilot.service import Copilot
from copilot.testing.live import serve
from copilot.types import Contact
from tests.test_api import AGENT, settings_for

SUGGEST = ConfidenceModel(answer_threshold=1.01, clarify_threshold=0.0)  # never sure: suggest
ALWAYS = ConfidenceModel(answer_threshold=0.0, clarify_threshold=0.0)


@pytest.fixture(scope="module")
def live(sample: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Copilot]]:
    tmp = tmp_path_factory.mktemp("flow")
    settings = settings_for(sample, tmp)
    engine = db.connect(None, tmp)
    copilot = Copilot(settings, engine=engine, agent=Agent(sample[2], SUGGEST))
    with serve(create_app(settings, copilot=copilot)) as base:
        yield base, copilot
    engine.dispose()


@pytest.fixture
def store(tmp_path: Path, sample: Any) -> Iterator[Conversations]:
    engine = db.connect(None, tmp_path)
    yield Conversations(engine, Agent(sample[2], ALWAYS), resume_days=30)
    engine.dispose()


def post(base: str, path: str, body: dict[str, Any], token: str = "") -> httpx.Response:
    headers = {"X-Conversation-Token": token} if token else {}
    return httpx.post(f"{base}{path}", json=body, headers=headers, timeout=30)


def test_a_suggestion_is_picked_answered_and_labelled(live: tuple[str, Copilot]) -> None:
    base, copilot = live
    first = post(base, "/v1/chat", {"message": "SSO keeps sending me back to the login page"})
    reply = first.json()
    assert reply["type"] == "suggest" and reply["citations"] == [] and reply["handoff"] is None
    offered = reply["suggestions"]
    assert 1 <= len(offered) <= 3 and offered[0]["article_id"] == "sso-login-loop"
    assert offered[0]["url"] == "/articles/sso-login-loop" and offered[0]["title"]
    cid, token = reply["conversation_id"], reply["conversation_token"]
    path = f"/v1/conversations/{cid}/pick"
    wrong = post(base, path, {"article_id": "payment-declined"}, token)
    assert wrong.status_code == 422 and "article_id" in wrong.text
    assert post(base, path, {"article_id": "sso-login-loop"}).status_code == 404  # no token
    picked = post(base, path, {"article_id": "sso-login-loop"}, token).json()
    assert picked["type"] == "answer" and picked["turn_id"] > reply["turn_id"]
    assert picked["citations"][0]["article_id"] == "sso-login-loop"
    stored = [x for x in labels.all_labels(copilot.engine) if x.author == "pick"]
    assert [(x.verdict, x.articles, x.source) for x in stored] == [
        ("answers", ("sso-login-loop",), "customer")
    ]
    assert stored[0].question == "SSO keeps sending me back to the login page"
    transcript = httpx.get(
        f"{base}/v1/conversations/{cid}", headers={"X-Conversation-Token": token}
    ).json()
    turns = transcript["turns"]
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant"]
    assert turns[1]["type"] == "suggest" and turns[1]["suggestions"][0]["title"]
    assert turns[2]["text"].startswith("Picked: ") and turns[3]["turn_id"] == picked["turn_id"]
    assert transcript["handoff"] is None and transcript["contact_known"] is False


def test_identify_and_the_contact_form_reach_agents_only(live: tuple[str, Copilot]) -> None:
    base, copilot = live
    context = {"plan": "business", "user_id": "u-42", "name": "Ana Lima", "email": "Ana@Acme.IO"}
    bad = post(base, "/v1/chat", {"message": "hi", "context": {"email": "not-an-email"}})
    assert bad.status_code == 422 and "email" in bad.text
    reply = post(base, "/v1/chat", {"message": "talk to a person", "context": context}).json()
    assert reply["type"] == "handoff" and reply["handoff"]["status"] == "waiting"
    cid, token = reply["conversation_id"], reply["conversation_token"]
    mine = {"X-Conversation-Token": token}
    seen = httpx.get(f"{base}/v1/conversations/{cid}", headers=mine).json()
    assert seen["contact_known"] is True and "contact" not in seen
    assert "Ana" not in str(seen["context"]) and "u-42" not in str(seen)
    agent = httpx.get(f"{base}/v1/conversations/{cid}", headers=AGENT).json()
    assert agent["contact"]["email"] == "Ana@acme.io" and agent["contact"]["user_id"] == "u-42"
    path = f"/v1/conversations/{cid}/contact"
    no_consent = post(base, path, {"email": "ana@acme.io", "consent": False}, token)
    assert no_consent.status_code == 422 and "consent" in no_consent.text
    bad_email = post(base, path, {"email": "ana@", "consent": True}, token)
    assert bad_email.status_code == 422 and "email" in bad_email.text
    ok = post(base, path, {"email": "ana.l@acme.io", "name": "Ana", "consent": True}, token)
    assert ok.status_code == 200 and ok.json()["contact_known"] is True
    handoff = httpx.get(f"{base}/v1/handoffs/{reply['handoff']['id']}", headers=AGENT).json()
    assert handoff["packet"]["contact"]["email"] == "ana.l@acme.io"
    assert handoff["packet"]["contact"]["consent_at"]
    with copilot.engine.connect() as conn:
        texts = conn.execute(sa.select(db.turns.c.text)).scalars().all()
    assert not any("ana.l@acme.io" in t or "Ana@acme.io" in t for t in texts)


def test_the_widget_config_has_a_greeting_a_disclosure_and_three_questions(
    live: tuple[str, Copilot],
) -> None:
    base, _ = live
    r = httpx.get(f"{base}/v1/widget/config")
    assert r.status_code == 200 and "max-age" in r.headers["cache-control"]
    body = r.json()
    assert body["greeting"] and "AI" in body["disclosure"]
    assert len(body["suggested_questions"]) == 3 and all(body["suggested_questions"])


def test_questions_asked_most_lead_the_suggested_ones(store: Conversations, sample: Any) -> None:
    from copilot.settings import Settings

    for _ in range(4):
        store.chat("How do I download an invoice PDF?")
    for _ in range(3):
        store.chat("my card was declined")
    for _ in range(2):  # answered, but asked by too few to be shown to everyone
        assert store.chat("Where do I download invoices?").reply.type == "answer"
    settings = Settings(kb_dir=sample[0].kb_dir, data_dir=sample[0].data_dir)
    copilot = Copilot(settings, engine=store.engine, agent=store.agent)
    questions = copilot.widget_config()["suggested_questions"]
    assert questions[:2] == ["How do I download an invoice PDF?", "my card was declined"]
    assert len(questions) == 3 and "Where do I download invoices?" not in questions
    fixed = settings.model_copy(update={"widget_suggested_questions": ["a?", "b?", "c?"]})
    assert Copilot(fixed, engine=store.engine).widget_config()["suggested_questions"] == [
        "a?",
        "b?",
        "c?",
    ]


def test_a_thumbs_down_offers_other_articles_to_pick(store: Conversations) -> None:
    first = store.chat("my card was declined")
    assert first.reply.type == "answer"
    offer = store.feedback(first.conversation_id, "unhelpful", token=first.token)
    assert offer and all(c.article_id != "payment-declined" for c in offer)
    assert len(offer) <= 3
    picked = store.pick(first.conversation_id, first.token, offer[0].article_id, first.turn_id)
    assert picked.reply.type == "answer"
    assert picked.reply.citations[0].article_id == offer[0].article_id
    assert store.feedback(first.conversation_id, "helpful", token=first.token) == []
    with pytest.raises(InvalidInput, match="turn_id"):
        store.pick(first.conversation_id, first.token, "payment-declined", picked.turn_id)


def test_tokens_expire_after_the_resume_window_and_purge_removes_contacts(
    store: Conversations,
) -> None:
    first = store.chat("my card was declined", contact=Contact("ana@acme.io", "Ana"))
    cid, token = first.conversation_id, first.token
    assert store.transcript(cid, token)["contact_known"]
    with store.engine.begin() as conn:
        conn.execute(sa.update(db.conversations).values(updated_at=db.now() - timedelta(days=31)))
    with pytest.raises(Expired, match="new conversation"):
        store.chat("still there?", cid, token)
    assert store.transcript(cid, trusted=True)["contact"]["email"] == "ana@acme.io"
    with store.engine.begin() as conn:
        conn.execute(sa.update(db.conversations).values(created_at=db.now() - timedelta(days=40)))
    assert purge(store.engine, timedelta(days=30)) == 1
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.contacts)).scalar() == 0


def test_an_expired_token_is_a_401_the_widget_can_act_on(live: tuple[str, Copilot]) -> None:
    base, copilot = live
    reply = post(base, "/v1/chat", {"message": "invoice"}).json()
    cid, token = reply["conversation_id"], reply["conversation_token"]
    with copilot.engine.begin() as conn:
        conn.execute(
            sa.update(db.conversations)
            .where(db.conversations.c.id == cid)
            .values(updated_at=db.now() - timedelta(days=31))
        )
    r = httpx.get(f"{base}/v1/conversations/{cid}", headers={"X-Conversation-Token": token})
    assert r.status_code == 401 and r.json()["code"] == "conversation_expired"
    again = post(base, "/v1/chat", {"message": "hi", "conversation_id": cid}, token)
    assert again.status_code == 401


def test_the_report_counts_suggestions_picks_and_searches(tmp_path: Path) -> None:
    """Four conversations worked out by hand: a pick that deflected, a pick thumbed down, an
    ignored suggestion then a handoff, an answer thumbed down."""
    from datetime import date

    from copilot.record.report import report

    engine = db.connect(None, tmp_path)
    day = db.now() - timedelta(days=3)
    ids: dict[str, int] = {}
    with engine.begin() as conn:

        def turn(cid: str, seq: int, decision: str | None = None, **kw: Any) -> None:
            role = "assistant" if decision else "user"
            values = {"text": "t", "hits": [{"article_id": "a", "score": 1.0}], **kw}
            result = conn.execute(
                db.turns.insert().values(
                    conversation_id=cid, seq=seq, role=role, decision=decision, **values
                )
            )
            ids[f"{cid}:{seq}"] = int(result.inserted_primary_key[0])

        for cid in ("c5", "c6", "c7", "c8"):
            conn.execute(
                db.conversations.insert().values(
                    id=cid, token_hash="x", created_at=day, updated_at=day, context={}
                )
            )
            turn(cid, 0)
        for cid in ("c5", "c6"):
            turn(cid, 1, "suggest")
            turn(cid, 2, text="Picked: A")
            turn(cid, 3, "answer", reason="picked", citations=[{"article_id": "a"}])
        turn("c7", 1, "suggest")
        turn("c7", 2)
        turn("c7", 3, "handoff", reason="low_confidence")
        turn("c8", 1, "answer", citations=[{"article_id": "a"}])
        for cid, at in (("c6", "c6:3"), ("c8", "c8:1")):
            conn.execute(
                db.feedback.insert().values(conversation_id=cid, turn_id=ids[at], kind="unhelpful")
            )
        conn.execute(
            db.handoffs.insert().values(
                id="h7", conversation_id="c7", reason="low_confidence", packet={}
            )
        )
    expected = {
        "suggestion_pick_rate": round(2 / 3, 4),
        "kb_search_success": round(2 / 5, 4),  # searches: c5 1, c6 1, c7 2, c8 1
        "self_service_resolution_rate": 0.25,  # c5 only
    }
    result = report(engine, until=date.today())
    assert {k: result[k] for k in expected} == expected
    assert purge(engine, timedelta(days=1)) == 4  # the counts outlive the conversations
    after = report(engine, until=date.today())
    assert {k: after[k] for k in expected} == expected
    engine.dispose()
