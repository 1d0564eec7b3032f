"""The SLA rule table (issue 18): parsed and validated at start with errors naming the
copilot.toml line, each condition type, first match wins, and rules read again when the
conversation changes (the customer says "urgent", asks for a person). The service runs without an
index, so every customer message is handed off ("unavailable") and no model is loaded."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from copilot.errors import ConfigError
from copilot.record import db, sla
from copilot.record.conversations import Conversations
from copilot.settings import load_settings
from copilot.types import CustomerContext

TODAY = date(2026, 12, 2)
OPENED = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)

TABLE = """\
link_hosts = ["example.com"]

[[sla_rules]]
name = "unhappy enterprise"
plan = ["enterprise"]
frustrated = true
priority = 6
first_response = "2h"

[[sla_rules]]
name = "renewal soon"
context = { renewal_date = "<= today+30d", account_tier = "gold" }
priority = 5
first_response = "{window}"

[[sla_rules]]
name = "everyone"
priority = 1
first_response = "24h"
"""


def _load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> list[sla.SlaRule]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "copilot.toml").write_text(text)
    return load_settings().sla_rules


def test_a_rule_table_loads_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = _load(tmp_path, monkeypatch, TABLE.replace("{window}", "4h"))
    assert [r.name for r in rules] == ["unhappy enterprise", "renewal soon", "everyone"]
    assert rules[1].window == timedelta(hours=4)


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "says"),
    [
        ('"{window}"', '"soon"', 14, "sla_rules.1.first_response", '"30m", "2h" or "1d"'),
        ('"{window}"', '"4h"\nwithin = "2h"', 15, "sla_rules.1.within", "Extra inputs"),
        ('"{window}"', '"4h"\nreason = ["angry"]', 15, "sla_rules.1.reason", "unknown reason"),
        ('"<= today+30d"', '"<= soon"', 12, "sla_rules.1.context", "needs a number, a date"),
        ("priority = 5\n", "priority = 500\n", 13, "sla_rules.1.priority", "less than or equal"),
    ],
)
def test_a_bad_rule_names_its_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    old: str,
    new: str,
    line: int,
    field: str,
    says: str,
) -> None:
    text = TABLE.replace(old, new).replace("{window}", "4h")
    with pytest.raises(ConfigError, match=rf"copilot\.toml:{line}: {field}") as err:
        _load(tmp_path, monkeypatch, text)
    assert says in str(err.value)


def _facts(**kw: object) -> sla.Facts:
    base: dict[str, object] = {
        "reason": "low_confidence",
        "plan": "",
        "product_area": "",
        "frustrated": False,
        "asked_for_person": False,
        "context": {},
    }
    return sla.Facts(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("condition", "holds", "fails"),
    [
        ({"reason": ["customer_asked"]}, {"reason": "customer_asked"}, {"reason": "no_results"}),
        ({"plan": ["Enterprise"]}, {"plan": "enterprise"}, {"plan": "business"}),
        ({"product_area": ["billing"]}, {"product_area": "billing"}, {"product_area": "sso"}),
        ({"frustrated": True}, {"frustrated": True}, {"frustrated": False}),
        ({"asked_for_person": True}, {"asked_for_person": True}, {}),
        ({"context": {"health_score": "< 40"}}, {"context": {"health_score": "35"}}, {}),
        (
            {"context": {"health_score": "< 40"}},
            {"context": {"health_score": 12.5}},
            {"context": {"health_score": "n/a"}},
        ),
        (
            {"context": {"renewal_date": "<= today+30d"}},
            {"context": {"renewal_date": "2026-12-20"}},
            {"context": {"renewal_date": "2027-03-01"}},
        ),
        (
            {"context": {"onboarding_due": "< today"}},
            {"context": {"onboarding_due": "2026-11-30"}},
            {"context": {"onboarding_due": "2026-12-02"}},
        ),
        (
            {"context": {"account_tier": "gold"}},
            {"context": {"account_tier": "Gold"}},
            {"context": {"account_tier": "silver"}},
        ),
        (
            {"context": {"account_tier": "!= free"}},
            {"context": {"account_tier": "pro"}},
            {"context": {"account_tier": ""}},  # a value not sent never matches
        ),
    ],
)
def test_each_condition_type(
    condition: dict[str, object], holds: dict[str, object], fails: dict[str, object]
) -> None:
    rule = sla.SlaRule(name="r", priority=3, first_response="1h", **condition)  # type: ignore[arg-type]
    assert sla.matches(rule, _facts(**holds), TODAY)
    assert not sla.matches(rule, _facts(**fails), TODAY)


def test_the_first_matching_rule_decides_and_due_counts_from_opening() -> None:
    rules = sla.DEFAULT_SLA_RULES
    angry_big = sla.facts(
        "low_confidence", ["this is still not working!!"], {"plan": "Enterprise"}, ""
    )
    verdict = sla.evaluate(rules, angry_big, OPENED)
    assert (verdict.rule, verdict.priority) == ("unhappy enterprise account", 6)
    assert verdict.due_at == OPENED + timedelta(hours=2)
    overdue = sla.facts(
        "no_results", ["how do I start"], {"attributes": {"onboarding_due": "2026-11-01"}}, ""
    )
    assert sla.evaluate(rules, overdue, OPENED).rule == "onboarding milestone overdue"
    calm = sla.facts("no_results", ["how do I export"], {"plan": ""}, "")
    assert sla.evaluate(rules, calm, OPENED).due_at == OPENED + timedelta(hours=24)
    assert sla.evaluate([], calm, OPENED).rule == "(no rule matched)"


def test_rules_are_read_again_when_the_customer_writes(tmp_path: Path) -> None:
    engine = db.connect(None, tmp_path)
    store = Conversations(engine, None)  # no index: every message is handed off
    first = store.chat("where do I change my logo?", context=CustomerContext(plan="business"))
    assert first.handoff_id is not None

    def state() -> tuple[int, str, datetime]:
        with engine.connect() as conn:
            row = conn.execute(
                select(db.handoffs).where(db.handoffs.c.id == first.handoff_id)
            ).one()
        return row.priority, row.sla_rule, db.aware(row.due_at)

    priority, rule, due = state()
    assert (priority, rule) == (2, "business")
    store.chat("this is urgent", first.conversation_id, first.token)
    priority, rule, sooner = state()
    assert (priority, rule) == (3, "frustrated") and sooner < due
    # Asking for a person again is one more change; a rule for it would move the ticket too.
    store.sla_rules = [
        sla.SlaRule(name="wants a human", asked_for_person=True, priority=9, first_response="30m"),
        *store.sla_rules,
    ]
    store.request_handoff(first.conversation_id, first.token)
    assert state()[:2] == (9, "wants a human")
    with engine.connect() as conn:
        actions = conn.execute(
            select(db.handoff_events.c.action, db.handoff_events.c.detail).where(
                db.handoff_events.c.handoff_id == first.handoff_id
            )
        ).all()
    changes = [d for a, d in actions if a == "reprioritized"]
    assert [c["rule"] for c in changes] == ["frustrated", "wants a human"]
    assert changes[0]["was"] == 2
    engine.dispose()
