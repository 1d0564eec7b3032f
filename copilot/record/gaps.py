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

SIMILAR = 0.55  # cosine to a cluster's centroid to join it (MiniLM: paraphrases ~.6-.9)
GAP_REASONS = ("no_results", "low_confidence")


@dataclass
class Gap:
    questions: list[str]
    product_areas: Counter[str] = field(default_factory=Counter)

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
    return [(r.text, r.product_area or "") for r in rows if r.reason in GAP_REASONS or not r.hits]


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
    return sorted(gaps, key=lambda g: -g.size)


def _owners(kb_dir: Path) -> dict[str, str]:
    """The most common owner of each product area's articles."""
    from copilot.kb.parse import article_files, load_files

    by_area: dict[str, Counter[str]] = {}
    for f in load_files(article_files(kb_dir)):
        if f.article and f.article.owner:
            by_area.setdefault(f.article.product_area or "", Counter())[f.article.owner] += 1
    return {area: owners.most_common(1)[0][0] for area, owners in by_area.items()}


def write_drafts(
    gaps: list[Gap], out_dir: Path, kb_dir: Path, today: date, top: int = 10
) -> list[Path]:
    """One draft article per top gap, in the KB format, every unknown marked TODO."""
    owners = _owners(kb_dir) if kb_dir.is_dir() else {}
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for n, gap in enumerate(gaps[:top], 1):
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
last_reviewed: {today.isoformat()}
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
    return written
