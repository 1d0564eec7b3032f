"""Hybrid retrieval: dense search over chunks (article = its best chunk) fused with BM25 over
articles by a weighted sum of per-query z-scores. Weights and candidates are measured by
`copilot eval` on the dev sets (docs/retrieval.md); plain RRF lost 8 points of hit@1 on stackfaq.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from copilot.confidence import signals
from copilot.embed import Embedder
from copilot.store import OpenIndex
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


@dataclass(frozen=True)
class Ranking:
    hits: list[Hit]
    signals: dict[str, float]


@dataclass
class _Article:
    id: str
    title: str
    audience: str
    product_area: str
    stale: bool
    owner: str


class Retriever:
    """Answers `search(query)` from one opened index generation. Build once, query many times."""

    def __init__(self, index: OpenIndex, embedder: Embedder, weights: FusionWeights | None = None):
        from rank_bm25 import BM25Okapi

        self.index, self.embedder = index, embedder
        self.weights = weights or FusionWeights()
        # Small and medium KBs keep their chunk vectors in memory: an exact search with one matrix
        # product takes ~0.1 ms where a Chroma query takes ~5 ms (bench/onnx_bench.py).
        self._in_memory = index.manifest.chunk_count <= IN_MEMORY_MAX_CHUNKS
        include = ["documents", "metadatas"] + (["embeddings"] if self._in_memory else [])
        got = index.collection.get(include=include)
        if self._in_memory:
            rows = len(got["ids"])
            vectors = got["embeddings"] if rows else []
            self._vectors = np.asarray(vectors, dtype=np.float32).reshape(rows, -1)
            self._chunk_meta: list[dict[str, Any]] = [dict(m) for m in got["metadatas"]]
            self._chunk_docs: list[str] = list(got["documents"])
            self._customer = np.array([m.get("audience") == "customer" for m in got["metadatas"]])
        texts: dict[str, list[str]] = defaultdict(list)
        self.articles: dict[str, _Article] = {}
        # Chunk ids are "<article>#<n>" in reading order: sections are rebuilt in that order.
        order = sorted(range(len(got["ids"])), key=lambda i: _chunk_order(got["ids"][i]))
        self.sections: dict[str, dict[str, str]] = defaultdict(dict)
        for i in order:
            doc, meta = got["documents"][i], got["metadatas"][i]
            aid = str(meta["article_id"])
            body = doc.split("\n", 1)[1] if "\n" in doc else doc  # drop the title prefix
            section = str(meta.get("section", ""))
            previous = self.sections[aid].get(section)
            self.sections[aid][section] = f"{previous} {body}" if previous else body
            boost = self.weights.symptom_boost if meta.get("section") == "Symptoms" else 1
            texts[aid].extend([body] * boost)
            if aid not in self.articles:
                self.articles[aid] = _Article(
                    aid,
                    str(meta.get("title", "")),
                    str(meta.get("audience", "customer")),
                    str(meta.get("product_area", "")),
                    bool(meta.get("stale", False)),
                    str(meta.get("owner", "")),
                )
                texts[aid].extend([str(meta.get("title", ""))] * self.weights.symptom_boost)
        self._ids = sorted(self.articles)
        corpus = [tokenize(" ".join(texts[a])) for a in self._ids]
        self._terms = {a: set(tokens) for a, tokens in zip(self._ids, corpus, strict=True)}
        self._bm25 = BM25Okapi(corpus) if corpus else None

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
    ) -> Ranking:
        """The top `k` articles for `query`, with the signals confidence is computed from.
        `exclude` leaves articles out as if they were not in the KB (for self-calibration);
        `prefer_area` boosts the product area of the page the customer is on."""
        terms = tokenize(query)
        if not query.strip() or not self._ids:
            return Ranking([], signals([], len(terms), 0.0, 0.0))
        allowed = [
            a
            for a in self._ids
            if a not in exclude
            and (audience == "internal" or self.articles[a].audience == "customer")
        ]
        dense, best = self._dense(query, audience)
        dense = {a: v for a, v in dense.items() if a not in exclude}
        keyword = self._keyword(terms)
        if not allowed or (not dense and not any(keyword.values())):
            return Ranking([], signals([], len(terms), 0.0, 0.0))
        # z-scores over every article the reader may see (measured: +.03 hit@5 on mtrag-govt over
        # z-scoring the candidates only); articles outside the dense top-k sit at its floor.
        floor = min(dense.values()) if dense else 0.0
        d = {a: dense.get(a, floor) for a in allowed}
        kw = {a: keyword.get(a, 0.0) for a in allowed}
        zd, zk = _zscores(d), _zscores(kw)
        fused = {a: self.weights.dense * zd[a] + self.weights.keyword * zk[a] for a in allowed}
        if prefer_area:
            for a in allowed:
                if self.articles[a].product_area == prefer_area:
                    fused[a] += self.weights.area_boost
        candidates = [
            a for a in allowed if dense.get(a, -1.0) >= self.weights.relevance_floor or kw[a] > 0
        ]
        ranked = sorted(candidates, key=lambda a: (-fused[a], a))[:k]
        hits = []
        for a in ranked:
            meta, text = best.get(a, ({}, ""))
            art = self.articles[a]
            hits.append(
                Hit(
                    a,
                    art.title,
                    fused[a],
                    d[a],
                    kw[a],
                    str(meta.get("section", "")),
                    text,
                    art.audience,
                    art.product_area,
                    art.stale,
                )
            )
        coverage = (
            sum(t in self._terms[hits[0].article_id] for t in set(terms)) / len(set(terms))
            if hits and terms
            else 0.0
        )
        top_kz = zk[hits[0].article_id] if hits else 0.0
        return Ranking(hits, signals(hits, len(terms), coverage, top_kz))

    def _dense(
        self, query: str, audience: str
    ) -> tuple[dict[str, float], dict[str, tuple[dict[str, Any], str]]]:
        vector = self.embedder.embed([query])[0]
        if self._in_memory:
            return self._dense_in_memory(vector, audience)
        where = {"audience": "customer"} if audience == "customer" else None
        n = min(self.weights.dense_chunks, self.index.manifest.chunk_count)
        res = self.index.collection.query(
            query_embeddings=[vector],
            n_results=max(n, 1),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        return _best_chunks(
            (meta, doc, 1.0 - float(dist))
            for doc, meta, dist in zip(
                res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True
            )
        )

    def _dense_in_memory(
        self, vector: list[float], audience: str
    ) -> tuple[dict[str, float], dict[str, tuple[dict[str, Any], str]]]:
        sims = self._vectors @ np.asarray(vector, dtype=np.float32)
        if audience == "customer":
            sims = np.where(self._customer, sims, -np.inf)
        n = min(self.weights.dense_chunks, int(np.isfinite(sims).sum()))
        if n <= 0:
            return {}, {}
        top = np.argpartition(-sims, n - 1)[:n]
        return _best_chunks(
            (self._chunk_meta[i], self._chunk_docs[i], float(sims[i]))
            for i in top[np.argsort(-sims[top], kind="stable")]
        )

    def _keyword(self, tokens: list[str]) -> dict[str, float]:
        if not tokens or self._bm25 is None:
            return {}
        return {a: float(s) for a, s in zip(self._ids, self._bm25.get_scores(tokens), strict=True)}


def _best_chunks(
    chunks: Iterable[tuple[dict[str, Any], str, float]],
) -> tuple[dict[str, float], dict[str, tuple[dict[str, Any], str]]]:
    """An article scores as its best chunk: (score by article, (metadata, text) of that chunk)."""
    scores: dict[str, float] = {}
    best: dict[str, tuple[dict[str, Any], str]] = {}
    for meta, doc, sim in chunks:
        aid = str(meta["article_id"])
        if sim > scores.get(aid, -math.inf):
            scores[aid], best[aid] = sim, (meta, doc)
    return scores, best


def standalone_query(question: str, history: Sequence[tuple[str, str]] = ()) -> str:
    """The question to retrieve with. A follow-up carries the previous customer turn with it:
    measured on mtrag-govt (docs/retrieval.md); an LLM rewrite replaces this when configured."""
    previous = [text for role, text in history if role == "user"]
    return f"{previous[-1]}\n{question}" if previous else question


def _chunk_order(chunk_id: str) -> tuple[str, int]:
    article, _, n = chunk_id.rpartition("#")
    return (article, int(n)) if n.isdigit() else (chunk_id, 0)


def _zscores(scores: dict[str, float]) -> dict[str, float]:
    values = list(scores.values())
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) or 1.0
    return {a: (v - mean) / std for a, v in scores.items()}
