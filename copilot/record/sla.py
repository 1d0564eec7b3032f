"""Priority and first-response SLAs from the rule table a support lead writes in `copilot.toml`
(`[[sla_rules]]`, docs/console.md). Rules are read top to bottom and the first whose conditions
all hold decides the handoff's priority and its first-response due time; a rule with no
conditions matches everything, so the table usually ends with one.

Conditions: `reason`, `plan`, `product_area` (lists, any of), `frustrated` and `asked_for_person`
(true/false, read from what the customer wrote), and `context` (the values the host page sends,
e.g. `health_score = "< 50"`, `renewal_date = "<= today+30d"`, `account_tier = "gold"`). They
are validated when the settings load, so a typo is an error naming its line, not a rule that
silently never matches. Rules are evaluated again when the conversation changes (the customer
asks for a person, says "urgent"): copilot/record/handoffs.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from copilot.types import HandoffReason

FRUSTRATION = re.compile(
    r"still (?:not|doesn'?t|broken)|not working|urgent|asap|right now|!!|unacceptable|"
    r"frustrat|angry|ridiculous|cancel my",
    re.I,
)
# The same words the agent hands off on (copilot/answer/agent.py WANTS_HUMAN), looser: here a
# request anywhere in a message counts, since nothing is decided by it but the priority.
ASKS_FOR_PERSON = re.compile(
    r"\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:a\s+)?(?:human|person|someone|agent|support)\b"
    r"|\b(?:real person|live agent|representative|human being)\b",
    re.I,
)
DURATION = re.compile(r"^\s*(\d+)\s*(m|h|d)\s*$")
UNITS = {"m": "minutes", "h": "hours", "d": "days"}
COMPARISON = re.compile(r"^\s*(<=|>=|!=|<|>|=)?\s*(.+?)\s*$")
RELATIVE_DAY = re.compile(r"^today(?:\s*([+-])\s*(\d+)\s*d)?$", re.I)
REASONS = frozenset(get_args(HandoffReason))


def parse_duration(text: str) -> timedelta:
    """ "30m", "2h", "1d" -> a timedelta; ValueError naming the forms otherwise."""
    match = DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f'{text!r} is not a duration: write e.g. "30m", "2h" or "1d"')
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True)
class Comparison:
    """One context condition: `op` against a number, a day (absolute or relative to today) or,
    for = and != only, a word (compared case-insensitively)."""

    op: str
    number: float | None = None
    day: str | None = None  # "2026-12-01" or "today+30d"
    word: str | None = None

    @classmethod
    def parse(cls, text: str) -> Comparison:
        match = COMPARISON.match(str(text))
        if not match:
            raise ValueError("an empty condition")
        op, value = match.group(1) or "=", match.group(2)
        try:
            return cls(op, number=float(value))
        except ValueError:
            pass
        if RELATIVE_DAY.match(value) or re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            if not RELATIVE_DAY.match(value):
                date.fromisoformat(value)  # "2026-13-01" is an error here, not at run time
            return cls(op, day=value.lower().replace(" ", ""))
        if op not in ("=", "!="):
            raise ValueError(
                f"{text!r}: {op} needs a number, a date (2026-12-01) or today±Nd, not a word"
            )
        return cls(op, word=value.lower())

    def holds(self, value: Any, today: date) -> bool:
        if value is None or value == "":
            return False  # a value the page did not send never matches (not even !=)
        if self.word is not None:
            same = str(value).strip().lower() == self.word
            return same if self.op == "=" else not same
        try:
            if self.number is not None:
                left, right = float(value), self.number
            else:
                left, right = date.fromisoformat(str(value)[:10]), self._day(today)  # type: ignore[assignment]
        except ValueError:
            return False  # "n/a" for a score: the condition cannot hold
        return _compare(left, self.op, right)

    def _day(self, today: date) -> date:
        assert self.day is not None
        relative = RELATIVE_DAY.match(self.day)
        if not relative:
            return date.fromisoformat(self.day)
        days = int(relative.group(2) or 0) * (-1 if relative.group(1) == "-" else 1)
        return today + timedelta(days=days)


def _compare(left: Any, op: str, right: Any) -> bool:
    return bool(
        {
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
            "=": left == right,
            "!=": left != right,
        }[op]
    )


class SlaRule(BaseModel):
    """One row of the rule table: conditions (all must hold; an absent one always does) ->
    a priority (higher is more urgent) and a first-response time."""

    model_config = ConfigDict(extra="forbid", frozen=True)  # a misspelt condition is an error

    name: str = Field(min_length=1, max_length=100)
    reason: list[str] = []
    plan: list[str] = []
    product_area: list[str] = []
    frustrated: bool | None = None
    asked_for_person: bool | None = None
    context: dict[str, str] = {}
    priority: int = Field(ge=0, le=100)
    first_response: str

    @field_validator("reason")
    @classmethod
    def _reasons(cls, reasons: list[str]) -> list[str]:
        if unknown := sorted(set(reasons) - REASONS):
            raise ValueError(
                f"unknown reason {', '.join(unknown)}: one of {', '.join(sorted(REASONS))}"
            )
        return reasons

    @field_validator("first_response")
    @classmethod
    def _duration(cls, text: str) -> str:
        parse_duration(text)
        return text

    @field_validator("context")
    @classmethod
    def _conditions(cls, conditions: dict[str, str]) -> dict[str, str]:
        for key, text in conditions.items():
            try:
                Comparison.parse(text)
            except ValueError as exc:
                raise ValueError(f"context.{key}: {exc}") from None
        return conditions

    @property
    def window(self) -> timedelta:
        return parse_duration(self.first_response)


def _rule(**fields: Any) -> SlaRule:
    return SlaRule(**fields)


# Common practice when a lead has written nothing: unhappy big accounts first, people who asked
# for a person soon, an overdue onboarding milestone within a day, everyone within a day.
DEFAULT_SLA_RULES: tuple[SlaRule, ...] = (
    _rule(
        name="unhappy enterprise account",
        plan=["enterprise"],
        frustrated=True,
        priority=6,
        first_response="2h",
    ),
    _rule(
        name="account at risk",
        context={"health_score": "< 40"},
        priority=5,
        first_response="4h",
    ),
    _rule(name="enterprise", plan=["enterprise"], priority=4, first_response="4h"),
    _rule(
        name="asked for a person",
        asked_for_person=True,
        priority=3,
        first_response="8h",
    ),
    _rule(name="frustrated", frustrated=True, priority=3, first_response="8h"),
    _rule(
        name="onboarding milestone overdue",
        context={"onboarding_due": "< today"},
        priority=2,
        first_response="24h",
    ),
    _rule(name="business", plan=["business"], priority=2, first_response="12h"),
    _rule(name="everyone else", priority=1, first_response="24h"),
)
FALLBACK = _rule(name="(no rule matched)", priority=0, first_response="24h")


@dataclass(frozen=True)
class Facts:
    """What the rules read about a handoff."""

    reason: str
    plan: str
    product_area: str
    frustrated: bool
    asked_for_person: bool
    context: Mapping[str, Any]


def facts(
    reason: str,
    customer_says: Sequence[str],
    context: Mapping[str, Any],
    product_area: str,
) -> Facts:
    words = "\n".join(customer_says)
    values = {**context, **(context.get("attributes") or {})}
    return Facts(
        reason=reason,
        plan=str(context.get("plan") or ""),
        product_area=product_area,
        frustrated=FRUSTRATION.search(words) is not None,
        asked_for_person=reason == "customer_asked" or ASKS_FOR_PERSON.search(words) is not None,
        context=values,
    )


def matches(rule: SlaRule, f: Facts, today: date) -> bool:
    def any_of(allowed: list[str], value: str) -> bool:
        return not allowed or value.lower() in {a.lower() for a in allowed}

    return (
        any_of(rule.reason, f.reason)
        and any_of(rule.plan, f.plan)
        and any_of(rule.product_area, f.product_area)
        and rule.frustrated in (None, f.frustrated)
        and rule.asked_for_person in (None, f.asked_for_person)
        and all(
            Comparison.parse(text).holds(f.context.get(key), today)
            for key, text in rule.context.items()
        )
    )


@dataclass(frozen=True)
class Verdict:
    rule: str
    priority: int
    due_at: datetime


def evaluate(rules: Sequence[SlaRule], f: Facts, opened_at: datetime) -> Verdict:
    """The first rule that matches decides; the due time counts from when the handoff opened."""
    rule = next((r for r in rules if matches(r, f, opened_at.date())), FALLBACK)
    return Verdict(rule.name, rule.priority, opened_at + rule.window)
