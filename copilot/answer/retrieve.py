"""Hybrid retrieval: dense search over chunks (article = its best chunk) fused with BM25 over
articles by a weighted sum of per-query z-scores; a follow-up is ranked with its context and as
asked alone, the two mixed by how self-contained the question is. Weights and candidates are
measured on five labelled KBs (docs/retrieval.md); plain RRF lost 8 points of hit@1 on stackfaq.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from copilot.answer.catalog import Catalog
from copilot.answer.confidence import signals
from copilot.index.embed import Embedder
from copilot.index.store import ChunkTable, StoredChunk, VectorIndex
from copilot.types import Hit

STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does doing for from had has have how i if
    in into is it its me my no not of on or our so than that the their them then there these they
    this to too us was we were what when where which who why will with would you your""".split()
)
TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    return [t for t in TOKEN.findall(text.lower()) if t not in STOPWORDS]


IN_MEMORY_MAX_CHUNKS = 200_000  # ~300 MB of float32 vectors at 384 dimensions


@dataclass(frozen=True)
class FusionWeights:
    dense: float = 0.8
    keyword: float = 0.2
    symptom_boost: int = 3  # title and Symptoms repeated in the keyword text: customers quote them
    dense_chunks: int = 100  # chunks fetched per query before grouping into articles
    # Below this cosine, with no keyword in common, an article is not a result at all: MiniLM
    # gives unrelated text 0.0-0.2 (the zero-result rate counts questions with nothing above it).
    relevance_floor: float = 0.25
    # Added to the fused score of articles in the product area of the customer's page.
    area_boost: float = 0.5  # bench/area_boost_study.py
    # A follow-up is ranked with its context and as asked alone, the two fusions mixed:
    # (1 - s) * F(with context) + s * F(alone). s is `alone_self_contained` when the question
    # alone has a chunk at cosine >= `alone_cosine` (it names its own topic), else
    # `alone_elliptic` (it needs the context). Fitted leave-one-dataset-out on five sets
    # (docs/retrieval.md, "Fusion"): context helps mtrag-govt, misleads mtrag-fiqa, where
    # conversations drift to a new article; the question's own cosine tells the two apart.
    alone_self_contained: float = 0.8
    alone_elliptic: float = 0.2
    alone_cosine: float = 0.55  # a MiniLM cosine: refit for another embedder
    # The article in play (the one the last answer came from) stays on top for a follow-up it
    # covers: `in_play_boost` is added to its fused score when the question asked alone has a
    # chunk of it at cosine >= `in_play_cover` (bench/in_play_study.py, docs/retrieval.md).
    in_play_boost: float = 0.0
    in_play_cover: float = 0.4


@dataclass(frozen=True)
class Ranking:
    hits: list[Hit]
    signals: dict[str, float]


class DenseSearch:
    """Cosine similarity of the query to every chunk; an article scores as its best chunk.
    Small and medium KBs keep their vectors in memory: an exact search with one matrix product
    takes ~0.1 ms where a Chroma query takes ~5 ms (bench/onnx_bench.py)."""

    def __init__(self, index: VectorIndex, embedder: Embedder, table: ChunkTable, fetch: int):
        self.index, self.embedder, self.fetch = index, embedder, fetch
        self._table = table if table.vectors is not None else None
        if self._table is not None:
            self._customer = np.array([c.meta.get("audience") == "customer" for c in table.chunks])

    def scores(self, query: str, audience: str) -> tuple[dict[str, float], dict[str, StoredChunk]]:
        """(best cosine by article, that best chunk by article) over the chunks `audience` sees."""
        vector = self.embedder.embed([query])[0]
        if self._table is None:
            found = self.index.nearest(vector, self.fetch, customer_only=audience == "customer")
            return _best_chunks(found)
        assert self._table.vectors is not None
        sims = self._table.vectors @ np.asarray(vector, dtype=np.float32)
        if audience == "customer":
            sims = np.where(self._customer, sims, -np.inf)
        n = min(self.fetch, int(np.isfinite(sims).sum()))
        if n <= 0:
            return {}, {}
        top = np.argpartition(-sims, n - 1)[:n]
        chunks = self._table.chunks
        return _best_chunks(
            (chunks[i], float(sims[i])) for i in top[np.argsort(-sims[top], kind="stable")]
        )


