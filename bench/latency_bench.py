"""One turn in process, extractive: p50 / p95 over the sample KB's eval questions, beside a plain
llama-index `VectorStoreIndex` query (same embedder, top 20) timed in the same run. Target: p95 of
a turn under 50 ms on this machine (2 cores).

Run: .venv/bin/python -m bench.latency_bench   (writes bench/results/latency.json)
"""

from __future__ import annotations

import json
import tempfile
from datetime import date
from pathlib import Path

from bench.timing import percentiles, timed
from copilot.evals.baselines import llama_index_baseline
from copilot.evals.dataset import load_dataset
from copilot.index.build import build_index
from copilot.index.embed import SentenceTransformerEmbedder, minilm_path
from copilot.service import open_agent
from copilot.settings import Settings
from copilot.types import Question, Turn

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
ROUNDS = 3


def summary(times: list[float]) -> dict[str, float]:
    return {**percentiles(times), "n": len(times)}


def main() -> None:
    questions = load_dataset(ROOT / "eval" / "flowbench" / "questions.jsonl")
    embedder = SentenceTransformerEmbedder(minilm_path(), "minilm")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(kb_dir=ROOT / "kb_articles", data_dir=Path(tmp))
        build_index(settings, embedder, today=date(2026, 11, 24))
        agent, index = open_agent(settings, embedder=embedder)
        with index:

            def turn(q: Question) -> object:
                history = [Turn("user" if r == "user" else "assistant", c) for r, c in q.history]
                return agent.reply(q.question, history)

            copilot = summary(timed(turn, questions, ROUNDS))
            encode = summary(timed(lambda q: embedder.embed([q.question]), questions, ROUNDS))
        plain = summary(
            timed(llama_index_baseline(settings.kb_dir, minilm_path()), questions, ROUNDS)
        )
    result = {
        "questions": len(questions),
        "rounds": ROUNDS,
        "copilot_turn_extractive": copilot,
        "query_encode_only": encode,
        "llama_index_plain_query": plain,
    }
    for name, row in result.items():
        if isinstance(row, dict):
            print(f"{name:28} p50 {row['p50_ms']:7.2f} ms   p95 {row['p95_ms']:7.2f} ms")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latency.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS / 'latency.json'}")


if __name__ == "__main__":
    main()
