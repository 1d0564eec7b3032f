"""The latency budget of one extractive turn, stage by stage, on the sample KB with the default
(ONNX) encoder: parse, condense, encode, dense search, keyword search, fusion, confidence, compose,
store, and HTTP on loopback. Then the batching question: would coalescing queries that arrive
together into one encoder call pay?

Run: .venv/bin/python -m bench.stage_budget [GENERATED_ARTICLES]
(writes bench/results/stage_budget.json, or stage_budget-gen<N>.json over a generated KB)
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx

from api.main import create_app
from api.schemas import ChatRequest
from bench.serving import index
from bench.timing import percentiles, timed
from copilot.answer.compose import extractive_answer
from copilot.answer.retrieve import standalone_query, tokenize
from copilot.evals.dataset import load_dataset
from copilot.record import db
from copilot.record.conversations import Conversations
from copilot.service import Copilot, open_agent
from copilot.settings import Settings
from copilot.testing.live import serve
from copilot.types import Turn

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"


def stats(times: list[float]) -> dict[str, float]:
    return percentiles(times, digits=3)


def main(generated: int = 0) -> None:
    questions = [q.question for q in load_dataset(ROOT / "eval" / "flowbench" / "questions.jsonl")]
    with tempfile.TemporaryDirectory() as tmp:
        kb = ROOT / "kb_articles"
        if generated:
            from bench.generate import generate

            kb = generate(Path(tmp) / "kb", generated)
        settings = Settings(kb_dir=kb, data_dir=Path(tmp) / "data")
        env = {
            **os.environ,
            "COPILOT_KB_DIR": str(settings.kb_dir),
            "COPILOT_DATA_DIR": str(settings.data_dir),
        }
        index(env)
        agent, opened = open_agent(settings)
        retriever, embedder = agent.retriever, agent.retriever.embedder
        vectors = {q: embedder.embed([q])[0] for q in questions}
        history = [Turn("user", "it fails"), Turn("assistant", "What fails?")]
        body = {q: json.dumps({"message": q, "context": {"page": "/app"}}) for q in questions}

        class Cached:  # the encoder already ran: what is left of rank() is search and fusion
            name = embedder.name

            def embed(self, texts: list[str]) -> list[list[float]]:
                return [vectors[t] for t in texts]

        real = retriever.dense.embedder  # the one rank() encodes with
        retriever.dense.embedder = Cached()  # type: ignore[assignment]
        rank_without_encode = timed(lambda q: retriever.rank(q), questions)
        dense = timed(lambda q: retriever.dense.scores(q, "customer"), questions)
        retriever.dense.embedder = real
        encode = timed(lambda q: embedder.embed([q]), questions)
        keyword = timed(lambda q: retriever.keyword.scores(tokenize(q)), questions)
        rankings = {q: retriever.rank(q) for q in questions}
        stages = {
            "parse": timed(lambda q: ChatRequest.model_validate_json(body[q]), questions),
            "condense": timed(
                lambda q: standalone_query(q, [(t.role, t.content) for t in history]), questions
            ),
            "encode": encode,
            "dense_search": dense,
            "keyword_search": keyword,
            "fusion": [],
            "confidence": timed(lambda q: agent.model.confidence(rankings[q].signals), questions),
            "compose": timed(
                lambda q: (
                    extractive_answer(
                        rankings[q].hits[0],
                        retriever.catalog.sections(rankings[q].hits[0].article_id),
                    )
                    if rankings[q].hits
                    else None
                ),
                questions,
            ),
        }
        # What rank() spends beyond the two searches: fusion, the boost, signals.
        stages["fusion"] = [
            max(r - d - k, 0.0) for r, d, k in zip(rank_without_encode, dense, keyword, strict=True)
        ]
        engine = db.connect(None, settings.data_dir)
        store = Conversations(engine, agent)
        turn_in_process = timed(lambda q: store.chat(q), questions)
        reply_only = timed(lambda q: agent.reply(q), questions)
        stages["store"] = [
            max(t - r, 0.0) for t, r in zip(turn_in_process, reply_only, strict=True)
        ]
        http_settings = Settings(
            kb_dir=settings.kb_dir, data_dir=settings.data_dir, rate_limit_per_minute=10**9
        )
        app = create_app(http_settings, copilot=Copilot(http_settings, engine=engine, agent=agent))
        with serve(app) as base, httpx.Client(base_url=base) as http:
            json_type = {"Content-Type": "application/json"}

            def post(q: str) -> None:
                r = http.post("/v1/chat", content=body[q], headers=json_type)
                assert r.status_code == 200, r.text

            over_http = timed(post, questions)
        stages["http"] = [max(h - t, 0.0) for h, t in zip(over_http, turn_in_process, strict=True)]
        batching = {}
        for size in (1, 2, 4, 8):
            batch = [questions[i : i + size] for i in range(0, 64, size)]
            start = time.perf_counter()
            for _ in range(3):
                for b in batch:
                    embedder.embed(b)
            per_query = (time.perf_counter() - start) * 1000 / (3 * 64)
            batching[f"batch_{size}"] = {"ms_per_query": round(per_query, 3)}
        engine.dispose()
        opened.close()
    result = {
        "kb": f"generated ({generated} articles)" if generated else "sample (46 articles)",
        "encoder": embedder.name + (" (onnx)" if "Onnx" in type(embedder).__name__ else ""),
        "questions": len(questions),
        "stages": {name: stats(times) for name, times in stages.items()},
        "turn_in_process": stats(turn_in_process),
        "turn_over_http_one_client": stats(over_http),
        "encoder_batching": batching,
    }
    print(f"{'stage':16s} {'p50 ms':>8s} {'p95 ms':>8s}")
    for name, s in result["stages"].items():  # type: ignore[union-attr]
        print(f"{name:16s} {s['p50_ms']:8.3f} {s['p95_ms']:8.3f}")
    for name in ("turn_in_process", "turn_over_http_one_client"):
        s = result[name]  # type: ignore[assignment]
        print(f"{name:26s} p50 {s['p50_ms']:.2f} ms  p95 {s['p95_ms']:.2f} ms")
    print("encoder batching (ms per query):", {k: v["ms_per_query"] for k, v in batching.items()})
    RESULTS.mkdir(exist_ok=True)
    name = "stage_budget" + (f"-gen{generated}" if generated else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
