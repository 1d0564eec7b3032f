"""Nudge rules: parsing from copilot.toml (errors name the line), each condition and its window,
and the caps that keep nudges rare (copilot/proactive/rules.py, nudges.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from copilot.errors import ConfigError
from copilot.proactive.nudges import held_back
from copilot.proactive.rules import DEFAULT_RULES, NudgeRule, Signal, evaluate
from copilot.proactive.signals import NudgeRow
from copilot.settings import Settings, load_settings

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PAGE = "https://app.example.com/settings/sso"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def view(minutes: float, page: str = PAGE) -> Signal:
    return Signal("page_view", at(minutes), page, {"title": "Single sign-on"})


def step(
    name: str, minutes: float, flow: str = "sso-setup", which: str = "upload-metadata"
) -> Signal:
    return Signal(name, at(minutes), PAGE, {"flow": flow, "step": which})


# --- parsing --------------------------------------------------------------------------------------


def test_rules_load_from_copilot_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "copilot.toml").write_text(
        '[[nudge_rules]]\nname = "billing-revisits"\nwhen = "page_repeat"\npage = "*/billing*"\n'
        "times = 4\nwithin_minutes = 5\n\n"
        '[[nudge_rules]]\nname = "import-stuck"\nwhen = "step_stalled"\nflow = "csv-import"\n'
        'after_minutes = 20\naction = "flag"\n'
    )
    rules = load_settings().nudge_rules
    assert [(r.name, r.when, r.action) for r in rules] == [
        ("billing-revisits", "page_repeat", "nudge"),
        ("import-stuck", "step_stalled", "flag"),
    ]
    assert rules[0].times == 4 and rules[0].within_minutes == 5 and rules[1].after_minutes == 20


def test_defaults_cover_the_issue_examples() -> None:
    assert {r.when for r in Settings().nudge_rules} == {
        "page_repeat",
        "error",
        "step_stalled",
        "feature_unused",
    }


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (
            'name = "a"\nwhen = "page_repeat"\ntimes = 1\n',
            r"copilot\.toml:7: nudge_rules\.1\.times",
        ),
        ('name = "a"\nwhen = "sometimes"\n', r"copilot\.toml:6: nudge_rules\.1\.when"),
        (
            'name = "a"\nwhen = "error"\ncolour = "red"\n',
            r"copilot\.toml:7: nudge_rules\.1\.colour",
        ),
        (
            'name = "a"\nwhen = "feature_unused"\n',
            r"copilot\.toml:4: nudge_rules\.1: .*needs `feature`",
        ),
        ('name = "Has Spaces"\nwhen = "error"\n', r"copilot\.toml:5: nudge_rules\.1\.name"),
    ],
)
def test_a_bad_rule_names_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, where: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "copilot.toml").write_text(
        '[[nudge_rules]]\nname = "ok"\nwhen = "error"\n[[nudge_rules]]\n' + body
    )
    with pytest.raises(ConfigError, match=where):
        load_settings()


def test_rule_names_are_unique() -> None:
    with pytest.raises(ValueError, match="used twice: x"):
        Settings(nudge_rules=[NudgeRule(name="x", when="error"), NudgeRule(name="x", when="error")])


# --- conditions -----------------------------------------------------------------------------------


def test_page_repeat_fires_on_the_nth_visit_within_the_window() -> None:
    rule = NudgeRule(name="r", when="page_repeat", times=3, within_minutes=10)
    history = [view(0), view(4)]
    assert evaluate(rule, [view(5)], history, at(5)) is None  # only the stored history counts
    third = view(8)
    fired = evaluate(rule, [third], [*history, third], at(8))
    assert fired is not None and fired.page == PAGE and fired.query == "Single sign-on"
    assert "opened this page a few times" in fired.reason


def test_page_repeat_ignores_visits_outside_the_window_and_other_pages() -> None:
    rule = NudgeRule(name="r", when="page_repeat", times=3, within_minutes=10)
    late = view(12)
    assert evaluate(rule, [late], [view(0), view(1), late], at(12)) is None  # 0 and 1 too old
    other = view(3, "https://app.example.com/billing")
    assert evaluate(rule, [other], [view(1), view(2), other], at(3)) is None
    glob = NudgeRule(name="g", when="page_repeat", page="*/billing*", times=2)
    again = view(3)
    assert evaluate(glob, [again], [view(1), again], at(3)) is None  # not a page it covers


def test_error_matches_code_glob_or_message() -> None:
    shown = Signal("error_shown", at(0), PAGE, {"code": "SSO-102", "message": "SAML error"})
    fired = evaluate(NudgeRule(name="e", when="error"), [shown], [shown], at(0))
    assert fired is not None and fired.code == "SSO-102" and "SSO-102" in fired.reason
    assert evaluate(NudgeRule(name="e", when="error", code="sso-*"), [shown], [], at(0))
    assert evaluate(NudgeRule(name="e", when="error", code="API-*"), [shown], [], at(0)) is None
    bare = Signal("error_shown", at(0), PAGE, {"message": "Export timed out"})
    fired = evaluate(NudgeRule(name="e", when="error", code="*timed out*"), [bare], [], at(0))
    assert fired is not None and fired.message == "Export timed out" and fired.code == ""
    empty = Signal("error_shown", at(0), PAGE, {})
    assert evaluate(NudgeRule(name="e", when="error"), [empty], [], at(0)) is None


def test_step_stalled_waits_for_t_and_stops_at_completion() -> None:
    rule = NudgeRule(name="s", when="step_stalled", flow="sso-*", after_minutes=15)
    started = step("step_started", 0)
    ping = view(10)
    assert evaluate(rule, [ping], [started, ping], at(10)) is None  # not yet T
    later = view(16)
    fired = evaluate(rule, [later], [started, later], at(16))
    assert fired is not None and "sso-setup: upload-metadata" in fired.reason
    done = step("step_completed", 12)
    assert evaluate(rule, [later], [started, done, later], at(16)) is None
    other = NudgeRule(name="s", when="step_stalled", flow="csv-*", after_minutes=15)
    assert evaluate(other, [later], [started, later], at(16)) is None
    stale = view(60 * 25)  # a start more than a day old is left alone
    assert evaluate(rule, [stale], [started, stale], at(60 * 25)) is None


def test_step_abandoned_fires_at_once() -> None:
    rule = NudgeRule(name="s", when="step_stalled", after_minutes=60)
    gone = step("step_abandoned", 1)
    assert evaluate(rule, [gone], [step("step_started", 0), gone], at(1)) is not None


def test_feature_unused_by_day_d() -> None:
    rule = NudgeRule(name="f", when="feature_unused", feature="sso", by_day=14)
    page = view(0)
    assert evaluate(rule, [page], [page], at(0), account_age_days=13) is None
    assert evaluate(rule, [page], [page], at(0)) is None  # no age given: never
    fired = evaluate(rule, [page], [page], at(0), account_age_days=14)
    assert fired is not None and "haven't tried sso" in fired.reason
    used = frozenset({"sso"})
    assert evaluate(rule, [page], [page], at(0), account_age_days=30, features_used=used) is None
    feature = Signal("feature_used", at(0), PAGE, {"feature": "export"})
    assert evaluate(rule, [feature], [feature], at(0), account_age_days=30) is None  # no view


# --- caps -----------------------------------------------------------------------------------------

RULE = DEFAULT_RULES[0]


def shown(hours_ago: float, rule: str = RULE.name, dismissed: float | None = None) -> NudgeRow:
    moment = T0 - timedelta(hours=hours_ago)
    gone = T0 - timedelta(hours=dismissed) if dismissed is not None else None
    return NudgeRow("id", moment, rule, "nudge", "a", gone)


def test_caps_per_user_per_day_per_rule_per_week_and_snooze() -> None:
    settings = Settings(nudges_per_day=2, nudges_per_rule_per_week=1, nudge_snooze_hours=24)
    assert held_back(RULE, [], T0, settings) is None
    assert held_back(RULE, [shown(2, "other")], T0, settings) is None
    assert held_back(RULE, [shown(2, "other"), shown(3, "third")], T0, settings) == (
        "the per-user daily cap"
    )
    assert held_back(RULE, [shown(25, "other"), shown(26, "third")], T0, settings) is None
    assert held_back(RULE, [shown(24 * 6)], T0, settings) == "the per-rule weekly cap"
    assert held_back(RULE, [shown(24 * 8)], T0, settings) is None
    snoozed = [shown(30, "other", dismissed=5)]
    assert held_back(RULE, snoozed, T0, settings) == "snoozed after a dismissal"
    assert held_back(RULE, [shown(30, "other", dismissed=25)], T0, settings) is None
    flags = [NudgeRow("f", T0, RULE.name, "flag", None, None)] * 5
    assert held_back(RULE, flags, T0, settings) is None  # quiet flags never count
