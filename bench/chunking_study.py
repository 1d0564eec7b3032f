"""Which chunking retrieves best? Dense-only hit@1 / hit@5 / MRR on the dev sets.

Article = its best chunk. Run: .venv/bin/python -m bench.chunking_study
(writes bench/results/chunking.json; ~4 min on 2 cores)
Needs ../shared/eval beside the checkout.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from copilot.index.chunk import ChunkPolicy, chunk_article
from copilot.index.embed import SentenceTransformerEmbedder, minilm_path
from copilot.kb.parse import article_files, load_files

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
RESULTS = Path(__file__).parent / "results"
VARIANTS = {
    "whole_article": ChunkPolicy(whole_article=True),
    "sections_200": ChunkPolicy(max_tokens=200, question_chunk=False),
    "sections_200+question": ChunkPolicy(max_tokens=200, question_chunk=True),
    "sections_120+question": ChunkPolicy(max_tokens=120, question_chunk=True),
}


def main() -> None:
    if not SHARED.is_dir():
        sys.exit(f"skip: {SHARED} not found (the dev sets live in ../shared/eval)")
    embedder = SentenceTransformerEmbedder(minilm_path(), "minilm")
    cache: dict[str, np.ndarray] = {}

    def embed(texts: list[str]) -> np.ndarray:
        todo = sorted({t for t in texts if t not in cache})
        for t, v in zip(todo, embedder.embed(todo), strict=True):
            cache[t] = np.asarray(v, dtype=np.float32)
        return np.stack([cache[t] for t in texts])

    results: dict[str, dict[str, dict[str, float]]] = {}
    for name in ("stackfaq", "mtrag-govt"):
        files = load_files(article_files(SHARED / name / "kb"))
        articles = [f.article for f in files if f.article]
        questions = [json.loads(line) for line in (SHARED / name / "questions.jsonl").open()]
        answerable = [q for q in questions if q["answerable"]]
        qvecs = embed([q["question"] for q in answerable])
        for variant, policy in VARIANTS.items():
            start = time.time()
            chunks = [
                c
                for a in articles
                for c in chunk_article(
                    a,
                    stale=False,
                    content_hash="",
                    policy=policy,
                    count_tokens=embedder.count_tokens,
                )
            ]
            cvecs = embed([c.text for c in chunks])
            owners = np.array([c.article_id for c in chunks])
            sims = qvecs @ cvecs.T
            hit1 = hit5 = mrr = 0.0
            for row, q in zip(sims, answerable, strict=True):
                order = np.argsort(-row)
                ranked = list(dict.fromkeys(owners[order]))
                expected = set(q["expected_articles"])
                rank = next((i for i, a in enumerate(ranked) if a in expected), None)
                hit1 += rank == 0
                hit5 += rank is not None and rank < 5
                mrr += 1 / (rank + 1) if rank is not None else 0
            n = len(answerable)
            results.setdefault(name, {})[variant] = {
                "hit_at_1": round(hit1 / n, 3),
                "hit_at_5": round(hit5 / n, 3),
                "mrr": round(mrr / n, 3),
                "chunks": len(chunks),
                "seconds": round(time.time() - start, 1),
            }
            print(name, variant, results[name][variant], flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "chunking.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
