"""The queue's figures for `copilot report`, the HTML report and /v1/metrics: first-response time,
SLA breaches, handoffs by agent and the "not for us" count, for handoffs opened in the period.

They come from the live tables (handoffs, their audit trail, the triage log), not from the
counts `copilot purge` keeps: like latency percentiles, they cover conversations not yet purged.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from copilot.record import db
from copilot.stats import percentile

AGENT_ACTIONS = ("claimed", "message", "released", "resolved", "note")


def queue_figures(engine: Engine, start: datetime | None, end: datetime) -> dict[str, Any]:
    h, e, n = db.handoffs.c, db.handoff_events.c, db.not_for_us.c
    period = [h.created_at < end] + ([h.created_at >= start] if start else [])
    now = db.now()
    with engine.connect() as conn:
        rows = conn.execute(
            select(h.id, h.created_at, h.due_at, h.first_response_at, h.status).where(*period)
        ).all()
        ids = [r.id for r in rows]
        by_agent: dict[str, Counter[str]] = {}
        for chunk in range(0, len(ids), 500):
            for actor, action, count in conn.execute(
                select(e.actor, e.action, func.count())
                .where(e.handoff_id.in_(ids[chunk : chunk + 500]), e.action.in_(AGENT_ACTIONS))
                .group_by(e.actor, e.action)
            ):
                by_agent.setdefault(actor, Counter())[action] += int(count)
        triaged_where = [n.at < end] + ([n.at >= start] if start else [])
        triaged = select(n.kind, func.count()).where(*triaged_where).group_by(n.kind)
        kinds: dict[str, int] = {k: int(v) for k, v in conn.execute(triaged).all()}
    waits = [
        (db.aware(r.first_response_at) - db.aware(r.created_at)).total_seconds() / 60
        for r in rows
        if r.first_response_at is not None
    ]
    with_sla = [r for r in rows if r.due_at is not None]
    breached = [r for r in with_sla if (db.aware(r.first_response_at or now)) > db.aware(r.due_at)]
    open_breached = [r for r in breached if r.first_response_at is None and r.status != "resolved"]
    return {
        "first_response_p50_minutes": round(percentile(waits, 50), 1) if waits else None,
        "first_response_p90_minutes": round(percentile(waits, 90), 1) if len(waits) > 1 else None,
        "handoffs_answered": len(waits),
        "sla_breaches": len(breached),
        "sla_breach_rate": round(len(breached) / len(with_sla), 4) if with_sla else None,
        "sla_breached_waiting": len(open_breached),
        "not_for_us": int(sum(kinds.values())),
        "not_for_us_by_kind": {k: int(v) for k, v in sorted(kinds.items())},
        "handoffs_by_agent": {
            agent: {a: counts[a] for a in AGENT_ACTIONS if counts[a]}
            for agent, counts in sorted(by_agent.items())
        },
    }
