"""The proactive section of `copilot report`: nudge outcomes, a handoff within 30 minutes,
struggles by area, page and account, the adoption report, and its text, JSON and HTML forms."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from copilot.proactive.report import html_section, proactive_report
from copilot.proactive.rules import Signal
from copilot.proactive.signals import SignalStore, subject_key
from copilot.record import db

T0 = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
PAGE = "https://app.example.com/settings/sso"


def fill(engine: sa.Engine) -> None:
    """acme: three nudges (one opened and helpful, one opened then a handoff 10 minutes later,
    one dismissed), a flag and a nudge held back; globex: one nudge opened, its handoff 2 hours
    later (not "followed"); initech: a ticket and no struggle."""
    store = SignalStore(engine)
    who = subject_key("anon-0123456789")

    def nudge(account: str, minutes: float, area: str = "sso", **kw: object) -> None:
        store.add_nudge(
            at=T0 + timedelta(minutes=minutes),
            subject=who,
            account=account,
            rule="page-revisits",
            action=kw.pop("action", "nudge"),
            page=PAGE,
            product_area=area,
            **{"article_id": "sso-login-loop", **kw},
        )

    opened = T0 + timedelta(minutes=1)
    nudge("acme", 0, opened_at=opened, feedback="helpful")
    nudge("acme", 60, opened_at=opened + timedelta(hours=1))
    nudge("acme", 120, area="billing", dismissed_at=T0 + timedelta(hours=2))
    nudge("acme", 130, action="flag", article_id=None)
    nudge("acme", 140, action="held", article_id=None)  # a nudge rule the caps held back
    nudge("globex", 0, opened_at=opened)
    store.add(
        who, "acme", [Signal("page_view", T0, PAGE), Signal("error_shown", T0, PAGE)], ["", ""]
    )
    with engine.begin() as conn:
        for cid, account, minutes in (
            ("c1", "acme", 70),
            ("c2", "globex", 120),
            ("c3", "initech", 5),
        ):
            when = T0 + timedelta(minutes=minutes)
            conn.execute(
                db.conversations.insert().values(
                    id=cid, token_hash="x", created_at=when, updated_at=when,
                    context={"workspace": account},
                )
            )  # fmt: skip
            conn.execute(
                db.handoffs.insert().values(
                    id=f"h-{cid}", conversation_id=cid, reason="customer_asked", packet={},
                    created_at=when,
                )
            )  # fmt: skip


def test_outcomes_struggles_and_adoption_by_account(tmp_path: Path) -> None:
    engine = db.connect(None, tmp_path)
    fill(engine)
    result = proactive_report(engine, None, T0 + timedelta(days=1))
    assert result["nudges"] == {
        "shown": 4,
        "opened": 3,
        "helpful": 1,
        "unhelpful": 0,
        "dismissed": 1,
        "followed_by_handoff": 1,  # acme's second nudge; globex's handoff came 2 hours later
    }
    assert result["signals"] == {"page_view": 1, "error_shown": 1}
    assert result["struggles_by_product_area"] == {"sso": 5, "billing": 1}
    assert result["struggles_by_page"] == {PAGE: 6}
    assert result["adoption_by_account"]["acme"] == {
        "struggles": 5,
        "flags": 1,
        "nudges": 3,
        "opened": 2,
        "resolved_without_ticket": 1,
        "tickets": 1,
    }
    assert result["adoption_by_account"]["globex"]["resolved_without_ticket"] == 1
    assert result["adoption_by_account"]["initech"] == {
        "struggles": 0,
        "flags": 0,
        "nudges": 0,
        "opened": 0,
        "resolved_without_ticket": 0,
        "tickets": 1,
    }
    later = proactive_report(engine, T0 + timedelta(days=1), T0 + timedelta(days=2))
    assert later["nudges"]["shown"] == 0 and later["adoption_by_account"] == {}
    html = html_section(result)
    assert "<svg" in html and "Adoption by account" in html and "<td>acme</td>" in html
    engine.dispose()


def test_report_html_escapes_stored_text(tmp_path: Path) -> None:
    engine = db.connect(None, tmp_path)
    SignalStore(engine).add_nudge(
        at=T0, subject="s", account="<script>x</script>", rule="r", action="flag", page="<b>"
    )
    html = html_section(proactive_report(engine, None, T0 + timedelta(days=1)))
    assert "<script>x" not in html and "&lt;script&gt;" in html and "<b>" not in html
    engine.dispose()


def test_cli_report_has_the_proactive_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from copilot.cli import main

    engine = db.connect(None, tmp_path)
    fill(engine)
    engine.dispose()
    assert main(["report", "--data-dir", str(tmp_path), "--json"]) == 0
    section = json.loads(capsys.readouterr().out)["proactive"]
    assert section["nudges"]["shown"] == 4
    assert main(["report", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "proactive help: shown 4, opened 3" in out
    assert "account acme" in out and "resolved without a ticket 1, tickets 1" in out
    page = tmp_path / "report.html"
    assert main(["report", "--data-dir", str(tmp_path), "--html", str(page)]) == 0
    html = page.read_text()
    assert "Proactive help: nudges" in html and 'aria-label="struggles by product area"' in html
    assert "<td>globex</td>" in html
