"""Live metrics, retention and content gaps, on a synthetic history with known answers."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from copilot.kb.lint import LintOptions, lint_paths
from copilot.record import db
from copilot.record.gaps import cluster, write_drafts
from copilot.record.report import purge, report

DAY1 = datetime(2026, 11, 20, 10, 0, tzinfo=db.now().tzinfo)
DAY2 = DAY1 + timedelta(days=1)


def hit(article: str, stale: bool = False, owner: str = "billing-team") -> dict[str, Any]:
    return {"article_id": article, "score": 1.0, "stale": stale, "owner": owner}


def fill(engine: sa.Engine) -> None:
    """Four conversations whose metrics are worked out by hand in the test below."""
    convs = [
        ("c1", DAY1, "billing"),  # answered, thumbs up, rated 5: resolved
        ("c2", DAY1, "billing"),  # answered from a stale article, then "wrong answer"
        ("c3", DAY2, "sso"),  # nothing found: handoff, later reopened
        ("c4", DAY2, "sso"),  # clarify, then the customer asked for a person
    ]
    with engine.begin() as conn:
        for cid, when, area in convs:
            conn.execute(
                db.conversations.insert().values(
                    id=cid,
                    token_hash="x",
                    created_at=when,
                    updated_at=when,
                    context={},
                    product_area=area,
                )
            )

        def turn(cid: str, seq: int, decision: str | None, **kw: Any) -> None:
            conn.execute(
                db.turns.insert().values(
                    conversation_id=cid,
                    seq=seq,
                    created_at=DAY1,
                    role="assistant" if decision else "user",
                    decision=decision,
                    **{"text": "t", **kw},
                )
            )

        turn("c1", 0, None)
        turn("c1", 1, "answer", hits=[hit("a")], citations=[{"article_id": "a"}], latency_ms=10.0)
        turn("c2", 0, None)
        turn(
            "c2",
            1,
            "answer",
            hits=[hit("s", stale=True)],
            citations=[{"article_id": "s"}],
            latency_ms=20.0,
        )
        turn("c3", 0, None, text="how do I change the invoice currency")
        turn("c3", 1, "handoff", reason="no_results", hits=[], latency_ms=30.0)
        turn("c4", 0, None)
        turn("c4", 1, "clarify", hits=[hit("a")], latency_ms=40.0)
        turn("c4", 2, None)
        turn("c4", 3, "handoff", reason="customer_asked", hits=[hit("a")], latency_ms=50.0)
        for cid, kind, rating in (
            ("c1", "helpful", None),
            ("c1", "rating", 5),
            ("c2", "wrong_answer", None),
        ):
            conn.execute(db.feedback.insert().values(conversation_id=cid, kind=kind, rating=rating))
        for hid, cid, reason, reopened in (
            ("h3", "c3", "no_results", 1),
            ("h4", "c4", "customer_asked", 0),
        ):
            conn.execute(
                db.handoffs.insert().values(
                    id=hid, conversation_id=cid, reason=reason, reopened=reopened, packet={}
                )
            )


EXPECTED = {
    "conversations": 4,
    "self_service_resolution_rate": 0.25,
    "handoff_rate": 0.5,
    "handoff_reasons": {"no_results": 1, "customer_asked": 1},
    "zero_result_rate": 0.2,  # 1 of 5 bot replies found nothing
    "answers": 2,
    "wrong_answers": 1,
    "wrong_answers_per_1000_conversations": 250.0,
    "wrong_answer_rate": 0.5,
    "thumbs_up": 1,
    "thumbs_down": 1,
    "satisfaction": 5.0,
    "ratings": 1,
    "reopened_handoffs": 1,
    "stale_citations_by_owner": {"billing-team": 1},
}


def test_metric_arithmetic(db_url: str, tmp_path: Path) -> None:
    engine = db.connect(db_url, tmp_path)
    fill(engine)
    result = report(engine, until=date(2026, 11, 30))
    assert {k: result[k] for k in EXPECTED} == EXPECTED
    assert result["latency_p50_ms"] == 30.0
    assert result["by_product_area"]["billing"]["self_service_resolution_rate"] == 0.5
    assert result["by_product_area"]["sso"]["handoff_rate"] == 1.0
    assert result["by_day"]["2026-11-21"] == {"conversations": 2, "resolved": 0, "handed_off": 2}
    only_day2 = report(engine, since=date(2026, 11, 21), until=date(2026, 11, 21))
    assert only_day2["conversations"] == 2
    # Retention: everything is older than 2 days; the counts survive the purge.
    assert purge(engine, timedelta(days=2)) == 4
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(db.turns)).scalar_one() == 0
    after = report(engine, until=date(2026, 11, 30))
    assert {k: after[k] for k in EXPECTED} == EXPECTED
    assert after["latency_p50_ms"] is None  # percentiles do not survive: documented
    assert purge(engine, timedelta(days=2)) == 0
    fill(engine)  # the same history again, purged again: aggregates add up
    purge(engine, timedelta(days=2))
    assert report(engine, until=date(2026, 11, 30))["conversations"] == 8
    engine.dispose()


def test_gaps_put_paraphrases_together(sample: Any) -> None:
    embedder = sample[2].embedder
    currency = [
        "how do I change the currency on my invoices",
        "can invoices be in euros instead of dollars",
        "switch invoice currency to EUR",
    ]
    dark = ["is there a dark mode", "can I turn on a dark theme", "night mode for the app?"]
    gaps = cluster(
        [(q, "billing") for q in currency]
        + [(q, "") for q in dark]
        + [("do you have an office in Lisbon", "")],
        embedder,
    )
    assert sorted(sorted(g.questions) for g in gaps[:2]) == sorted([sorted(currency), sorted(dark)])
    assert gaps[2].questions == ["do you have an office in Lisbon"]
    assert {g.product_area for g in gaps[:2]} == {"billing", "general"}


def test_drafts_only_for_what_no_article_covers(sample: Any, tmp_path: Path) -> None:
    from tests.conftest import ROOT

    embedder = sample[2].embedder
    gaps = cluster(
        [
            ('how do I change the currency on my invoices: "EUR"?', "billing"),
            ("switch invoice currency to EUR", "billing"),
            # These exist (payment-declined, sso-login-loop, vat-tax-id): a docs owner tried
            # them and got drafts of articles the KB already has.
            ("my card got declined", "billing"),
            ("credit card was declined when paying", "billing"),
            ("sso login loop", "identity"),
            ("add my VAT number to invoices", "billing"),
        ],
        embedder,
    )
    paths, covered = write_drafts(gaps, tmp_path / "drafts", ROOT / "kb_articles", embedder)
    assert sorted(covered.values()) == ["payment-declined", "sso-login-loop", "vat-tax-id"]
    assert len(paths) == 1
    text = paths[0].read_text()
    assert "owner: billing-team" in text and "switch invoice currency to EUR" in text
    # Nobody reviewed a draft: lint says so until a person fills in the date, and nothing else.
    assert "last_reviewed: TODO" in text
    result = lint_paths(paths, LintOptions(today=date(2026, 11, 24)))
    assert [f.code for f in result.findings if f.severity == "error"] == ["KB008"]


def test_cli_report_json_html_and_purge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from copilot.cli import main

    engine = db.connect(None, tmp_path)
    fill(engine)
    engine.dispose()
    assert main(["report", "--data-dir", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["conversations"] == 4
    assert main(["report", "--data-dir", str(tmp_path), "--since", "2026-11-21"]) == 0
    assert "handoffs for customer_asked" in capsys.readouterr().out
    assert main(["report", "--data-dir", str(tmp_path), "--since", "last week"]) == 2
    assert main(["purge", "--data-dir", str(tmp_path), "--older-than", "soon"]) == 2
    assert main(["purge", "--data-dir", str(tmp_path), "--older-than", "1d"]) == 0
    assert "deleted 4 conversations" in capsys.readouterr().out


@pytest.mark.slow
def test_report_on_the_stackfaq_questions_renders_in_chromium(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A database filled by running every stackfaq dev question through the agent."""
    from copilot.cli import main
    from copilot.evals.dataset import load_dataset
    from copilot.index.build import build_index
    from copilot.index.embed import SentenceTransformerEmbedder, minilm_path
    from copilot.record.conversations import Conversations
    from copilot.service import open_agent
    from copilot.settings import Settings
    from tests.browser import chromium
    from tests.conftest import shared_eval

    stackfaq = shared_eval("stackfaq")
    settings = Settings(kb_dir=stackfaq / "kb", data_dir=tmp_path)
    embedder = SentenceTransformerEmbedder(minilm_path(), "minilm")
    build_index(settings, embedder)
    agent, index = open_agent(settings, embedder=embedder)
    engine = db.connect(None, tmp_path)
    store = Conversations(engine, agent)
    questions = load_dataset(stackfaq / "questions.jsonl")
    with index:
        for q in questions:
            store.chat(q.question)
    engine.dispose()
    html = tmp_path / "report.html"
    assert main(["report", "--data-dir", str(tmp_path), "--html", str(html)]) == 0
    out = capsys.readouterr().out
    assert f"conversations{len(questions):>37}" in out and "self_service_resolution_rate" in out
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(html.as_uri())
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        assert errors == [] and (tmp_path / "report.png").stat().st_size > 20_000
        assert page.locator("svg rect").count() > 3 and page.locator("ol li").count() >= 1


def test_only_weak_matches_are_content_gaps() -> None:
    from copilot.record.gaps import _weak

    assert _weak("no_results", [])
    assert _weak("low_confidence", [{"article_id": "a", "dense": 0.31}])
    assert _weak("low_confidence", [{"article_id": "a"}])  # stored before the cosine was kept
    assert not _weak("low_confidence", [{"article_id": "a", "dense": 0.72}])  # the article exists
    assert not _weak("unavailable", [])  # the service was down, the KB is not to blame
    assert not _weak("llm_failure", [{"article_id": "a", "dense": 0.2}])
