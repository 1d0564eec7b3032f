"""The ONNX fast path against torch on the same machine, same run: query encode p50/p95, one
extractive turn in process on the sample KB, and hit@1 of the sample KB's eval set with each
backend (it must not move).

Run: .venv/bin/python -m bench.onnx_bench   (writes bench/results/onnx.json)
"""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path

from bench.timing import percentiles, timed
from copilot.answer.agent import Agent
from copilot.answer.calibrate import ensure_calibrated
from copilot.answer.retrieve import Retriever, standalone_query
from copilot.evals.dataset import load_dataset
from copilot.evals.metrics import rank_metrics
from copilot.index.build import build_index
from copilot.index.chroma import open_current
from copilot.index.embed import Embedder, SentenceTransformerEmbedder, minilm_path
from copilot.index.onnx import OnnxEmbedder, export, onnx_dir
from copilot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"


def main() -> None:
    questions = load_dataset(ROOT / "eval" / "flowbench" / "questions.jsonl")
    texts = [q.question for q in questions]
    torch_embedder = SentenceTransformerEmbedder(minilm_path(), "minilm")
    result: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(kb_dir=ROOT / "kb_articles", data_dir=Path(tmp))
        build_index(settings, torch_embedder, today=date(2026, 11, 24))
        export(minilm_path(), onnx_dir(settings.data_dir))
        backends: dict[str, Embedder] = {
            "torch": torch_embedder,
            "onnx": OnnxEmbedder(onnx_dir(settings.data_dir)),
        }
        with open_current(settings.index_dir, None) as index:
            for name, embedder in backends.items():
                retriever = Retriever(index, embedder)
                agent = Agent(retriever, ensure_calibrated(retriever, settings.data_dir))
                rankings = [
                    [
                        h.article_id
                        for h in retriever.rank(standalone_query(q.question, q.history)).hits
                    ]
                    for q in questions
                ]
                result[name] = {
                    **{
                        f"encode_{k}": v
                        for k, v in percentiles(
                            timed(lambda t, e=embedder: e.embed([t]), texts)
                        ).items()
                    },
                    **{f"turn_{k}": v for k, v in percentiles(timed(agent.reply, texts)).items()},
                    "hit_at_1": round(rank_metrics(questions, rankings)["hit_at_1"], 4),
                }
                print(name, result[name], flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "onnx.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
