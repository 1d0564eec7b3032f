"""`POST /v1/signals` and `/v1/nudges/...` against a real uvicorn: a nudge for an error code,
what is stored (redacted, hashed, without query strings), bad input, floods, and purge."""

from __future__ import annotations

import hashlib
import uuid
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
from copilot.proactive.nudges import Batch, Proactive
from copilot.proactive.report import proactive_report
from copilot.proactive.rules import Signal
from copilot.proactive.signals import nudges, signals, subject_key
from copilot.record import db
from copilot.record.report import purge
from copilot.record.schema import now
from copilot.service import Copilot
from copilot.settings import ApiKey, Settings
from copilot.testing.live import serve

ALWAYS = ConfidenceModel(answer_threshold=0.0, clarify_threshold=0.0)
PAGE = "https://app.example.com/settings/sso"
KEY = "signals-agent-key"


@pytest.fixture(scope="module")
def live(sample: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    tmp = tmp_path_factory.mktemp("signals")
    settings = Settings(
        kb_dir=sample[0].kb_dir,
        data_dir=sample[0].data_dir,
        max_body_bytes=4000,
        signals_rate_per_minute=1000,
        api_keys=[
            ApiKey(name="ana", scope="agent", sha256=hashlib.sha256(KEY.encode()).hexdigest())
        ],
    )
    engine = db.connect(None, tmp)
    app = create_app(
        settings, copilot=Copilot(settings, engine=engine, agent=Agent(sample[2], ALWAYS))
    )
    with serve(app) as base:
        yield base, engine
    engine.dispose()


def subject() -> str:
    return f"anon-{uuid.uuid4().hex}"


def post(base: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{base}/v1/signals", json=body, timeout=30)


def test_an_error_code_nudges_the_article_whose_symptoms_contain_it(live: Any) -> None:
    base, engine = live
    who = subject()
    r = post(
        base,
        {
            "subject": who,
            "account": "acme",
            "events": [
                {
                    "name": "error_shown",
                    "page": PAGE + "?token=s3cr3t-value#frag",
                    "props": {
                        "code": "SSO-102",
                        "message": "SAML error for ana.lopez@example.com",
                    },
                }
            ],
        },
    )
    assert r.status_code == 200, r.text
    nudge = r.json()["nudge"]
    assert nudge["article_id"] == "saml-signature-invalid"
    assert "SSO-102" in nudge["reason"] and nudge["headline"].startswith("Stuck on")
    with engine.connect() as conn:
        row = conn.execute(sa.select(signals).order_by(signals.c.id.desc())).first()
        stored = conn.execute(sa.select(nudges).where(nudges.c.id == nudge["id"])).one()
    assert row.page == PAGE  # query and fragment dropped
    assert "[EMAIL]" in row.props["message"] and "ana.lopez" not in row.props["message"]
    assert row.subject != who and len(row.subject) == 64  # only a hash of the id is kept
    assert stored.confidence == "symptoms"

    opened = httpx.post(f"{base}/v1/nudges/{nudge['id']}/open", json={"subject": who})
    assert opened.status_code == 200, opened.text
    body = opened.json()
    assert body["url"] == "/articles/saml-signature-invalid"
    assert body["text"].startswith("From **SAML error")
    assert (
        httpx.post(f"{base}/v1/nudges/{nudge['id']}/open", json={"subject": subject()}).status_code
        == 404
    )
    verdict = {"subject": who, "kind": "helpful"}
    assert httpx.post(f"{base}/v1/nudges/{nudge['id']}/feedback", json=verdict).status_code == 200
    assert (
        httpx.post(f"{base}/v1/nudges/{nudge['id']}/dismiss", json={"subject": who}).status_code
        == 200
    )
    with engine.connect() as conn:
        stored = conn.execute(sa.select(nudges).where(nudges.c.id == nudge["id"])).one()
    assert stored.opened_at and stored.feedback == "helpful" and stored.dismissed_at

    # Dismissed: the same customer gets no nudge while snoozed, even for a new error.
    again = {
        "subject": who,
        "events": [{"name": "error_shown", "props": {"code": "invalid_api_key"}}],
    }
    assert post(base, again).json()["nudge"] is None
    fresh = {**again, "subject": subject()}
    assert post(base, fresh).json()["nudge"]["article_id"] == "api-401-unauthorized"
    metrics = httpx.get(f"{base}/metrics").text
    assert 'copilot_nudges_total{event="opened"}' in metrics
    assert 'copilot_signals_total{name="error_shown"}' in metrics


def test_switched_off_tips_store_signals_but_never_nudge(live: Any) -> None:
    base, engine = live
    who = subject()
    body = {
        "subject": who,
        "tips": False,
        "events": [{"name": "error_shown", "props": {"code": "SSO-102"}}],
    }
    r = post(base, body)
    assert r.status_code == 200 and r.json() == {"accepted": 1, "nudge": None}
    with engine.connect() as conn:
        mine = signals.c.subject == subject_key(who)
        assert conn.execute(sa.select(signals.c.name).where(mine)).scalars().all() == [
            "error_shown"
        ]


def test_a_quiet_flag_marks_the_account_for_agents_once(live: Any) -> None:
    base, _ = live
    account = f"acct-{uuid.uuid4().hex[:8]}"
    body = {
        "subject": subject(),
        "account": account,
        "account_age_days": 30,
        "events": [{"name": "page_view", "page": PAGE}],
    }
    assert post(base, body).json()["nudge"] is None  # a flag is for agents, never shown
    assert post(base, body).status_code == 200  # fires again: flagged once a week only
    agent = {"Authorization": f"Bearer {KEY}"}
    r = httpx.get(f"{base}/v1/struggles", params={"account": account}, headers=agent)
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["struggling"] is True and len(found["recent"]) == 1
    assert found["recent"][0]["rule"] == "sso-unused" and found["recent"][0]["action"] == "flag"
    assert "haven't tried sso" in found["recent"][0]["reason"]
    calm = httpx.get(f"{base}/v1/struggles", params={"account": "nobody"}, headers=agent).json()
    assert calm == {"account": "nobody", "struggling": False, "recent": []}
    assert httpx.get(f"{base}/v1/struggles", params={"account": account}).status_code == 401
    used = {**body, "subject": subject(), "account": f"acct-{uuid.uuid4().hex[:8]}"}
    used["events"] = [{"name": "feature_used", "props": {"feature": "SSO"}}, *body["events"]]
    post(base, used)
    params = {"account": used["account"]}
    assert httpx.get(f"{base}/v1/struggles", params=params, headers=agent).json()["recent"] == []


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"events": "page_view"}, 422, "events"),
        ({"events": []}, 422, "events"),
        ({"events": [{"name": "clicked_everything"}]}, 422, "name"),
        ({"events": [{"name": "page_view", "props": {"password": "x"}}]}, 422, "password"),
        ({"events": [{"name": "error_shown", "props": {"code": 102}}]}, 422, "code"),
        ({"events": [{"name": "page_view", "page": 7}]}, 422, "page"),
        ({"subject": "has spaces in it"}, 422, "subject"),
        ({"subject": ""}, 422, "subject"),
        ({"subject": "x" * 129}, 422, "subject"),
        ({"account_age_days": "old"}, 422, "account_age_days"),
        ({"account_age_days": -1}, 422, "account_age_days"),
        ({"tips": "maybe"}, 422, "tips"),
        ({"surprise": 1}, 422, "surprise"),
        ({"events": [{"name": "page_view"}] * 21}, 422, "events"),
        ({"events": [{"name": "error_shown", "props": {"message": "x" * 501}}]}, 422, "message"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    live: Any, change: dict[str, Any], status: int, field: str
) -> None:
    body = {"subject": subject(), "events": [{"name": "page_view", "page": PAGE}], **change}
    r = post(live[0], body)
    assert r.status_code == status, r.text
    assert field in r.text


