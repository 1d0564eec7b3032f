"""The eval report as one self-contained HTML page: no scripts, no external assets, every piece of
question or KB text escaped (a dataset can carry anything)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from copilot.evals.advice import direction
from copilot.evals.metrics import ANSWER_METRICS, LATENCY_METRICS, RANK_METRICS, Outcome
from copilot.types import Question


def _right(q: Question, o: Outcome) -> bool:
    return q.answerable and o.top_article in q.expected


METRICS = [*RANK_METRICS, *ANSWER_METRICS, *LATENCY_METRICS]
W, H, PAD = 360, 240, 36


def risk_coverage(
    questions: Sequence[Question], outcomes: Sequence[Outcome]
) -> list[tuple[float, float]]:
    ordered = sorted(zip(questions, outcomes, strict=True), key=lambda qo: -qo[1].confidence)
    points, wrong = [], 0
    for k, (q, o) in enumerate(ordered, 1):
        wrong += not _right(q, o)
        points.append((k / len(ordered), wrong / k))
    return points


def reliability(
    questions: Sequence[Question], outcomes: Sequence[Outcome], bins: int = 10
) -> list[tuple[float, float, int]]:
    """(mean predicted, observed share right, count) per confidence bin."""
    pairs = list(zip(questions, outcomes, strict=True))
    out = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [
            (q, o)
            for q, o in pairs
            if lo <= o.confidence < hi or (b == bins - 1 and o.confidence == 1)
        ]
        if inside:
            predicted = sum(o.confidence for _, o in inside) / len(inside)
            observed = sum(_right(q, o) for q, o in inside) / len(inside)
            out.append((predicted, observed, len(inside)))
    return out


def _num(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _xy(x: float, y: float) -> str:
    return f"{PAD + x * (W - 2 * PAD):.1f},{H - PAD - y * (H - 2 * PAD):.1f}"


def _axes(xlabel: str, ylabel: str) -> str:
    return (
        f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#555"/>'
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{H - PAD}" stroke="#555"/>'
        f'<text x="{W / 2}" y="{H - 6}" text-anchor="middle">{xlabel}</text>'
        f'<text x="12" y="{H / 2}" transform="rotate(-90 12 {H / 2})" text-anchor="middle">'
        f"{ylabel}</text>"
        f'<text x="{PAD}" y="{H - PAD + 14}" text-anchor="middle">0</text>'
        f'<text x="{W - PAD}" y="{H - PAD + 14}" text-anchor="middle">1</text>'
        f'<text x="{PAD - 4}" y="{PAD + 4}" text-anchor="end">1</text>'
    )


def render_html(
    title: str,
    result: dict[str, object],
    questions: Sequence[Question],
    outcomes: Sequence[Outcome],
) -> str:
    baselines = result.get("baselines") or {}
    assert isinstance(baselines, dict)
    head = "".join(f"<th>{escape(b)}</th><th>Δ</th>" for b in baselines)
    rows = []
    for m in METRICS:
        if m not in result:
            continue
        value = float(result[m])  # type: ignore[arg-type]
        cells = f"<td>{value:.3f}</td>"
        for b in baselines.values():
            if m in b:
                delta, word = value - float(b[m]), direction(m, float(b[m]), value)
                cells += f'<td>{float(b[m]):.3f}</td><td class="{word}">{delta:+.3f} {word}</td>'
            else:
                cells += "<td>–</td><td></td>"
        rows.append(f"<tr><th>{m}</th>{cells}</tr>")

    curve = " ".join(_xy(c, r) for c, r in risk_coverage(questions, outcomes))
    answered = _num(result.get("answer_rate"))
    share = sum(o.type == "answer" for o in outcomes) / (len(outcomes) or 1)
    rel = "".join(
        f'<rect x="{_xy(p - 0.04, o).split(",")[0]}" y="{_xy(0, o).split(",")[1]}" '
        f'width="{0.08 * (W - 2 * PAD):.1f}" height="{o * (H - 2 * PAD):.1f}" fill="#4a7bd0">'
        f"<title>{n} questions</title></rect>"
        for p, o, n in reliability(questions, outcomes)
    )
    pairs = zip(questions, outcomes, strict=True)
    misses = sorted(
        ((q, o) for q, o in pairs if q.answerable and not _right(q, o)),
        key=lambda qo: -qo[1].confidence,
    )[:25]
    miss_rows = "".join(
        f"<tr><td>{escape(q.id)}</td><td>{escape(q.question)}</td>"
        f"<td>{escape(', '.join(q.expected))}</td><td>{escape(o.top_article or '(nothing)')}</td>"
        f"<td>{escape(o.type)}</td><td>{o.confidence:.2f}</td></tr>"
        for q, o in misses
    )
    by_source = result.get("by_source") or {}
    assert isinstance(by_source, dict)
    source_rows = "".join(
        f"<tr><th>{escape(s)}</th><td>{int(m['questions'])}</td>"
        f"<td>{m['hit_at_1']:.3f}</td><td>{m['answer_rate']:.3f}</td>"
        f"<td>{m['wrong_answer_rate']:.3f}</td><td>{m['handoff_recall']:.3f}</td>"
        f'<td><svg width="120" height="10"><rect width="{120 * m["hit_at_1"]:.0f}" height="10" '
        f'fill="#4a7bd0"/></svg></td></tr>'
        for s, m in by_source.items()
    )
    lines = result.get("advice") or []
    assert isinstance(lines, list)
    advice = "".join(f"<li>{escape(str(line))}</li>" for line in lines)
    skipped = result.get("skipped") or {}
    assert isinstance(skipped, dict)
    skipped_rows = "".join(
        f"<tr><td>{escape(path)}</td><td>{escape(why)}</td></tr>"
        for path, why in (skipped.get("files") or {}).items()
    )
    skipped_part = (
        f"<h2>Left out of the index ({skipped.get('count')} of {skipped.get('articles')})</h2>"
        f"<table><tr><th>file</th><th>why</th></tr>{skipped_rows}</table>"
        if skipped_rows
        else "<p>Every article in the KB folder was indexed.</p>"
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:2rem;max-width:70rem;color:#222}}
table{{border-collapse:collapse;margin:1rem 0}}td,th{{border:1px solid #ccc;padding:.25rem .5rem;
text-align:left}}td{{font-variant-numeric:tabular-nums}}svg text{{font-size:11px}}
.charts{{display:flex;gap:2rem;flex-wrap:wrap}}.better{{color:#176b2c}}.worse{{color:#a31d1d}}
</style></head><body>
<h1>{escape(title)}</h1>
<p>{result.get("questions")} questions, {result.get("answerable")} answerable.</p>
<ul class="advice">{advice}</ul>
{skipped_part}
<h2>Copilot beside the baselines</h2>
<table><tr><th>metric</th><th>copilot</th>{head}</tr>{"".join(rows)}</table>
<div class="charts">
<figure><svg width="{W}" height="{H}" role="img" aria-label="risk-coverage curve">
{_axes("share answered (coverage)", "wrong-answer rate (risk)")}
<polyline fill="none" stroke="#c33" stroke-width="2" points="{curve}"/>
<line x1="{_xy(share, 0).split(",")[0]}" y1="{PAD}" x2="{_xy(share, 0).split(",")[0]}"
 y2="{H - PAD}" stroke="#393" stroke-dasharray="4"/>
</svg><figcaption>Risk–coverage (AURC {_num(result.get("aurc")):.3f}); dashed: the shipped
threshold answers {share:.0%} of all questions ({answered:.0%} of answerable).</figcaption></figure>
<figure><svg width="{W}" height="{H}" role="img" aria-label="reliability diagram">
{_axes("predicted confidence", "observed share right")}
<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{PAD}" stroke="#999" stroke-dasharray="3"/>
{rel}</svg><figcaption>Reliability: bars on the diagonal mean the confidence is a
probability.</figcaption></figure>
</div>
<h2>By source</h2>
<table><tr><th>source</th><th>questions</th><th>hit@1</th><th>answer rate</th>
<th>wrong-answer rate</th><th>handoff recall</th><th></th></tr>{source_rows}</table>
<h2>Worst misses</h2>
<table><tr><th>id</th><th>question</th><th>expected</th><th>top article</th><th>reply</th>
<th>confidence</th></tr>{miss_rows}</table>
</body></html>
"""
