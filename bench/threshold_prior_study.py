"""Where should the self-calibrated answer threshold sit? Probes come half from answerable
questions and half from left-out (unanswerable) ones; real traffic has fewer unanswerable
questions, so a threshold fitted on a 50/50 mix is stricter than the target needs. This weighs the
left-out probes down to a prior share of unanswerable questions and measures, against the real
labels, the answer rate and wrong-answer rate that each prior gives.

Run after `copilot eval` built the indexes (see docs/eval.md):
  .venv/bin/python -m bench.threshold_prior_study /tmp/regen-stackfaq stackfaq \
      /tmp/regen-mtrag-govt mtrag-govt
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from copilot.answer.calibrate import calibrate, probes
from copilot.answer.retrieve import Retriever, standalone_query
from copilot.evals.dataset import load_dataset
from copilot.index.chroma import open_current
from copilot.index.embed import SentenceTransformerEmbedder, minilm_path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
RESULTS = Path(__file__).parent / "results"
PRIORS = (0.5, 0.35, 0.25, 0.15)  # share of unanswerable questions assumed in traffic
TARGET = 0.05


def weighted_threshold(pairs: list[tuple[float, bool, float]], target: float) -> float:
    """Lowest threshold whose weighted wrong share of answers stays <= target."""
    best, wrong, total = 1.0, 0.0, 0.0
    for p, ok, w in sorted(pairs, key=lambda x: -x[0]):
        total += w
        wrong += 0.0 if ok else w
        if wrong / total <= target:
            best = p
    return best


def main() -> None:
    embedder = SentenceTransformerEmbedder(minilm_path(), "minilm")
    args = sys.argv[1:]
    results: dict[str, list[dict[str, float]]] = {}
    for data_dir, name in zip(args[::2], args[1::2], strict=True):
        questions = load_dataset(SHARED / name / "questions.jsonl")
        with open_current(Path(data_dir) / "index", None) as index:
            retriever = Retriever(index, embedder)
            model = calibrate(retriever)
            probe_rows = []
            for p in probes(retriever):
                exclude = frozenset({p.article_id}) if p.left_out else frozenset()
                ranking = retriever.rank(p.query, "internal", exclude=exclude)
                if ranking.hits:
                    right = not p.left_out and ranking.hits[0].article_id == p.article_id
                    probe_rows.append((model.probability(ranking.signals), right, p.left_out))
            real = []
            for q in questions:
                ranking = retriever.rank(standalone_query(q.question, q.history))
                if not ranking.hits:
                    real.append((0.0, False, q.answerable))
                    continue
                right = q.answerable and ranking.hits[0].article_id in q.expected
                real.append((model.probability(ranking.signals), right, q.answerable))
        n_neg = sum(1 for *_, out in probe_rows if out)
        n_pos = len(probe_rows) - n_neg
        for prior in PRIORS:
            w_neg = (prior / (1 - prior)) * (n_pos / max(n_neg, 1))
            pairs = [(p, ok, w_neg if out else 1.0) for p, ok, out in probe_rows]
            t = weighted_threshold(pairs, TARGET)
            answered = [(ok, ans) for p, ok, ans in real if p >= t and p > 0]
            answerable = sum(1 for *_, ans in real if ans)
            unanswerable = len(real) - answerable
            row = {
                "prior_unanswerable": prior,
                "threshold": round(t, 3),
                "answer_rate": round(sum(1 for ok, ans in answered if ans) / answerable, 3),
                "wrong_answer_rate": round(
                    sum(1 for ok, _ in answered if not ok) / max(len(answered), 1), 3
                ),
                "handoff_recall": round(
                    1 - sum(1 for _, ans in answered if not ans) / max(unanswerable, 1), 3
                ),
            }
            results.setdefault(name, []).append(row)
            print(name, row, flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "threshold_prior.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
