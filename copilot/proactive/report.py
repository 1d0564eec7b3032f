"""The proactive section of `copilot report` (text, JSON, HTML): nudges shown, opened, marked
helpful, and followed by a handoff within 30 minutes; struggles (every rule that fired, nudge or
quiet flag) by product area, page and account; and the adoption report per account.

A handoff "follows" a nudge when a conversation of the same account (the workspace the page
gave, on both sides) was handed off within 30 minutes after the nudge was shown. "Resolved
without a ticket": a nudge opened, not marked unhelpful, and followed by no handoff."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import Engine, select

from copilot.proactive.signals import nudges, signals
from copilot.record.schema import aware, conversations, handoffs

FOLLOW = timedelta(minutes=30)
NUDGE_EVENTS = ("shown", "opened", "helpful", "unhelpful", "dismissed", "followed_by_handoff")


def proactive_report(engine: Engine, since: datetime | None, until: datetime) -> dict[str, Any]:
    window = [nudges.c.at < until] + ([nudges.c.at >= since] if since else [])
    seen = [signals.c.at < until] + ([signals.c.at >= since] if since else [])
    started = [handoffs.c.created_at < until + FOLLOW]
    if since:
        started.append(handoffs.c.created_at >= since)
    with engine.connect() as conn:
        rows = conn.execute(select(nudges).where(*window)).all()
        names = Counter(n for (n,) in conn.execute(select(signals.c.name).where(*seen)))
        tickets = conn.execute(
            select(handoffs.c.created_at, conversations.c.context)
            .join(conversations, conversations.c.id == handoffs.c.conversation_id)
            .where(*started)
        ).all()
    by_account: dict[str, list[datetime]] = {}
    for at, context in tickets:
        by_account.setdefault(str((context or {}).get("workspace", "")), []).append(aware(at))
    counts: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    pages: Counter[str] = Counter()
    accounts: dict[str, Counter[str]] = {}
    for r in rows:
        account = r.account or "(anonymous)"
        areas[r.product_area or "(none)"] += 1
        pages[r.page or "(none)"] += 1
        mine = accounts.setdefault(account, Counter())
        mine["struggles"] += 1
        if r.action != "nudge":  # a quiet flag, or a nudge rule the caps held back ("held")
            mine["flags"] += r.action == "flag"
            continue
        at = aware(r.at)
        followed = r.account and any(at <= t <= at + FOLLOW for t in by_account.get(r.account, []))
        events = {
            "shown": True,
            "opened": r.opened_at is not None,
            "helpful": r.feedback == "helpful",
            "unhelpful": r.feedback == "unhelpful",
            "dismissed": r.dismissed_at is not None,
            "followed_by_handoff": bool(followed),
        }
        counts.update(k for k, v in events.items() if v)
        mine.update({"nudges": 1, "opened": int(events["opened"])})
        resolved = events["opened"] and not events["unhelpful"] and not followed
        mine["resolved_without_ticket"] += int(resolved)
    for account, times in by_account.items():  # accounts with tickets and no struggle too
        if account and any(t < until and (not since or t >= since) for t in times):
            accounts.setdefault(account, Counter())
    for account, mine in accounts.items():
        mine["tickets"] = sum(
            1 for t in by_account.get(account, []) if t < until and (not since or t >= since)
        )
    keys = ("struggles", "flags", "nudges", "opened", "resolved_without_ticket", "tickets")
    return {
        "signals": dict(names.most_common()),
        "nudges": {k: counts[k] for k in NUDGE_EVENTS},
        "struggles_by_product_area": dict(areas.most_common()),
        "struggles_by_page": dict(pages.most_common(20)),
        "adoption_by_account": {
            a: {k: m[k] for k in keys}
            for a, m in sorted(accounts.items(), key=lambda x: -x[1]["struggles"])
        },
    }


def text_lines(section: dict[str, Any]) -> list[str]:
    """`copilot report` (text): the proactive section."""
    n = section["nudges"]
    lines = [
        "proactive help: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in n.items()),
        "  signals: " + (", ".join(f"{k} {v}" for k, v in section["signals"].items()) or "none"),
    ]
    for area, v in section["struggles_by_product_area"].items():
        lines.append(f"  struggles in {area:<26}{v:>10}")
    for account, m in section["adoption_by_account"].items():
        lines.append(
            f"  account {account:<20} struggles {m['struggles']}, nudges {m['nudges']}, "
            f"resolved without a ticket {m['resolved_without_ticket']}, tickets {m['tickets']}"
        )
    return lines


def _hbars(values: dict[str, int], css: str, label: str) -> str:
    """A horizontal bar chart (inline SVG, no scripts) of `values`."""
    if not values:
        return "<p>None in this period.</p>"
    top = max(values.values()) or 1
    rows = list(values.items())[:12]
    height = 22 * len(rows) + 6
    bars = "".join(
        f'<text x="0" y="{22 * i + 16}">{escape(name[:40])}</text>'
        f'<rect class="{css}" x="300" y="{22 * i + 4}" width="{380 * v / top:.1f}" height="16"/>'
        f'<text x="{304 + 380 * v / top:.1f}" y="{22 * i + 16}">{v}</text>'
        for i, (name, v) in enumerate(rows)
    )
    return (
        f'<svg width="720" height="{height}" role="img" aria-label="{escape(label)}">{bars}</svg>'
    )


def html_section(section: dict[str, Any]) -> str:
    """`copilot report --html`: the proactive section, every stored text escaped."""
    nudges_ = {k.replace("_", " "): v for k, v in section["nudges"].items()}
    rows = "".join(
        f"<tr><td>{escape(a)}</td>"
        + "".join(f"<td>{m[k]}</td>" for k in ("struggles", "nudges", "opened"))
        + f"<td>{m['resolved_without_ticket']}</td><td>{m['tickets']}</td></tr>"
        for a, m in section["adoption_by_account"].items()
    )
    return (
        "<h2>Proactive help: nudges</h2>"
        + _hbars(nudges_, "ok", "nudges by outcome")
        + "<h2>Struggles by product area</h2>"
        + _hbars(section["struggles_by_product_area"], "ho", "struggles by product area")
        + "<h2>Struggles by page</h2>"
        + _hbars(section["struggles_by_page"], "all", "struggles by page")
        + "<h2>Adoption by account</h2><table><tr><th>account</th><th>struggles</th>"
        "<th>nudges</th><th>opened</th><th>resolved without a ticket</th><th>tickets</th></tr>"
        + (rows or '<tr><td colspan="6">none</td></tr>')
        + "</table>"
    )
