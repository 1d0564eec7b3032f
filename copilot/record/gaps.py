"""Content gaps: what customers asked that the KB could not answer (nothing found, or handed off
for low confidence), clustered by meaning and ranked by volume; and draft articles that start a
docs owner from that evidence instead of a blank page."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, select

from copilot.index.embed import Embedder
from copilot.record import db
from copilot.types import Section

SIMILAR = 0.55  # cosine to a cluster's centroid to join it (MiniLM: paraphrases ~.6-.9)
GAP_REASONS = ("no_results", "low_confidence")
# A handoff is a gap only when even the best article was a weak match. Measured on flowbench:
# the top article's cosine is >= .50 for 90% of questions it answers rightly, and < .50 for 85%
# of the questions the KB cannot answer; above it, the article exists and the threshold or the
# wording is the problem, not a missing article.
WEAK_DENSE = 0.5
# A cluster this close (cosine of its centroid) to an existing article's title or first Symptoms
# sentence is that article's wording problem: `copilot gaps` names the article instead of
# drafting a twin (measured on the sample KB: covered clusters .79-.93, new topics <= .50).
COVERED = 0.6


@dataclass
class Gap:
    questions: list[str]
    product_areas: Counter[str] = field(default_factory=Counter)
    centroid: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def size(self) -> int:
        return len(self.questions)

    @property
    def product_area(self) -> str:
        areas = [a for a, _ in self.product_areas.most_common() if a]
        return areas[0] if areas else "general"


def gap_questions(engine: Engine, since: date | None = None) -> list[tuple[str, str]]:
    """(question, product area) of every customer message the copilot could not answer."""
    bot = db.turns.alias("bot")
    user = db.turns.alias("user")
    query = (
        select(user.c.text, db.conversations.c.product_area, bot.c.reason, bot.c.hits)
        .join(
            bot, (bot.c.conversation_id == user.c.conversation_id) & (bot.c.seq == user.c.seq + 1)
        )
        .join(db.conversations, db.conversations.c.id == user.c.conversation_id)
        .where(user.c.role == "user", bot.c.decision.is_not(None))
    )
    if since is not None:
        query = query.where(user.c.created_at >= since)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [(r.text, r.product_area or "") for r in rows if _weak(r.reason, r.hits)]


def _weak(reason: str | None, hits: list[dict[str, object]] | None) -> bool:
    """A handoff for want of an article: nothing found, or only a weak match (turns stored
    before the cosine was kept count as weak). Not the service being down, nor the LLM."""
    if reason not in GAP_REASONS:
        return False
    top = hits[0].get("dense") if hits else None
    return not isinstance(top, int | float) or top < WEAK_DENSE


def cluster(
    items: list[tuple[str, str]], embedder: Embedder, similar: float = SIMILAR
) -> list[Gap]:
    """Greedy clustering by cosine to each cluster's centroid, biggest clusters first."""
    if not items:
        return []
    vectors = np.asarray(embedder.embed([q for q, _ in items]), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    gaps: list[Gap] = []
    sums: list[np.ndarray] = []
    for (question, area), v in zip(items, vectors, strict=True):
        if sums:
            centroids = np.stack([s / np.linalg.norm(s) for s in sums])
            best = int(np.argmax(centroids @ v))
            if float(centroids[best] @ v) >= similar:
                gaps[best].questions.append(question)
                gaps[best].product_areas[area] += 1
                sums[best] = sums[best] + v
                continue
        gaps.append(Gap([question], Counter({area: 1})))
        sums.append(v.copy())
    for gap, total in zip(gaps, sums, strict=True):
        gap.centroid = total / (np.linalg.norm(total) + 1e-9)
    return sorted(gaps, key=lambda g: -g.size)


def covering_articles(gaps: list[Gap], kb_dir: Path, embedder: Embedder) -> dict[int, str]:
    """Which gaps an existing article already covers: gap index -> article id, for clusters
    whose centroid is within COVERED of an article's title and first Symptoms sentence."""
    from copilot.kb.parse import article_files, load_files

    articles = [f.article for f in load_files(article_files(kb_dir)) if f.article]
    if not articles or not gaps:
        return {}

    def unit(texts: list[str]) -> np.ndarray:
        vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
        return vectors

    # Customers' words match a title or a first Symptoms sentence; either one counts.
    titles = unit([a.title for a in articles])
    firsts = unit([_first_sentence(a.section("Symptoms")) or a.title for a in articles])
    covered = {}
    for n, gap in enumerate(gaps):
        if gap.centroid is None:
            continue
        sims = np.maximum(titles @ gap.centroid, firsts @ gap.centroid)
        best = int(np.argmax(sims))
        if float(sims[best]) >= COVERED:
            covered[n] = articles[best].id
    return covered


def _first_sentence(section: Section | None) -> str:
    text = section.text.strip() if section else ""
    return re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]


def _owners(kb_dir: Path) -> dict[str, str]:
    """The most common owner of each product area's articles."""
    from copilot.kb.parse import article_files, load_files

    by_area: dict[str, Counter[str]] = {}
    for f in load_files(article_files(kb_dir)):
        if f.article and f.article.owner:
            by_area.setdefault(f.article.product_area or "", Counter())[f.article.owner] += 1
    return {area: owners.most_common(1)[0][0] for area, owners in by_area.items()}


def write_drafts(
    gaps: list[Gap], out_dir: Path, kb_dir: Path, embedder: Embedder, top: int = 10
) -> tuple[list[Path], dict[int, str]]:
    """One draft article per top gap that no article covers, in the KB format, every unknown
    marked TODO; and the gaps left to existing articles (gap index -> article id). A draft is not
    reviewed: its `last_reviewed` is a TODO that lint rejects until a person fills it in."""
    owners = _owners(kb_dir) if kb_dir.is_dir() else {}
    covered = covering_articles(gaps[:top], kb_dir, embedder) if kb_dir.is_dir() else {}
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for n, gap in enumerate(gaps[:top], 1):
        if n - 1 in covered:
            continue
        first = gap.questions[0].strip().split("\n")[0].rstrip("?.!")[:80]
        title = first.replace('"', "'").replace("\\", "/") or f"Gap {n}"  # safe in YAML quotes
        slug = "-".join(re.findall(r"[a-z0-9]+", title.lower())[:6]) or f"gap-{n}"
        article_id = f"draft-{slug}"
        examples = "\n".join(f'- "{" ".join(q.split())}"' for q in gap.questions[:8])
        owner = owners.get(gap.product_area) or "docs-team"
        text = f"""---
id: {article_id}
title: "TODO: {title}"
owner: {owner}
last_reviewed: TODO
product_area: {gap.product_area}
tags: [draft, content-gap]
---
# TODO: {title}

## Symptoms
TODO: describe what the customer sees. {gap.size} customer questions the copilot could not
answer, in the customers' words:

{examples}

## Cause
TODO: why this happens.

## Fix
1. TODO: the first step.
2. TODO: the next step.

## Verify
TODO: how the customer can tell it worked.

## Escalate
TODO: what to send support when this does not help.
"""
        path = out_dir / f"{article_id}.md"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written, covered
