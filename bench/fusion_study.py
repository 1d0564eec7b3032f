"""Which fusion of dense and keyword scores ranks best? Scores are computed once per question
(dense: best chunk per article over all chunks; BM25: per article), then variants are compared.

Run after `copilot eval` built the dev-set indexes:
  .venv/bin/python -m bench.fusion_study /tmp/ev-stackfaq stackfaq /tmp/ev-govt mtrag-govt
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from rank_bm25 import BM25Okapi

from copilot.answer.retrieve import standalone_query, tokenize
from copilot.evals.dataset import load_dataset
from copilot.index.chroma import open_current
from copilot.index.embed import SentenceTransformerEmbedder, minilm_path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
RESULTS = Path(__file__).parent / "results"


def z(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + 1e-9)


def study(data_dir: Path, name: str, embedder: SentenceTransformerEmbedder) -> dict[str, object]:
    questions = load_dataset(SHARED / name / "questions.jsonl")
    answerable = [q for q in questions if q.answerable]
    with open_current(data_dir / "index", None) as index:
        got = index.collection.get(include=["embeddings", "documents", "metadatas"])
    ids = sorted({m["article_id"] for m in got["metadatas"]})
    pos = {a: i for i, a in enumerate(ids)}
    owner = np.array([pos[m["article_id"]] for m in got["metadatas"]])
    chunks = np.asarray(got["embeddings"], dtype=np.float32)
    texts: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for doc, m in zip(got["documents"], got["metadatas"], strict=True):
        title, _, body = doc.partition("\n")
        texts[m["article_id"]][m["section"]].append(body)
        texts[m["article_id"]]["Title"] = [title]

    def bm25_for(boost: int, sections: str) -> BM25Okapi:
        corpus = []
        for a in ids:
            parts = []
            for sec, bodies in texts[a].items():
                if sections == "symptoms+title" and sec not in ("Title", "Symptoms"):
                    continue
                k = boost if sec in ("Title", "Symptoms") else 1
                parts.extend(bodies * k)
            corpus.append(tokenize(" ".join(parts)))
        return BM25Okapi(corpus)

    out: dict[str, object] = {}
    for condense in (False, True):
        queries = [
            standalone_query(q.question, q.history) if condense else q.question for q in answerable
        ]
        qv = np.asarray(embedder.embed(queries), dtype=np.float32)
        sims = qv @ chunks.T
        dense = np.full((len(queries), len(ids)), -1.0, dtype=np.float32)
        for j in range(len(ids)):
            cols = owner == j
            dense[:, j] = sims[:, cols].max(axis=1)
        expected = [[pos[e] for e in q.expected if e in pos] for q in answerable]
        for boost in (1, 3):
            bm = bm25_for(boost, "all")
            kw = np.array([bm.get_scores(tokenize(qq)) for qq in queries])
            for wd in (1.0, 0.9, 0.8, 0.7, 0.6, 0.5):
                fused = wd * z(dense) + (1 - wd) * z(kw)
                order = np.argsort(-fused, axis=1)
                ranks = [
                    next((r for r, a in enumerate(row) if a in exp), 999)
                    for row, exp in zip(order, expected, strict=True)
                ]
                ranks_a = np.array(ranks)
                key = f"condense={int(condense)} boost={boost} dense_w={wd}"
                out[key] = {
                    "hit_at_1": round(float((ranks_a == 0).mean()), 3),
                    "hit_at_5": round(float((ranks_a < 5).mean()), 3),
                    "mrr": round(float((1 / (ranks_a + 1)).mean()), 3),
                }
    return out


def main() -> None:
    embedder = SentenceTransformerEmbedder(minilm_path(), "minilm")
    args = sys.argv[1:]
    results = {
        name: study(Path(d), name, embedder) for d, name in zip(args[::2], args[1::2], strict=True)
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fusion.json").write_text(json.dumps(results, indent=2) + "\n")
    for name, rows in results.items():
        for key, m in rows.items():  # type: ignore[attr-defined]
            print(name, key, m)


if __name__ == "__main__":
    main()
