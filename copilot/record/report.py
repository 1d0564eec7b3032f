"""Live metrics from stored conversations (`copilot report`, and the API's /v1/metrics).

Every metric is a ratio of counts, and counts add up: that is how `copilot purge` deletes old
conversations and the report keeps their figures (the `aggregates` table holds the counts per day
and product area). Latency percentiles cannot be added up, so they cover live conversations only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, select

from copilot.record import db
from copilot.record.report_queue import queue_figures
from copilot.stats import percentile

COUNTS = (
    "conversations",
    "resolved",  # answered at least once, no handoff, no negative feedback
    "handed_off",
    "bot_replies",
    "zero_results",
    "answers",
    "wrong_answers",  # "wrong answer" feedback
    "thumbs_up",
    "thumbs_down",
    "ratings",
    "rating_sum",
    "reopened",
    # #17: suggest replies, those a customer picked from, and KB searches that found the article
    "suggestions",
    "suggestions_picked",
    "searches",
    "search_successes",
)
NEGATIVE = ("unhelpful", "wrong_answer")


def _empty() -> dict[str, Any]:
    return {**dict.fromkeys(COUNTS, 0), "reasons": Counter(), "stale_by_owner": Counter()}


def _add(into: dict[str, Any], other: dict[str, Any]) -> None:
    for k in COUNTS:
        into[k] += other.get(k, 0)
    into["reasons"].update(other.get("reasons", {}))
    into["stale_by_owner"].update(other.get("stale_by_owner", {}))


def _conversation_counts(
    engine: Engine, until: datetime, since: datetime | None = None
) -> Iterable[tuple[str, str, dict[str, Any], list[float]]]:
    """(day, product area, counts, latencies) for each conversation created in [since, until)."""
    where = [db.conversations.c.created_at < until]
    if since is not None:
        where.append(db.conversations.c.created_at >= since)
    with engine.connect() as conn:
        convs = conn.execute(select(db.conversations).where(*where)).all()
        ids = [c.id for c in convs]
        turns: dict[str, list[Any]] = {i: [] for i in ids}
        feedback: dict[str, list[Any]] = {i: [] for i in ids}
        handoffs: dict[str, list[Any]] = {i: [] for i in ids}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            for t in conn.execute(
                select(db.turns).where(
                    db.turns.c.conversation_id.in_(part), db.turns.c.role == "assistant"
                )
            ):
                turns[t.conversation_id].append(t)
            for f in conn.execute(
                select(db.feedback).where(db.feedback.c.conversation_id.in_(part))
            ):
                feedback[f.conversation_id].append(f)
            for h in conn.execute(
                select(db.handoffs).where(db.handoffs.c.conversation_id.in_(part))
            ):
                handoffs[h.conversation_id].append(h)
    for c in convs:
        n = _empty()
        n["conversations"] = 1
        bot = [t for t in turns[c.id] if t.decision]
        n["bot_replies"] = len(bot)
        n["zero_results"] = sum(1 for t in bot if not t.hits)
        answers = [t for t in bot if t.decision == "answer"]
        n["answers"] = len(answers)
        for t in answers:
            cited = {x["article_id"] for x in t.citations or []}
            for h in t.hits or []:
                if h["article_id"] in cited and h.get("stale"):
                    n["stale_by_owner"][h.get("owner") or "(no owner)"] += 1
        kinds = Counter(f.kind for f in feedback[c.id])
        n["wrong_answers"] = kinds["wrong_answer"]
        n["thumbs_up"] = kinds["helpful"]
        n["thumbs_down"] = kinds["unhelpful"] + kinds["wrong_answer"]
        ratings = [f.rating for f in feedback[c.id] if f.kind == "rating" and f.rating]
        n["ratings"], n["rating_sum"] = len(ratings), sum(ratings)
        n["handed_off"] = int(bool(handoffs[c.id]))
        n["reasons"].update(h.reason for h in handoffs[c.id])
        n["reopened"] = sum(1 for h in handoffs[c.id] if h.reopened)
        negative = any(kinds[k] for k in NEGATIVE)
        picked = _suggestion_counts(n, bot, feedback[c.id], handoffs[c.id])
        n["resolved"] = int((bool(answers) and not handoffs[c.id] and not negative) or picked)
        day = c.created_at.date().isoformat()
        latencies = [t.latency_ms for t in bot if t.latency_ms is not None]
        yield day, c.product_area or "(none)", n, latencies


SEARCH_HANDOFFS = ("low_confidence", "no_results")  # handoffs because the KB search failed


def _suggestion_counts(
    n: dict[str, Any], bot: list[Any], feedback: list[Any], handoffs: list[Any]
) -> bool:
    """Count suggest replies, picks and KB searches into `n`; True when a picked suggestion was
    followed by neither a handoff nor a thumbs-down (a deflection, like a good answer)."""
    bot = sorted(bot, key=lambda t: t.seq)
    down = {f.turn_id for f in feedback if f.kind in NEGATIVE}
    deflected = False
    for i, t in enumerate(bot):
        picked_next = i + 1 < len(bot) and bot[i + 1].reason == "picked"
        if t.reason == "picked":
            later = [h for h in handoffs if db.aware(h.created_at) >= db.aware(t.created_at)]
            after = [f for f in feedback if f.kind in NEGATIVE and (f.turn_id or 0) >= t.id]
            deflected = deflected or not (later or after)
            continue
        if t.decision in ("suggest", "clarify"):
            n["suggestions"] += 1
            n["suggestions_picked"] += picked_next
        elif not (t.decision == "answer" or t.reason in SEARCH_HANDOFFS):
            continue  # not a search: e.g. the customer asked for a person
        n["searches"] += 1
        n["search_successes"] += (t.decision == "answer" and t.id not in down) or picked_next
    return deflected


def _metrics(n: dict[str, Any]) -> dict[str, Any]:
    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 4) if b else None

    return {
        "conversations": n["conversations"],
        "self_service_resolution_rate": ratio(n["resolved"], n["conversations"]),
        "handoff_rate": ratio(n["handed_off"], n["conversations"]),
        "handoff_reasons": dict(n["reasons"].most_common()),
        "zero_result_rate": ratio(n["zero_results"], n["bot_replies"]),
        "answers": n["answers"],
        "wrong_answers": n["wrong_answers"],
        "wrong_answers_per_1000_conversations": (
            round(1000 * n["wrong_answers"] / n["conversations"], 2) if n["conversations"] else None
        ),
        "wrong_answer_rate": ratio(n["wrong_answers"], n["answers"]),
        "thumbs_up": n["thumbs_up"],
        "thumbs_down": n["thumbs_down"],
        "satisfaction": ratio(n["rating_sum"], n["ratings"]),
        "ratings": n["ratings"],
        "reopened_handoffs": n["reopened"],
        # The article was answered (no thumbs-down) or offered and picked, over KB searches.
        "kb_search_success": ratio(n["search_successes"], n["searches"]),
        "suggestion_pick_rate": ratio(n["suggestions_picked"], n["suggestions"]),
        "stale_citations_by_owner": dict(n["stale_by_owner"].most_common()),
    }


def report(engine: Engine, since: date | None = None, until: date | None = None) -> dict[str, Any]:
    """The metrics overall, per product area and per day, for conversations started in
    [since, until] (whole days, UTC), purged ones included through their kept counts."""
    start = datetime.combine(since, datetime.min.time(), UTC) if since else None
    end = datetime.combine(until or db.now().date(), datetime.min.time(), UTC) + timedelta(days=1)
    overall = _empty()
    by_area: dict[str, dict[str, Any]] = {}
    by_day: dict[str, dict[str, Any]] = {}
    latencies: list[float] = []

    def count(day: str, area: str, n: dict[str, Any]) -> None:
        _add(overall, n)
        _add(by_area.setdefault(area, _empty()), n)
        _add(by_day.setdefault(day, _empty()), n)

    for day, area, n, lat in _conversation_counts(engine, end, start):
        count(day, area, n)
        latencies += lat
    with engine.connect() as conn:
        for row in conn.execute(select(db.aggregates)):
            if (since is None or row.day >= since.isoformat()) and row.day < end.date().isoformat():
                count(row.day, row.product_area, row.counts)
    result = _metrics(overall)
    result["latency_p50_ms"] = round(percentile(latencies, 50), 2) if latencies else None
    result["latency_p95_ms"] = round(percentile(latencies, 95), 2) if len(latencies) > 1 else None
    result.update(queue_figures(engine, start, end))  # first response, SLAs, by agent
    result["period"] = {
        "since": since.isoformat() if since else None,
        "until": (end - timedelta(days=1)).date().isoformat(),
    }
    result["by_product_area"] = {a: _metrics(n) for a, n in sorted(by_area.items())}
    result["by_day"] = {
        d: {
            "conversations": n["conversations"],
            "resolved": n["resolved"],
            "handed_off": n["handed_off"],
        }
        for d, n in sorted(by_day.items())
    }
    return result


def purge(engine: Engine, older_than: timedelta) -> int:
    """Delete conversations started before now - `older_than`; keep their counts. Returns how
    many were deleted. Product signals and nudges go with the same cutoff."""
    from copilot.proactive.signals import purge as purge_signals

    purge_signals(engine, older_than)
    cutoff = db.now() - older_than
    kept: dict[tuple[str, str], dict[str, Any]] = {}
    ids: list[str] = []
    with engine.connect() as conn:
        ids = list(
            conn.execute(
                select(db.conversations.c.id).where(db.conversations.c.created_at < cutoff)
            ).scalars()
        )
    for day, area, n, _ in _conversation_counts(engine, cutoff):
        _add(kept.setdefault((day, area), _empty()), n)
    with engine.begin() as conn:
        for (day, area), n in kept.items():
            row = conn.execute(
                select(db.aggregates.c.counts).where(
                    db.aggregates.c.day == day, db.aggregates.c.product_area == area
                )
            ).first()
            if row is not None:
                _add(n, row.counts)
                conn.execute(
                    delete(db.aggregates).where(
                        db.aggregates.c.day == day, db.aggregates.c.product_area == area
                    )
                )
            stored = {k: n[k] for k in COUNTS}
            stored["reasons"] = dict(n["reasons"])
            stored["stale_by_owner"] = dict(n["stale_by_owner"])
            conn.execute(db.aggregates.insert().values(day=day, product_area=area, counts=stored))
        for chunk in range(0, len(ids), 500):
            conn.execute(
                delete(db.conversations).where(db.conversations.c.id.in_(ids[chunk : chunk + 500]))
            )
    return len(ids)
