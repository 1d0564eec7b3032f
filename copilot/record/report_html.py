"""`copilot report --html`: one self-contained page (no scripts, no external assets, every
customer text escaped): volume over time, resolution vs handoff, metrics by product area, and the
top content gaps."""

from __future__ import annotations

from html import escape
from typing import Any

from copilot.record.gaps import Gap

STYLE = """body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:right}th:first-child,td:first-child{text-align:left}svg{border:1px solid #eee}
.ok{fill:#2a7}.ho{fill:#d63}.all{fill:#8ab}li{margin:.3em 0}"""
W, H, PAD = 720, 220, 30


def _bars(by_day: dict[str, dict[str, int]]) -> str:
    """Conversations per day, split into resolved by the bot, handed off, and the rest."""
    days = list(by_day)
    if not days:
        return "<p>No conversations in this period.</p>"
    top = max(d["conversations"] for d in by_day.values()) or 1
    width = (W - 2 * PAD) / len(days)
    parts = []

    def rect(css: str, x: float, y: float, h: float) -> str:
        size = f'width="{width * 0.8:.1f}" height="{h:.1f}"'
        return f'<rect class="{css}" x="{x:.1f}" y="{y:.1f}" {size}/>'

    for i, day in enumerate(days):
        d = by_day[day]
        x = PAD + i * width
        y = float(H - PAD)
        rest = d["conversations"] - d["resolved"] - d["handed_off"]
        for count, css in ((d["resolved"], "ok"), (d["handed_off"], "ho"), (rest, "all")):
            h = (H - 2 * PAD) * count / top
            y -= h
            parts.append(rect(css, x, y, h))
    labels = (
        f'<text x="{PAD}" y="{H - 8}">{escape(days[0])}</text>'
        f'<text x="{W - PAD - 70}" y="{H - 8}">{escape(days[-1])}</text>'
        f'<text x="2" y="{PAD}">{top}</text>'
    )
    return (
        f'<svg width="{W}" height="{H}" role="img" aria-label="conversations per day">'
        f"{''.join(parts)}{labels}</svg>"
    )


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}" if isinstance(v, float) else escape(str(v))


ROWS = (
    "conversations",
    "self_service_resolution_rate",
    "handoff_rate",
    "zero_result_rate",
    "answers",
    "wrong_answer_rate",
    "wrong_answers_per_1000_conversations",
    "thumbs_up",
    "thumbs_down",
    "satisfaction",
    "reopened_handoffs",
)


def render(result: dict[str, Any], gaps: list[Gap]) -> str:
    areas = result["by_product_area"]
    head = "".join(f"<th>{escape(a)}</th>" for a in areas)
    rows = "".join(
        f"<tr><td>{m}</td><td>{_fmt(result[m])}</td>"
        + "".join(f"<td>{_fmt(areas[a][m])}</td>" for a in areas)
        + "</tr>"
        for m in ROWS
    )
    reasons = (
        "".join(f"<li>{escape(r)}: {n}</li>" for r, n in result["handoff_reasons"].items())
        or "<li>none</li>"
    )
    stale = (
        "".join(f"<li>{escape(o)}: {n}</li>" for o, n in result["stale_citations_by_owner"].items())
        or "<li>none</li>"
    )
    gap_items = (
        "".join(
            f"<li><b>{g.size}</b> × {escape(g.product_area)}: "
            + "; ".join(f"“{escape(q)}”" for q in g.questions[:3])
            + "</li>"
            for g in gaps[:15]
        )
        or "<li>none</li>"
    )
    skipped = "".join(
        f"<li>{escape(path)}: {escape(why)}</li>"
        for path, why in result.get("skipped_articles", {}).items()
    )
    period = result["period"]
    proactive = ""
    if "proactive" in result:  # help before the ticket (docs/proactive.md)
        from copilot.proactive.report import html_section

        proactive = html_section(result["proactive"])
    queue = _queue(result)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>copilot report</title>
<style>{STYLE}</style></head><body>
<h1>Support copilot report</h1>
<p>Conversations started {escape(str(period["since"] or "at any time"))}
to {escape(period["until"])}.
Latency p50 {_fmt(result["latency_p50_ms"])} ms, p95 {_fmt(result["latency_p95_ms"])} ms.</p>
<h2>Volume over time</h2>
<p><svg width="12" height="12"><rect class="ok" width="12" height="12"/></svg> resolved by the bot
<svg width="12" height="12"><rect class="ho" width="12" height="12"/></svg> handed off
<svg width="12" height="12"><rect class="all" width="12" height="12"/></svg> other</p>
{_bars(result["by_day"])}
<h2>Metrics, overall and by product area</h2>
<table><tr><th>metric</th><th>all</th>{head}</tr>{rows}</table>
{queue}
<h2>Handoff reasons</h2><ul>{reasons}</ul>
<h2>Stale articles cited, by owner</h2><ul>{stale}</ul>
<h2>Top content gaps</h2><ol>{gap_items}</ol>
<h2>Articles left out of the index</h2><ul>{skipped or "<li>none</li>"}</ul>
{proactive}
</body></html>
"""


QUEUE_ROWS = (
    ("first_response_p50_minutes", "first response, median (minutes)"),
    ("first_response_p90_minutes", "first response, p90 (minutes)"),
    ("sla_breaches", "SLA breaches"),
    ("sla_breach_rate", "SLA breach rate"),
    ("sla_breached_waiting", "breached and still waiting"),
    ("not_for_us", "not for us (kept out of the queue)"),
)


def _queue(result: dict[str, Any]) -> str:
    """The agents' queue: first response, SLA breaches, the "not for us" count, by agent."""
    rows = "".join(
        f"<tr><td>{label}</td><td>{_fmt(result.get(key))}</td></tr>" for key, label in QUEUE_ROWS
    )
    kinds = ", ".join(f"{escape(k)} {n}" for k, n in result.get("not_for_us_by_kind", {}).items())
    agents = "".join(
        f"<tr><td>{escape(agent)}</td>"
        + "".join(f"<td>{done.get(a, 0)}</td>" for a in ("claimed", "message", "resolved"))
        + "</tr>"
        for agent, done in result.get("handoffs_by_agent", {}).items()
    )
    return (
        f"<h2>The agents' queue</h2><table>{rows}</table>"
        + (f"<p>Not for us, by kind: {kinds}</p>" if kinds else "")
        + "<h3>Handoffs by agent</h3><table><tr><th>agent</th><th>claimed</th><th>replies</th>"
        + f"<th>resolved</th></tr>{agents or '<tr><td>none</td></tr>'}</table>"
    )
