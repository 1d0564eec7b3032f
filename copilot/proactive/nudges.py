"""From a batch of signals to (at most) one nudge: store the batch redacted, run the rules in the
order copilot.toml lists them, keep what the caps allow, and pick the article.

The article: an error code or message the page showed is looked up in the articles' Symptoms
first (an exact match beats any fuzzy one: the article was written for that very error); else
the page's product area and the signal's words go through the normal retrieval, and the nudge is
shown only when its confidence reaches `nudge_min_confidence` (default: the calibrated clarify
threshold: a nudge suggests, it does not answer)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from copilot.answer.agent import area_for_page
from copilot.answer.compose import extractive_answer
from copilot.errors import NotFound
from copilot.proactive.rules import NudgeRule, Signal, Trigger, evaluate
from copilot.proactive.signals import NudgeRow, SignalStore, clean_page, subject_key
from copilot.record.schema import now as utcnow
from copilot.safety.redact import redact
from copilot.types import Hit

if TYPE_CHECKING:
    from copilot.answer.agent import Agent
    from copilot.answer.catalog import Catalog
    from copilot.settings import Settings

HISTORY = timedelta(days=1)  # the longest window a rule looks back over (step_stalled)
WEEK = timedelta(days=7)
MIN_NEEDLE = 3  # shorter codes match too much


@dataclass(frozen=True)
class Batch:
    """What one POST /v1/signals carries, validated at the edge."""

    subject: str  # the user id, or the widget's anonymous session id
    events: tuple[Signal, ...]
    account: str = ""
    account_age_days: int | None = None
    tips: bool = True  # False: the customer switched tips off (flags still count)


@dataclass(frozen=True)
class Choice:
    article_id: str
    title: str
    product_area: str
    how: str  # "symptoms" or "retrieval"
    confidence: float


@dataclass(frozen=True)
class Nudge:
    id: str
    rule: str
    article_id: str
    title: str
    headline: str  # "Stuck on sso? This might help:"
    reason: str  # what triggered it, in neutral words
    snooze_hours: float


@dataclass
class Outcome:
    nudge: Nudge | None = None
    flags: list[str] = field(default_factory=list)
    why_not: list[str] = field(default_factory=list)  # rules that fired but were held back


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[\"'“”‘’.,:;!?()]+", " ", text.lower()).split())


def symptoms_match(catalog: Catalog, code: str, message: str, area: str | None) -> str | None:
    """The customer article whose Symptoms contain the error `code` (as a whole token), else the
    one whose Symptoms contain the `message` (or quote part of it); in the page's area first."""
    ids = sorted(catalog.ids, key=lambda a: (catalog[a].product_area != area, a))
    ids = [a for a in ids if catalog.visible(a, "customer")]
    symptoms = {a: catalog.sections(a).get("Symptoms", "") for a in ids}
    if len(code.strip()) >= MIN_NEEDLE:
        token = re.compile(rf"(?<![\w-]){re.escape(code.strip())}(?![\w-])", re.IGNORECASE)
        if found := next((a for a in ids if token.search(symptoms[a])), None):
            return found
    said = _norm(message)
    if len(said) >= 12:
        for a in ids:
            text = _norm(symptoms[a])
            quoted = [_norm(q) for q in re.findall(r"[\"“]([^\"”]{12,})[\"”]", symptoms[a])]
            if said in text or any(q and q in said for q in quoted):
                return a
    return None


def choose_article(
    trigger: Trigger, agent: Agent, min_confidence: float | None = None
) -> Choice | None:
    """The best customer article for a trigger, or None when nothing is confident enough."""
    catalog = agent.retriever.catalog
    area = area_for_page(trigger.page, agent.page_areas)
    found = symptoms_match(catalog, trigger.code, trigger.message, area)
    if found is not None:
        entry = catalog[found]
        return Choice(found, entry.title, entry.product_area, "symptoms", 1.0)
    query = " ".join(w for w in (trigger.rule.topic, area or "", trigger.query) if w)
    if not query.strip():
        return None
    ranking = agent.retriever.rank(query, "customer", prefer_area=area)
    if not ranking.hits:
        return None
    confidence = agent.model.confidence(ranking.signals).value
    floor = agent.model.clarify_threshold if min_confidence is None else min_confidence
    if confidence < floor:
        return None
    top = ranking.hits[0]
    return Choice(top.article_id, top.title, top.product_area, "retrieval", confidence)


def held_back(
    rule: NudgeRule, past: Sequence[NudgeRow], at: datetime, settings: Settings
) -> str | None:
    """Why the caps keep a nudge for `rule` from showing now; None when it may show."""
    shown = [n for n in past if n.action == "nudge"]
    snooze = timedelta(hours=settings.nudge_snooze_hours)
    if any(n.dismissed_at and n.dismissed_at >= at - snooze for n in shown):
        return "snoozed after a dismissal"
    if sum(n.at >= at - timedelta(days=1) for n in shown) >= settings.nudges_per_day:
        return "the per-user daily cap"
    if sum(n.rule == rule.name and n.at >= at - WEEK for n in shown) >= (
        settings.nudges_per_rule_per_week
    ):
        return "the per-rule weekly cap"
    return None


