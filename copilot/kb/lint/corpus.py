"""Cross-article checks: duplicate ids and near-duplicate Symptoms, and the staleness report that
groups overdue articles by owner."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence

from copilot.kb.lint.rules import LintOptions, LintResult
from copilot.kb.parse import staleness
from copilot.types import Article, Finding


def duplicate_ids(articles: Sequence[Article]) -> Iterator[Finding]:
    by_id: dict[str, list[Article]] = defaultdict(list)
    for a in articles:
        if a.id:
            by_id[a.id].append(a)
    for article_id, group in by_id.items():
        if len(group) < 2:
            continue
        paths = [str(a.path) for a in group]
        for a in group:
            rest = [p for p in paths if p != str(a.path)]
            others = ", ".join(rest[:3]) + (f" and {len(rest) - 3} more" if len(rest) > 3 else "")
            yield Finding(
                str(a.path),
                a.line_of("id"),
                1,
                "KB011",
                "error",
                f'id "{article_id}" is also used by {others}',
                article_id,
            )


def _words(text: str) -> Counter[str]:
    return Counter(w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2)


def near_duplicates(articles: Sequence[Article], threshold: float) -> Iterator[Finding]:
    """Pairs of articles whose Symptoms are near-identical by TF-IDF cosine (lexical, offline)."""
    docs = [(a, _words(s.text)) for a in articles if (s := a.section("Symptoms")) and s.text]
    df: Counter[str] = Counter()
    for _, words in docs:
        df.update(words.keys())
    n = len(docs)
    vectors = []
    for a, words in docs:
        vec = {w: c * (math.log((1 + n) / (1 + df[w])) + 1) for w, c in words.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        vectors.append((a, {w: v / norm for w, v in vec.items()}))
    postings: dict[str, list[int]] = defaultdict(list)
    for i, (_, vec) in enumerate(vectors):
        for w in vec:
            postings[w].append(i)
    for i, (a, vec) in enumerate(vectors):
        scores: dict[int, float] = defaultdict(float)
        for w, v in vec.items():
            for j in postings[w]:
                if j > i:
                    scores[j] += v * vectors[j][1][w]
        for j, score in scores.items():
            if score >= threshold:
                b = vectors[j][0]
                section = a.section("Symptoms")
                yield Finding(
                    str(a.path),
                    section.line if section else 1,
                    1,
                    "KB020",
                    "warning",
                    f"Symptoms read like {b.path} ({b.id}), similarity {score:.2f}: "
                    "one problem per page",
                    a.id or None,
                )


def stale_report(result: LintResult, options: LintOptions) -> dict[str, list[dict[str, object]]]:
    """Stale articles grouped by owner, most overdue first within each owner."""
    by_owner: dict[str, list[dict[str, object]]] = defaultdict(list)
    for a in result.articles:
        state = staleness(a, options.today, result.releases, options.default_review_days)
        if state.stale and state.due:
            by_owner[a.owner or "(no owner)"].append(
                {
                    "article_id": a.id,
                    "path": str(a.path),
                    "title": a.title,
                    "due": state.due.isoformat(),
                    "days_overdue": (options.today - state.due).days,
                    "reason": state.reason,
                }
            )
    for rows in by_owner.values():
        rows.sort(key=lambda r: -int(str(r["days_overdue"])))
    return dict(sorted(by_owner.items(), key=lambda kv: -int(str(kv[1][0]["days_overdue"]))))
