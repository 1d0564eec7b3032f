"""ragas's metrics that need no LLM, over what the agent retrieved and answered: context precision
and recall by article id (top 5 articles against the expected ones) and the similarity of the
answer to the dataset's `reference_answer` (Levenshtein and ROUGE-L). Only `copilot eval` imports
this: ragas takes ~3 s to import.

ragas sends usage telemetry unless the environment says `RAGAS_DO_NOT_TRACK=true` (`OFFLINE_ENV`).
A library must not set the environment, so the Makefile exports it and `copilot eval` applies it
before the first ragas import. These metrics load no tiktoken encoding (measured with ragas 0.4.3),
so `TIKTOKEN_CACHE_DIR` is not needed here."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from statistics import fmean
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from copilot.types import Question

K = 5
RAGAS_METRICS = (
    "ragas_context_precision",
    "ragas_context_recall",
    "ragas_answer_similarity",
    "ragas_answer_rouge_l",
)
OFFLINE_ENV = {"RAGAS_DO_NOT_TRACK": "true"}  # for a main() to apply, never set here


def ragas_scores(
    questions: Sequence[Question], rankings: Sequence[Sequence[str]], answers: Sequence[str | None]
) -> dict[str, float | None]:
    """Means over answerable questions (answer similarity: over those answered that have a
    reference answer); None when no question qualifies."""
    return asyncio.run(_scores(questions, rankings, answers))


async def _scores(
    questions: Sequence[Question], rankings: Sequence[Sequence[str]], answers: Sequence[str | None]
) -> dict[str, float | None]:
    from ragas.dataset_schema import SingleTurnSample

    # The id-based metrics are not re-exported by ragas.metrics.collections in 0.4.3, and the
    # ragas.metrics path warns it is deprecated.
    from ragas.metrics._context_precision import IDBasedContextPrecision
    from ragas.metrics._context_recall import IDBasedContextRecall
    from ragas.metrics.collections import NonLLMStringSimilarity, RougeScore

    precision, recall = IDBasedContextPrecision(), IDBasedContextRecall()
    similarity, rouge = NonLLMStringSimilarity(), RougeScore()
    p, r, s, rl = [], [], [], []
    for q, ranked, answer in zip(questions, rankings, answers, strict=True):
        if not q.answerable:
            continue
        top: list[str | int] = list(ranked[:K])
        expected: list[str | int] = list(q.expected)
        sample = SingleTurnSample(retrieved_context_ids=top, reference_context_ids=expected)
        # Nothing retrieved is precision 0 here, where ragas would say "undefined".
        p.append(float(await precision.single_turn_ascore(sample)) if top else 0.0)
        r.append(float(await recall.single_turn_ascore(sample)))
        if answer and q.reference_answer:
            s.append(float((await similarity.ascore(q.reference_answer, answer)).value))
            rl.append(float((await rouge.ascore(q.reference_answer, answer)).value))
    return dict(zip(RAGAS_METRICS, (_mean(p), _mean(r), _mean(s), _mean(rl)), strict=True))


def _mean(values: list[float]) -> float | None:
    return round(fmean(values), 4) if values else None
