"""How well does self-calibration (no labels) predict the real wrong-answer rate? Fits the
confidence model on probes from each dev KB, then scores the dev questions with real labels.

Run after `copilot eval` built the indexes:
  .venv/bin/python -m bench.calibration_study /tmp/ev-stackfaq2 stackfaq /tmp/ev-govt mtrag-govt
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from copilot.answer.agent import Agent
from copilot.answer.calibrate import calibrate
from copilot.answer.retrieve import Retriever
from copilot.evals.dataset import load_dataset
from copilot.evals.metrics import Outcome, answer_metrics, rank_metrics
from copilot.index.chroma import open_current
from copilot.index.embed import SentenceTransformerEmbedder, minilm_path
from copilot.types import Turn

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
RESULTS = Path(__file__).parent / "results"
VARIANTS = {"verbatim probes": (0.0, 0), "dropout 0.4 x2": (0.4, 2), "dropout 0.6 x2": (0.6, 2)}


def main() -> None:
    embedder = SentenceTransformerEmbedder(minilm_path(), "minilm")
    args = sys.argv[1:]
    results: dict[str, dict[str, dict[str, float]]] = {}
    for data_dir, name in zip(args[::2], args[1::2], strict=True):
        questions = load_dataset(SHARED / name / "questions.jsonl")
        with open_current(Path(data_dir) / "index", None) as index:
            retriever = Retriever(index, embedder)
            for label, (dropout, variants) in VARIANTS.items():
                model = calibrate(retriever, dropout=dropout, variants=variants)
                agent = Agent(retriever, model)
                outcomes, rankings = [], []
                for q in questions:
                    history = [
                        Turn("user" if r == "user" else "assistant", c) for r, c in q.history
                    ]
                    reply = agent.reply(q.question, history)
                    cite = reply.citations[0].article_id if reply.citations else None
                    top = reply.hits[0].article_id if reply.hits else None
                    outcomes.append(Outcome(reply.type, cite, top, reply.confidence.value))
                    rankings.append([h.article_id for h in reply.hits])
                m = {**rank_metrics(questions, rankings), **answer_metrics(questions, outcomes)}
                m["answer_threshold"] = model.answer_threshold
                results.setdefault(name, {})[label] = {k: round(v, 3) for k, v in m.items()}
                print(name, label, results[name][label], flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "calibration.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
