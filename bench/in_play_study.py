"""Should a follow-up stay on the article in play (the one the last answer came from) when that
article covers it? hit@1 / hit@5 over answerable follow-up turns, ranked as the agent ranks them
(the previous customer turn as context, mixed with the question alone), with the in-play article's
fused score raised by `in_play_boost` when a chunk of it is at cosine >= `in_play_cover` to the
question alone.

The article in play is what the bot would have shown on the previous turn: that turn ranked the
same way, its top article ("simulated"); and, as an upper bound, the previous turn's first
expected article ("if the last answer was right").

Run after `copilot eval` built each index (docs/eval.md), e.g.:
  .venv/bin/python -m bench.in_play_study /tmp/ev-govt mtrag-govt /tmp/ev-fb flowbench
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from copilot.answer.retrieve import Retriever, standalone_query
from copilot.evals.dataset import load_dataset
from copilot.index.chroma import open_current
from copilot.index.embed import SentenceTransformerEmbedder, minilm_path
from copilot.types import Question

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "eval"
RESULTS = Path(__file__).parent / "results"
BOOSTS = (0.0, 0.25, 0.5, 1.0)
COVERS = (0.3, 0.4, 0.5)


def dataset(name: str) -> Path:
    if name == "flowbench":
        return ROOT / "eval" / "flowbench" / "questions.jsonl"
    return SHARED / name / "questions.jsonl"


def study(data_dir: Path, name: str) -> dict[str, Any]:
    questions = [q for q in load_dataset(dataset(name)) if q.answerable and q.history]
    embedder = SentenceTransformerEmbedder(minilm_path(), "minilm")
    r = Retriever(open_current(data_dir / "index", None), embedder)
    shipped = r.weights

    def ranked(q: Question, in_play: str | None = None) -> list[str]:
        query = standalone_query(q.question, q.history)
        alone = q.question if q.history else None
        hits = r.rank(query, "customer", alone=alone, in_play=in_play).hits
        return [h.article_id for h in hits]

    def previous(q: Question) -> Question:
        last = max(i for i, (role, _) in enumerate(q.history) if role == "user")
        return Question(q.id, q.history[last][1], True, (), history=q.history[:last])

    simulated = {q.id: (ranked(previous(q)) or [None])[0] for q in questions}
    by_id = {q.id: q for q in load_dataset(dataset(name))}
    oracle = {}
    for q in questions:  # the previous turn's own labels, when the dataset has that turn
        stem, _, turn = q.id.rpartition("-t")
        prev = by_id.get(f"{stem}-t{int(turn) - 1:02d}") if turn.isdigit() else None
        oracle[q.id] = prev.expected[0] if prev and prev.expected else simulated[q.id]
    out: dict[str, Any] = {"follow_ups": len(questions)}
    for label, in_play in (("simulated", simulated), ("if the last answer was right", oracle)):
        for cover in COVERS:
            for boost in BOOSTS:
                if boost == 0.0 and cover != COVERS[0]:
                    continue
                r.weights = replace(shipped, in_play_boost=boost, in_play_cover=cover)
                h1 = h5 = 0
                for q in questions:
                    top = ranked(q, in_play[q.id])
                    h1 += bool(top) and top[0] in q.expected
                    h5 += any(a in q.expected for a in top[:5])
                key = "shipped (no boost)" if boost == 0.0 else f"boost {boost} cover {cover}"
                row = {
                    "hit_at_1": round(h1 / len(questions), 3),
                    "hit_at_5": round(h5 / len(questions), 3),
                }
                out.setdefault(label, {})[key] = row
                print(f"{name:14s} {label:30s} {key:24s} {row}", flush=True)
    r.weights = shipped
    return out


def main() -> None:
    args = sys.argv[1:]
    out = RESULTS / "in_play.json"
    results = json.loads(out.read_text()) if out.exists() else {}  # sets run one at a time
    for d, name in zip(args[::2], args[1::2], strict=True):
        results[name] = study(Path(d), name)
    RESULTS.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