class Proactive:
    """The proactive stage of the service (Copilot.proactive)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.store = SignalStore(engine)
        self.settings = settings

    def receive(self, batch: Batch, agent: Agent | None, at: datetime | None = None) -> Outcome:
        """Store the batch (redacted) and run the rules; at most one nudge comes back."""
        at = at or utcnow()
        subject = subject_key(batch.subject)
        account = redact(batch.account)[:200]
        events = [
            replace(
                e,
                at=at,  # the server's clock: windows cannot be skewed from the page
                page=clean_page(e.page),
                props={k: redact(v)[:500] for k, v in e.props.items()},
            )
            for e in batch.events
        ]
        pages = self.settings.page_areas
        self.store.add(
            subject, account, events, [area_for_page(e.page, pages) or "" for e in events]
        )
        history = self.store.history(subject, at - HISTORY)
        features = self.store.features_used(account, subject)
        past = self.store.recent_nudges(subject, at - WEEK)
        outcome = Outcome()
        for rule in self.settings.nudge_rules:
            trigger = evaluate(
                rule,
                events,
                history,
                at,
                account_age_days=batch.account_age_days,
                features_used=features,
            )
            if trigger is None:
                continue
            if rule.action == "flag":
                if not any(n.rule == rule.name and n.action == "flag" for n in past):
                    self._flag(subject, account, trigger, at)
                    outcome.flags.append(rule.name)
                continue
            if outcome.nudge is not None:
                continue
            why = (
                "tips are switched off"
                if not batch.tips
                else held_back(rule, past, at, self.settings)
            )
            if why is None and agent is None:
                why = "the assistant is not ready"
            choice = (
                None
                if why or agent is None
                else choose_article(trigger, agent, self.settings.nudge_min_confidence)
            )
            if why is None and choice is None:
                why = "no article is a confident match"
            if why is not None or choice is None:
                outcome.why_not.append(f"{rule.name}: {why}")
                # Still a struggle for the report and agents: recorded once a day per rule.
                recent = at - timedelta(days=1)
                if not any(n.rule == rule.name and n.at >= recent for n in past):
                    self._flag(subject, account, trigger, at, action="held")
                continue
            outcome.nudge = self._nudge(subject, account, trigger, choice, at)
        return outcome

    def _flag(
        self, subject: str, account: str, trigger: Trigger, at: datetime, action: str = "flag"
    ) -> None:
        """A struggle without a nudge: a quiet flag, or a nudge rule held back ("held")."""
        area = area_for_page(trigger.page, self.settings.page_areas) or ""
        self.store.add_nudge(
            at=at,
            subject=subject,
            account=account,
            rule=trigger.rule.name,
            action=action,
            page=trigger.page,
            product_area=area,
            reason=trigger.reason,
        )

    def _nudge(
        self, subject: str, account: str, trigger: Trigger, choice: Choice, at: datetime
    ) -> Nudge:
        nudge_id = self.store.add_nudge(
            at=at,
            subject=subject,
            account=account,
            rule=trigger.rule.name,
            action="nudge",
            page=trigger.page,
            product_area=choice.product_area,
            reason=trigger.reason,
            article_id=choice.article_id,
            confidence="symptoms" if choice.how == "symptoms" else f"{choice.confidence:.3f}",
        )
        area = choice.product_area.replace("-", " ")
        topic = (area.upper() if len(area) <= 3 else area) if area else "this"  # "SSO", "billing"
        return Nudge(
            nudge_id,
            trigger.rule.name,
            choice.article_id,
            choice.title,
            f"Stuck on {topic}? This might help:",
            trigger.reason,
            self.settings.nudge_snooze_hours,
        )

    def _own(self, nudge_id: str, subject: str) -> Any:
        row = self.store.nudge(nudge_id, subject_key(subject))
        if row is None:
            raise NotFound(f"nudge {nudge_id} not found")
        return row

    def open(self, nudge_id: str, subject: str, agent: Agent) -> dict[str, Any]:
        """The nudge's article as an extractive answer (the customer clicked it)."""
        row = self._own(nudge_id, subject)
        catalog = agent.retriever.catalog
        entry = catalog.get(row.article_id)
        if entry is None or not catalog.visible(row.article_id, "customer"):
            raise NotFound(f"the article of nudge {nudge_id} is no longer in the KB")
        if row.opened_at is None:
            self.store.update_nudge(nudge_id, opened_at=utcnow())
        hit = Hit(entry.id, entry.title, 1.0, 0.0, 0.0, "Fix", "", entry.audience,
                  entry.product_area, entry.stale)  # fmt: skip
        text, cites = extractive_answer(hit, catalog.sections(entry.id))
        return {"article_id": entry.id, "title": entry.title, "text": agent.links.clean(text),
                "citations": list(cites)}  # fmt: skip

    def feedback(self, nudge_id: str, subject: str, kind: str) -> None:
        self._own(nudge_id, subject)
        self.store.update_nudge(nudge_id, feedback=kind)

    def dismiss(self, nudge_id: str, subject: str) -> None:
        self._own(nudge_id, subject)
        self.store.update_nudge(nudge_id, dismissed_at=utcnow())