class KeywordSearch:
    """BM25 over whole articles; title and Symptoms count `boost` times (customers quote them)."""

    def __init__(self, catalog: Catalog, boost: int) -> None:
        from rank_bm25 import BM25Okapi

        self._ids = catalog.ids
        corpus = []
        for aid in self._ids:
            sections = catalog.sections(aid)
            words = [catalog[aid].title] * boost
            for name, text in sections.items():
                words.extend([text] * (boost if name == "Symptoms" else 1))
            corpus.append(tokenize(" ".join(words)))
        self.terms = {a: set(tokens) for a, tokens in zip(self._ids, corpus, strict=True)}
        self._bm25 = BM25Okapi(corpus) if corpus else None

    def scores(self, tokens: list[str]) -> dict[str, float]:
        """BM25 by article id (empty when the query has no searchable word)."""
        if not tokens or self._bm25 is None:
            return {}
        return {a: float(s) for a, s in zip(self._ids, self._bm25.get_scores(tokens), strict=True)}


class Retriever:
    """Ranks the articles of one opened index generation. Build once, query many times."""

    def __init__(
        self, index: VectorIndex, embedder: Embedder, weights: FusionWeights | None = None
    ) -> None:
        self.index, self.embedder = index, embedder
        self.weights = weights or FusionWeights()
        in_memory = index.manifest.chunk_count <= IN_MEMORY_MAX_CHUNKS
        table = index.table(vectors=in_memory)
        self.catalog = Catalog(table.chunks)
        self.dense = DenseSearch(index, embedder, table, self.weights.dense_chunks)
        self.keyword = KeywordSearch(self.catalog, self.weights.symptom_boost)

    def search(
        self, query: str, audience: Literal["customer", "internal"] = "customer", k: int = 5
    ) -> list[Hit]:
        return self.rank(query, audience, k).hits

    def rank(
        self,
        query: str,
        audience: Literal["customer", "internal"] = "customer",
        k: int = 5,
        exclude: frozenset[str] = frozenset(),
        prefer_area: str | None = None,
        alone: str | None = None,
        in_play: str | None = None,
    ) -> Ranking:
        """The top `k` articles for `query`, with the signals confidence is computed from.
        `exclude` leaves articles out as if they were not in the KB (for self-calibration);
        `prefer_area` boosts the product area of the page the customer is on; `alone` is the
        customer's last question without its context, when `query` adds context to it;
        `in_play` the article the last answer came from."""
        terms = tokenize(query)
        catalog = self.catalog
        if not query.strip() or not len(catalog):
            return Ranking([], signals([], len(terms), 0.0, 0.0))
        allowed = [a for a in catalog.ids if a not in exclude and catalog.visible(a, audience)]
        dense, best = self.dense.scores(query, audience)
        dense = {a: v for a, v in dense.items() if a not in exclude}
        keyword = self.keyword.scores(terms)
        if not allowed or (not dense and not any(keyword.values())):
            return Ranking([], signals([], len(terms), 0.0, 0.0))
        # z-scores over every article the reader may see (measured: +.03 hit@5 on mtrag-govt over
        # z-scoring the candidates only); articles outside the dense top-k sit at its floor.
        floor = min(dense.values()) if dense else 0.0
        d = {a: dense.get(a, floor) for a in allowed}
        kw = {a: keyword.get(a, 0.0) for a in allowed}
        zd, zk = zscores(d), zscores(kw)
        fused = {a: self.weights.dense * zd[a] + self.weights.keyword * zk[a] for a in allowed}
        candidates = [
            a for a in allowed if dense.get(a, -1.0) >= self.weights.relevance_floor or kw[a] > 0
        ]
        if alone is not None and alone.strip() and alone != query:
            candidates = self._mix_alone(alone, audience, exclude, allowed, fused, candidates)
        if in_play and in_play in fused and self.weights.in_play_boost:
            asked = alone if alone and alone.strip() else query
            if self.covers(asked, in_play, audience):
                fused[in_play] += self.weights.in_play_boost
                if in_play not in candidates:
                    candidates.append(in_play)
        if prefer_area:
            for a in allowed:
                if catalog[a].product_area == prefer_area:
                    fused[a] += self.weights.area_boost
        ranked = sorted(candidates, key=lambda a: (-fused[a], a))[:k]
        hits = []
        for a in ranked:
            chunk = best.get(a)
            art = catalog[a]
            hits.append(
                Hit(
                    a,
                    art.title,
                    fused[a],
                    d[a],
                    kw[a],
                    str(chunk.meta.get("section", "")) if chunk else "",
                    chunk.text if chunk else "",
                    art.audience,
                    art.product_area,
                    art.stale,
                )
            )
        unique = set(terms)
        coverage = (
            sum(t in self.keyword.terms[hits[0].article_id] for t in unique) / len(unique)
            if hits and unique
            else 0.0
        )
        top_kz = zk[hits[0].article_id] if hits else 0.0
        return Ranking(hits, signals(hits, len(terms), coverage, top_kz))

    def covers(self, question: str, article_id: str, audience: str) -> bool:
        """Whether the article speaks to the question asked alone: a chunk of it at cosine >=
        `in_play_cover`, or a word of the question (4+ letters) in it. Follow-ups are elliptic
        ("it's a private channel tho": cosine .28 to the Slack article whose step 2 covers
        private channels), so their words count as much as their meaning."""
        words = {t for t in tokenize(question) if len(t) >= 4}
        if words & self.keyword.terms.get(article_id, set()):
            return True
        dense, _ = self.dense.scores(question, audience)
        return dense.get(article_id, -1.0) >= self.weights.in_play_cover

    def _mix_alone(
        self,
        alone: str,
        audience: Literal["customer", "internal"],
        exclude: frozenset[str],
        allowed: list[str],
        fused: dict[str, float],
        candidates: list[str],
    ) -> list[str]:
        """Mixes the fusion of the question asked alone into `fused` (in place); returns the
        candidates of both queries, in `allowed` order."""
        w = self.weights
        dense, _ = self.dense.scores(alone, audience)
        dense = {a: v for a, v in dense.items() if a not in exclude}
        keyword = self.keyword.scores(tokenize(alone))
        if not dense and not any(keyword.values()):
            return candidates
        floor = min(dense.values()) if dense else 0.0
        zd = zscores({a: dense.get(a, floor) for a in allowed})
        kw = {a: keyword.get(a, 0.0) for a in allowed}
        zk = zscores(kw)
        own = dense and max(dense.values()) >= w.alone_cosine
        share = w.alone_self_contained if own else w.alone_elliptic
        for a in allowed:
            fused[a] = (1 - share) * fused[a] + share * (w.dense * zd[a] + w.keyword * zk[a])
        keep = set(candidates)
        keep.update(a for a in allowed if dense.get(a, -1.0) >= w.relevance_floor or kw[a] > 0)
        return [a for a in allowed if a in keep]


def _best_chunks(
    chunks: Iterable[tuple[StoredChunk, float]],
) -> tuple[dict[str, float], dict[str, StoredChunk]]:
    """An article scores as its best chunk: (score by article, that chunk by article)."""
    scores: dict[str, float] = {}
    best: dict[str, StoredChunk] = {}
    for chunk, sim in chunks:
        aid = str(chunk.meta["article_id"])
        if sim > scores.get(aid, -math.inf):
            scores[aid], best[aid] = sim, chunk
    return scores, best


def standalone_query(question: str, history: Sequence[tuple[str, str]] = ()) -> str:
    """The question to retrieve with. A follow-up carries the previous customer turn with it:
    measured on mtrag-govt (docs/retrieval.md); an LLM rewrite replaces this when configured."""
    previous = [text for role, text in history if role == "user"]
    return f"{previous[-1]}\n{question}" if previous else question


def zscores(scores: dict[str, float]) -> dict[str, float]:
    values = list(scores.values())
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) or 1.0
    return {a: (v - mean) / std for a, v in scores.items()}
