"""`copilot eval --signals FILE`: which article each trigger would show, scored as hit@1.

A signals dataset is JSON Lines, one scenario per line (docs/proactive.md):

    {"id": "sig-001", "events": [{"name": "error_shown", "page": "https://app.flowbench.io/...",
     "props": {"code": "SSO-102"}}], "expected_article": "saml-signature-invalid"}

`events` happen at once, in order (a page_repeat scenario lists its page views); `context` may
give {"account_age_days": N}; `expected_article` is the article a nudge should show. Each line
runs through the configured rules (copilot.toml, or the defaults) exactly as the service runs a
batch: the first nudge rule that fires picks the article. A scenario where no rule fires, or no
article is confident enough, counts as a miss and says so."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from copilot.errors import DatasetError
from copilot.evals.dataset import json_lines
from copilot.proactive.nudges import choose_article
from copilot.proactive.rules import SIGNAL_NAMES, Signal, evaluate
from copilot.proactive.signals import clean_page

if TYPE_CHECKING:
    from copilot.answer.agent import Agent
    from copilot.settings import Settings

PROPS = ("title", "code", "message", "flow", "step", "feature")


@dataclass(frozen=True)
class Scenario:
    id: str
    events: tuple[Signal, ...]
    expected: str
    account_age_days: int | None = None


@dataclass(frozen=True)
class Scored:
    scenario: Scenario
    rule: str | None  # the rule that fired, None when none did
    article: str | None
    how: str  # symptoms | retrieval | no rule fired | not confident


def load_signals(path: Path) -> list[Scenario]:
    """Read a signals dataset; a bad line raises DatasetError naming the file and line."""
    found, seen, at = [], set(), datetime(2026, 1, 1, tzinfo=UTC)
    for _, where, row in json_lines(path, "signals dataset"):
        for key in ("id", "expected_article"):
            if not isinstance(row.get(key), str) or not row[key]:
                raise DatasetError(f'{where}: field "{key}" is required (a string)')
        if row["id"] in seen:
            raise DatasetError(f'{where}: duplicate id "{row["id"]}"')
        seen.add(row["id"])
        events = row.get("events")
        if not isinstance(events, list) or not events:
            raise DatasetError(f'{where}: "events" must be a non-empty list')
        signals = []
        for i, e in enumerate(events):
            if not isinstance(e, dict) or e.get("name") not in SIGNAL_NAMES:
                raise DatasetError(f"{where}: events[{i}].name must be one of {SIGNAL_NAMES}")
            props = e.get("props", {})
            if not isinstance(props, dict) or not all(
                k in PROPS and isinstance(v, str) for k, v in props.items()
            ):
                raise DatasetError(f"{where}: events[{i}].props: only {PROPS}, as strings")
            signals.append(Signal(e["name"], at, clean_page(str(e.get("page", ""))), props))
        age = (row.get("context") or {}).get("account_age_days")
        if age is not None and (not isinstance(age, int) or age < 0):
            raise DatasetError(f"{where}: context.account_age_days must be a whole number >= 0")
        found.append(Scenario(row["id"], tuple(signals), row["expected_article"], age))
    if not found:
        raise DatasetError(f"signals dataset {path} has no scenarios")
    return found


def score_signals(
    agent: Agent, settings: Settings, scenarios: list[Scenario]
) -> tuple[dict[str, Any], list[Scored]]:
    """hit@1 over the scenarios, with how each article was found."""
    scored = []
    for s in scenarios:
        at = s.events[-1].at
        rule = article = None
        how = "no rule fired"
        for r in settings.nudge_rules:
            if r.action != "nudge":
                continue
            trigger = evaluate(r, s.events, s.events, at, account_age_days=s.account_age_days)
            if trigger is None:
                continue
            rule = r.name
            choice = choose_article(trigger, agent, settings.nudge_min_confidence)
            article, how = (choice.article_id, choice.how) if choice else (None, "not confident")
            break
        scored.append(Scored(s, rule, article, how))
    hits = sum(x.article == x.scenario.expected for x in scored)
    result = {
        "scenarios": len(scored),
        "hit_at_1": round(hits / len(scored), 4),
        "hits": hits,
        "found_by": dict(Counter(x.how for x in scored)),
        "misses": [
            {"id": x.scenario.id, "expected": x.scenario.expected, "shown": x.article, "why": x.how}
            for x in scored
            if x.article != x.scenario.expected
        ],
    }
    return result, scored
