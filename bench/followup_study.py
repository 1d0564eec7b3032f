"""How should a follow-up be retrieved without an LLM? Each variant builds the query (or several
queries whose fused scores are averaged) from the question and the conversation so far, and is
ranked by the shipped retriever's fusion; hit@1 / hit@5 over all answerable questions and over
the follow-ups alone.

Run after `copilot eval` built the index (see docs/eval.md):
  .venv/bin/python -m bench.followup_study /tmp/ev-mtrag-govt mtrag-govt
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from copilot.answer.retrieve import Retriever, tokenize, zscores
from copilot.evals.dataset import load_dataset
from copilot.index.chroma import open_current
from copilot.index.embed import SentenceTransformerEmbedder, minilm_path
from copilot.types import Question

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
RESULTS = Path(__file__).parent / "results"
Scores = dict[str, float]


def study(data_dir: Path, name: str) -> dict[str, Any]:
    questions = [q for q in load_dataset(SHARED / name / "questions.jsonl") if q.answerable]
    r = Retriever(
        open_current(data_dir / "index", None), SentenceTransformerEmbedder(minilm_path(), "minilm")
    )
    ids = [a for a in r.catalog.ids if r.catalog[a].audience == "customer"]
    cache: dict[str, Scores] = {}

    def fused(text: str) -> Scores:  # the retriever's fusion, over all articles
        if text not in cache:
            dense = r.dense.scores(text, "customer")[0]
            keyword = r.keyword.scores(tokenize(text))
            floor = min(dense.values())
            zd = zscores({a: dense.get(a, floor) for a in ids})
            zk = zscores({a: keyword.get(a, 0.0) for a in ids})
            cache[text] = {a: r.weights.dense * zd[a] + r.weights.keyword * zk[a] for a in ids}
        return cache[text]

    def mean(*texts: str) -> Scores:
        parts = [fused(t) for t in texts]
        return {a: sum(p[a] for p in parts) / len(parts) for a in ids}

    def users(q: Question) -> list[str]:
        return [text for role, text in q.history if role == "user"]

    def replies(q: Question) -> list[str]:
        return [text for role, text in q.history if role == "assistant"]

    def shipped(q: Question) -> Scores:
        u = users(q)
        return fused(f"{u[-1]}\n{q.question}" if u else q.question)

    def previous_top(q: Question) -> str:
        """The article the previous turn was answered from, as this retriever ranked it."""
        last = max(i for i, (role, _) in enumerate(q.history) if role == "user")
        earlier = Question(q.id, q.history[last][1], True, (), history=q.history[:last])
        s = shipped(earlier)
        return max(ids, key=lambda a: (s[a], a))

    def boosted(q: Question, boost: float) -> Scores:
        s = dict(shipped(q))
        s[previous_top(q)] += boost
        return s

    variants: dict[str, Callable[[Question], Scores]] = {
        "question only": lambda q: fused(q.question),
        "previous customer turn + question (shipped)": shipped,
        "every customer turn + question": lambda q: fused("\n".join([*users(q), q.question])),
        "mean of question, previous + question": lambda q: mean(
            q.question, f"{users(q)[-1]}\n{q.question}"
        ),
        "previous turn + previous reply + question": lambda q: fused(
            f"{users(q)[-1]}\n{replies(q)[-1][:600] if replies(q) else ''}\n{q.question}"
        ),
        **{
            f"shipped + {b} for the previous turn's article": (lambda q, b=b: boosted(q, b))
            for b in (0.25, 0.5, 1.0)
        },
    }
    follow_ups = [q for q in questions if users(q)]
    out: dict[str, Any] = {"questions": len(questions), "follow_ups": len(follow_ups)}
    for label, variant in variants.items():
        rows = {"all": [0, 0], "follow_ups": [0, 0]}
        for q in questions:
            s = (variant if users(q) else shipped)(q)
            top = sorted(ids, key=lambda a: (-s[a], a))[:5]
            h1, h5 = top[0] in q.expected, any(a in q.expected for a in top)
            for part in ("all", "follow_ups") if users(q) else ("all",):
                rows[part][0] += h1
                rows[part][1] += h5
        n = {"all": len(questions), "follow_ups": max(len(follow_ups), 1)}
        out[label] = {k: [round(v / n[k], 3) for v in rows[k]] for k in rows}
        print(f"{name} {label:48s} {out[label]}", flush=True)
    return out


def main() -> None:
    args = sys.argv[1:]
    results = {name: study(Path(d), name) for d, name in zip(args[::2], args[1::2], strict=True)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "followup.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
