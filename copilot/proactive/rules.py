"""Nudge rules a support lead writes in `copilot.toml` (`[[nudge_rules]]`), and their evaluation
over a customer's recent signals. Pure: no storage, no clock of its own (callers pass `now`), so
each condition and window is unit-tested on plain lists (tests/test_nudge_rules.py).

A rule is one condition and one action:
- `page_repeat`: the same page (URL glob `page`) opened `times` times within `within_minutes`;
- `error`: an error shown whose code (or message, when it has no code) matches the glob `code`;
- `step_stalled`: a step of a flow started and not completed within `after_minutes` (or reported
  abandoned by the page);
- `feature_unused`: the account is `by_day` days old or more (context `account_age_days`) and
  nobody in it has used `feature`.
The action is a `nudge` (an article by the launcher) or a `flag` (a quiet "struggling" marker
for agents and the report)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SignalName = Literal[
    "page_view", "error_shown", "step_started", "step_completed", "step_abandoned", "feature_used"
]
SIGNAL_NAMES: tuple[str, ...] = SignalName.__args__  # type: ignore[attr-defined]
Condition = Literal["page_repeat", "error", "step_stalled", "feature_unused"]


class NudgeRule(BaseModel):
    """One `[[nudge_rules]]` table. Globs are shell-style (`*`, `?`), case-insensitive."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$", description="unique, for reports")
    when: Condition
    action: Literal["nudge", "flag"] = "nudge"
    page: str = Field(
        default="*", max_length=500, description="URL glob: the rule applies on these pages"
    )
    times: int = Field(default=3, ge=2, le=100, description="page_repeat: visits within the window")
    within_minutes: float = Field(
        default=10, gt=0, le=24 * 60, description="page_repeat: the window"
    )
    code: str = Field(
        default="*", max_length=200, description="error: glob over the code or message"
    )
    flow: str = Field(default="*", max_length=200, description="step_stalled: glob over the flow")
    step: str = Field(default="*", max_length=200, description="step_stalled: glob over the step")
    after_minutes: float = Field(default=15, gt=0, le=7 * 24 * 60, description="step_stalled: T")
    feature: str = Field(
        default="", max_length=200, description="feature_unused: the feature's name"
    )
    by_day: int = Field(
        default=14, ge=0, le=3650, description="feature_unused: account age in days"
    )
    topic: str = Field(default="", max_length=200, description="words added to the article search")

    @model_validator(mode="after")
    def _complete(self) -> NudgeRule:
        if self.when == "feature_unused" and not self.feature:
            raise ValueError(f'rule "{self.name}": when = "feature_unused" needs `feature`')
        return self


# The examples, used when copilot.toml has no [[nudge_rules]].
DEFAULT_RULES: list[NudgeRule] = [
    NudgeRule(name="page-revisits", when="page_repeat", times=3, within_minutes=10),
    NudgeRule(name="error-shown", when="error"),
    NudgeRule(name="setup-stalled", when="step_stalled", after_minutes=15),
    NudgeRule(name="sso-unused", when="feature_unused", feature="sso", by_day=14, action="flag"),
]


@dataclass(frozen=True)
class Signal:
    """One event from the host page, as stored: `page` without query or fragment, `props` the
    few named strings the event API allows (title, code, message, flow, step, feature)."""

    name: str
    at: datetime
    page: str = ""
    props: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Trigger:
    """A rule that fired: `reason` is the neutral copy shown to the customer, `code`/`message`
    the error to match against Symptoms, `query` the words for retrieval."""

    rule: NudgeRule
    reason: str
    page: str
    query: str
    code: str = ""
    message: str = ""


def _glob(value: str, pattern: str) -> bool:
    return fnmatchcase(value.lower(), pattern.lower())


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def evaluate(
    rule: NudgeRule,
    new: Sequence[Signal],
    history: Sequence[Signal],
    now: datetime,
    *,
    account_age_days: int | None = None,
    features_used: frozenset[str] = frozenset(),
) -> Trigger | None:
    """Whether `rule` fires on the batch `new`, given the subject's `history` (stored signals,
    `new` included). Only signals in `new` can fire a rule, so one old event never fires twice
    on its own; caps (nudges.py) keep a rule that keeps firing quiet."""
    if rule.when == "page_repeat":
        for s in reversed(new):
            if s.name != "page_view" or not _glob(s.page, rule.page):
                continue
            since = now - timedelta(minutes=rule.within_minutes)
            visits = [
                h for h in history if h.name == "page_view" and h.page == s.page and h.at >= since
            ]
            if len(visits) >= rule.times:
                words = s.props.get("title", "") or s.page.rsplit("/", 1)[-1]
                return Trigger(rule, "You've opened this page a few times.", s.page, words)
        return None
    if rule.when == "error":
        for s in reversed(new):
            if s.name != "error_shown" or not _glob(s.page, rule.page):
                continue
            code, message = s.props.get("code", ""), s.props.get("message", "")
            if (code or message) and _glob(code or message, rule.code):
                shown = f"An error came up: {_short(code or message)}."
                return Trigger(rule, shown, s.page, f"{code} {message}".strip(), code, message)
        return None
    if rule.when == "step_stalled":
        return _stalled(rule, new, history, now)
    # feature_unused: checked once per page view, for accounts old enough.
    if account_age_days is None or account_age_days < rule.by_day:
        return None
    if rule.feature.lower() in features_used:
        return None
    view = next((s for s in reversed(new) if s.name == "page_view"), None)
    if view is None or not _glob(view.page, rule.page):
        return None
    reason = f"You haven't tried {_short(rule.feature, 40)} yet."
    return Trigger(rule, reason, view.page, f"set up {rule.feature}")


def _stalled(
    rule: NudgeRule, new: Sequence[Signal], history: Sequence[Signal], now: datetime
) -> Trigger | None:
    def matches(s: Signal) -> bool:
        return _glob(s.props.get("flow", ""), rule.flow) and _glob(
            s.props.get("step", ""), rule.step
        )

    def trigger(s: Signal) -> Trigger:
        flow, step = s.props.get("flow", ""), s.props.get("step", "")
        what = _short(f"{flow}: {step}" if step else flow, 50)
        reason = f"You started “{what}” and haven't finished it yet."
        return Trigger(rule, reason, s.page, f"{flow} {step}".strip())

    for s in reversed(new):
        if s.name == "step_abandoned" and matches(s) and _glob(s.page, rule.page):
            return trigger(s)
    if not new:
        return None
    # A start older than T with no completion (or abandonment already reported) after it; starts
    # older than a day are left alone: that customer has moved on.
    due, oldest = now - timedelta(minutes=rule.after_minutes), now - timedelta(days=1)
    for s in sorted(history, key=lambda h: h.at, reverse=True):
        if s.name != "step_started" or not matches(s) or not oldest <= s.at <= due:
            continue
        key = (s.props.get("flow", ""), s.props.get("step", ""))
        ended = any(
            h.name in ("step_completed", "step_abandoned")
            and (h.props.get("flow", ""), h.props.get("step", "")) == key
            and h.at >= s.at
            for h in history
        )
        if not ended and _glob(s.page, rule.page):
            return trigger(s)
    return None
