"""`copilot eval`: run a dataset through the real agent and score it (metrics.py), beside the
baselines (baselines.py) measured in the same run on the same KB and embedder."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal

from copilot.errors import ConfigError
from copilot.evals.advice import advice
from copilot.evals.baselines import Ranker, bm25_baseline, llama_index_baseline
from copilot.evals.dataset import calibration_split
from copilot.evals.metrics import Outcome, answer_metrics, by_source, rank_metrics
from copilot.stats import percentile
from copilot.types import Label, Question, Turn

if TYPE_CHECKING:
    from copilot.settings import Settings

Progress = Callable[[int, int], None]  # (questions done, total)


def run_ranker(
    questions: Sequence[Question], ranker: Ranker, progress: Progress | None = None
) -> tuple[dict[str, float], list[list[str]]]:
    rankings, latencies = [], []
    for n, q in enumerate(questions, 1):
        start = time.perf_counter()
        rankings.append(ranker(q))
        latencies.append((time.perf_counter() - start) * 1000)
        if progress:
            progress(n, len(questions))
    metrics = rank_metrics(questions, rankings)
    metrics["latency_p50_ms"] = percentile(latencies, 50)
    metrics["latency_p95_ms"] = percentile(latencies, 95)
    return metrics, rankings


def evaluate_kb(
    settings: Settings,
    questions: Sequence[Question],
    *,
    audience: Literal["customer", "internal"] = "customer",
    baselines: bool = True,
    progress: Progress | None = None,
    calibrate_share: float | None = None,
    target_wrong_rate: float = 0.05,
) -> tuple[dict[str, object], list[Outcome], list[Question]]:
    """Index the KB (incrementally), run every question through the real agent, score it, and
    score the baselines on the same KB and embedder.

    With `calibrate_share`, that share of the conversations first fits the confidence model and
    thresholds (written to the data folder, where the agent reads them) and only the rest is
    evaluated. Returns the metrics, one outcome per evaluated question, and those questions."""
    from copilot.index.build import build_index
    from copilot.index.embed import load_embedder, minilm_path
    from copilot.service import open_agent

    embedder = load_embedder(settings)
    built = build_index(settings, embedder)
    agent, index = open_agent(settings, embedder=embedder)
    calibration: dict[str, object] = {}
    outcomes: list[Outcome] = []
    try:
        if calibrate_share is not None:
            from copilot.answer.calibrate import calibrate, certify_labels, params_path, with_labels

            held, questions = calibration_split(questions, calibrate_share)
            if not held or not questions:
                raise ConfigError(
                    f"--calibrate split {len(held)} / {len(questions)} questions: the dataset is "
                    "too small to both calibrate and evaluate"
                )
            model = calibrate(agent.retriever, target_wrong_rate)
            labels = [Label.from_question(q) for q in held]
            cert = certify_labels(agent.retriever, model, labels, audience)
            model = with_labels(model, cert, "from the dataset")
            model.notes["index_built_at"] = index.manifest.built_at
            model.save(params_path(settings.data_dir))
            agent.model = model
            calibration = {
                "calibration_questions": len(held),
                "evaluation_questions": len(questions),
                "split": "by conversation",
                "certified": cert.threshold is not None,
                "certificate": cert.words(),
            }

        def copilot_rank(q: Question) -> list[str]:
            history = [Turn("assistant" if r == "assistant" else "user", c) for r, c in q.history]
            reply = agent.reply(q.question, history, audience)
            cite = reply.citations[0].article_id if reply.citations else None
            top = reply.hits[0].article_id if reply.hits else None
            answer = reply.text if reply.type == "answer" else None
            offered = tuple(c.article_id for c in reply.suggestions)
            outcomes.append(Outcome(reply.type, cite, top, reply.confidence.value, answer, offered))
            return [h.article_id for h in reply.hits]

        metrics, rankings = run_ranker(questions, copilot_rank, progress)
    finally:  # however this ends, fitting included
        index.close()
    from copilot.evals.ragas import ragas_scores

    result: dict[str, object] = {**metrics, **answer_metrics(questions, outcomes)}
    result.update(ragas_scores(questions, rankings, [o.answer for o in outcomes]))
    result["by_source"] = by_source(questions, rankings, outcomes)
    total = len(built.skipped) + len(built.added) + len(built.updated) + built.unchanged
    result["skipped"] = {
        "count": len(built.skipped),
        "articles": total,
        "share": len(built.skipped) / (total or 1),
        "files": built.skipped,
    }
    result["questions"] = len(questions)
    result["answerable"] = sum(q.answerable for q in questions)
    result["calibration"] = {
        "answer_threshold": agent.model.answer_threshold,
        "fitted_on": agent.model.fitted_on,
        "target_wrong_rate": agent.model.target_wrong_rate,
        **calibration,
    }
    result["advice"] = advice(result, target_wrong_rate)
    if baselines:
        rankers = {
            "bm25": bm25_baseline(settings.kb_dir),
            "llama_index_default": llama_index_baseline(settings.kb_dir, minilm_path()),
        }
        result["baselines"] = {name: run_ranker(questions, r)[0] for name, r in rankers.items()}
    return result, outcomes, list(questions)
