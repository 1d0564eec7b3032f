"""Does fine-tuning MiniLM on a KB's own pairs help retrieval? Each article's title and Symptoms
are paired with each of its chunks (no dev questions used), the packaged model is trained one
epoch with in-batch negatives, and hit@1 / hit@5 of the dev questions are measured before and
after: dense alone and fused 0.8 / 0.2 with BM25, as the retriever ranks.

Needs `pip install 'accelerate>=1.1.0'` (the sentence-transformers trainer), not a dependency
of the project. Run after `copilot eval` built the indexes (see docs/eval.md):
  .venv/bin/python -m bench.finetune_study /tmp/ev-stackfaq stackfaq /tmp/ev-mtrag-govt mtrag-govt
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from copilot.answer.retrieve import Retriever, standalone_query, tokenize
from copilot.evals.dataset import load_dataset
from copilot.index.chroma import open_current
from copilot.index.embed import SentenceTransformerEmbedder, minilm_path
from copilot.types import Question

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
RESULTS = Path(__file__).parent / "results"


def z(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(1, keepdims=True)) / (x.std(1, keepdims=True) + 1e-9)


def hits(scores: np.ndarray, ids: list[str], questions: list[Question]) -> list[float]:
    h1 = h5 = 0
    for row, q in zip(scores, questions, strict=True):
        top = [ids[i] for i in np.argsort(-row, kind="stable")[:5]]
        h1 += top[0] in q.expected
        h5 += any(a in q.expected for a in top)
    return [round(h1 / len(questions), 3), round(h5 / len(questions), 3)]


def study(data_dir: Path, name: str) -> dict[str, Any]:
    from sentence_transformers import InputExample, SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from torch.utils.data import DataLoader

    questions = [q for q in load_dataset(SHARED / name / "questions.jsonl") if q.answerable]
    retriever = Retriever(
        open_current(data_dir / "index", None), SentenceTransformerEmbedder(minilm_path(), "minilm")
    )
    r = retriever
    ids = r.catalog.ids
    table = r.index.table(vectors=False).chunks
    owner = np.array([ids.index(c.meta["article_id"]) for c in table])
    docs = [c.text for c in table]
    chunks: dict[str, list[str]] = defaultdict(list)
    symptoms: dict[str, str] = {}
    for doc, meta in zip(docs, (c.meta for c in table), strict=True):
        if meta.get("section") == "Symptoms":
            symptoms.setdefault(meta["article_id"], doc.partition("\n")[2])
        chunks[meta["article_id"]].append(doc)
    pairs = [
        InputExample(texts=[anchor, doc])
        for a in ids
        for anchor in {r.catalog[a].title, symptoms.get(a, r.catalog[a].title)}
        for doc in chunks[a]
    ]
    random.Random(0).shuffle(pairs)
    queries = [standalone_query(q.question, q.history) for q in questions]
    keyword = z(
        np.array([[r.keyword.scores(tokenize(t)).get(a, 0.0) for a in ids] for t in queries])
    )

    def measure(model: Any) -> dict[str, list[float]]:
        c = model.encode(docs, batch_size=32, normalize_embeddings=True)
        sims = model.encode(queries, batch_size=32, normalize_embeddings=True) @ c.T
        dense = np.stack([sims[:, owner == i].max(1) for i in range(len(ids))], axis=1)
        return {
            "dense": hits(dense, ids, questions),
            "fused 0.8/0.2": hits(0.8 * z(dense) + 0.2 * keyword, ids, questions),
        }

    model = SentenceTransformer(str(minilm_path()), device="cpu")
    before = measure(model)
    start = time.perf_counter()
    loader: Any = DataLoader(pairs, shuffle=True, batch_size=32)  # type: ignore[arg-type]
    loss = MultipleNegativesRankingLoss(model)
    model.fit(train_objectives=[(loader, loss)], epochs=1, warmup_steps=10)
    seconds = round(time.perf_counter() - start)
    after = measure(model)
    print(f"{name}: {len(pairs)} pairs, {seconds} s; before {before}; after {after}", flush=True)
    return {"pairs": len(pairs), "train_seconds": seconds, "before": before, "after": after}


def main() -> None:
    args = sys.argv[1:]
    results = {name: study(Path(d), name) for d, name in zip(args[::2], args[1::2], strict=True)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "finetune.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