def test_an_oversized_body_is_413_before_parsing(live: Any) -> None:
    r = httpx.post(
        f"{live[0]}/v1/signals",
        content=b'{"subject": "' + b"a" * 5000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_a_flood_is_429(sample: Any, tmp_path: Path) -> None:
    settings = Settings(
        kb_dir=sample[0].kb_dir, data_dir=sample[0].data_dir, signals_rate_per_minute=3
    )
    engine = db.connect(None, tmp_path)
    with serve(create_app(settings, copilot=Copilot(settings, engine=engine))) as base:
        body = {"subject": subject(), "events": [{"name": "page_view", "page": PAGE}]}
        codes = [post(base, body).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        last = post(base, body)
        assert int(last.headers["Retry-After"]) >= 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(signals)).scalar_one() == 3
    engine.dispose()


def test_store_report_and_purge_on_sqlite_and_postgres(db_url: str, tmp_path: Path) -> None:
    """The store's queries, the report and purge, on both databases (migration 8 included)."""
    engine = db.connect(db_url, tmp_path)
    proactive = Proactive(engine, Settings(data_dir=tmp_path))
    old = now() - timedelta(days=100)
    who = "anon-0123456789"
    used = Signal("feature_used", old, PAGE, {"feature": "sso"})
    proactive.receive(Batch(who, (used,), account="acme"), None, old)
    proactive.store.add_nudge(at=old, subject="s", account="acme", rule="r", action="flag")
    views = tuple(Signal("page_view", now(), PAGE) for _ in range(3))
    outcome = proactive.receive(Batch(who, views, account="acme", account_age_days=30), None)
    # page-revisits fired but no agent to pick an article; sso was used: no flag either
    assert outcome.nudge is None and outcome.flags == []
    assert outcome.why_not == ["page-revisits: the assistant is not ready"]
    assert proactive.store.features_used("acme", "") == frozenset({"sso"})
    section = proactive_report(engine, None, now() + timedelta(minutes=1))
    assert section["signals"] == {"page_view": 3, "feature_used": 1}
    acme = section["adoption_by_account"]["acme"]
    assert acme["flags"] == 1 and acme["struggles"] == 2  # the flag, and the rule held back
    purge(engine, timedelta(days=90))
    with engine.connect() as conn:
        kept = conn.execute(sa.select(signals.c.name)).scalars().all()
        rows = conn.execute(sa.select(nudges.c.action)).scalars().all()
    assert kept == ["page_view"] * 3 and rows == ["held"]
    engine.dispose()
