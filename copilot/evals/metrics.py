"""The eval metrics as CONTRACT.md defines them: retrieval (hit@1, hit@5, MRR, zero-result rate)
over rankings, and answers (answer rate, wrong-answer rate, handoff recall, KB search success,
suggestion pick rate, AURC, AUROC) over the agent's decisions; plus `--compare` and the
`--fail-under` / `--fail-over` gates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from copilot.errors import ConfigError
from copilot.types import Question

RANK_METRICS = ("hit_at_1", "hit_at_5", "mrr", "zero_result_rate")
ANSWER_METRICS = (
    "answer_rate",
    "correct_answer_rate",
    "wrong_answer_rate",
    "handoff_recall",
    "kb_search_success",
    "suggest_rate",
    "suggestion_pick_rate",
    "aurc",
    "auroc",
)
LATENCY_METRICS = ("latency_p50_ms", "latency_p95_ms")


@dataclass(frozen=True)
class Outcome:
    """What the agent did with one question, reduced to what the metrics need."""

    type: str  # answer | suggest | handoff (| clarify: reports from before 0.9, read as suggest)
    first_citation: str | None
    top_article: str | None  # what it would have answered with, for the risk-coverage curve
    confidence: float
    answer: str | None = None  # the answer text, for ragas's similarity to the reference
    suggestions: tuple[str, ...] = ()  # "suggest": the articles offered to pick from

    @property
    def suggests(self) -> bool:
        return self.type in SUGGEST_TYPES


SUGGEST_TYPES = ("suggest", "clarify")


def answer_metrics(questions: Sequence[Question], outcomes: Sequence[Outcome]) -> dict[str, float]:
    """The CONTRACT.md answer metrics, over the agent's decisions."""
    pairs = list(zip(questions, outcomes, strict=True))
    answerable = [(q, o) for q, o in pairs if q.answerable]
    unanswerable = [(q, o) for q, o in pairs if not q.answerable]
    answers = [(q, o) for q, o in pairs if o.type == "answer"]

    def right(q: Question, article: str | None) -> bool:
        return q.answerable and article in q.expected

    def found(q: Question, o: Outcome) -> bool:
        """The customer got the right article: answered with it, or offered it to pick."""
        if o.type == "answer":
            return right(q, o.first_citation)
        return o.suggests and bool(set(o.suggestions) & set(q.expected))

    # The risk-coverage view: every question as if answered with its top article.
    confidences = [o.confidence for _, o in pairs]
    top_right = [right(q, o.top_article) for q, o in pairs]
    n_ans = len(answerable) or 1
    suggested = [(q, o) for q, o in pairs if o.suggests]
    return {
        "answer_rate": sum(o.type == "answer" for _, o in answerable) / n_ans,
        "correct_answer_rate": sum(
            o.type == "answer" and right(q, o.first_citation) for q, o in answerable
        )
        / n_ans,
        # A suggestion is not an answer: on a question the KB cannot answer it is no harm done.
        "handoff_recall": sum(o.type == "handoff" or o.suggests for _, o in unanswerable)
        / (len(unanswerable) or 1),
        "kb_search_success": sum(found(q, o) for q, o in answerable) / n_ans,
        "suggest_rate": len(suggested) / (len(pairs) or 1),
        # What a customer would pick: suggest replies that offered an expected article.
        "suggestion_pick_rate": sum(found(q, o) for q, o in suggested) / (len(suggested) or 1),
        "wrong_answer_rate": sum(not right(q, o.first_citation) for q, o in answers)
        / (len(answers) or 1),
        "aurc": aurc(confidences, top_right),
        "auroc": auroc(confidences, top_right),
    }


def auroc(confidences: Sequence[float], correct: Sequence[bool]) -> float:
    """Probability that a right answer gets a higher confidence than a wrong one (ties: half)."""
    pos = [c for c, ok in zip(confidences, correct, strict=True) if ok]
    neg = [c for c, ok in zip(confidences, correct, strict=True) if not ok]
    if not pos or not neg:
        return 0.5
    ranked = sorted((c, i) for i, c in enumerate(confidences))
    ranks = [0.0] * len(confidences)
    i = 0
    while i < len(ranked):  # average ranks over ties
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[ranked[k][1]] = (i + j) / 2 + 1
        i = j + 1
    pos_rank_sum = sum(r for r, ok in zip(ranks, correct, strict=True) if ok)
    return (pos_rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def aurc(confidences: Sequence[float], correct: Sequence[bool]) -> float:
    """Area under the risk-coverage curve: mean wrong-answer rate over every coverage level
    when questions are answered in order of confidence (lower is better)."""
    order = sorted(range(len(confidences)), key=lambda i: -confidences[i])
    wrong, total = 0, 0.0
    for k, i in enumerate(order, 1):
        wrong += not correct[i]
        total += wrong / k
    return total / (len(order) or 1)


def rank_metrics(
    questions: Sequence[Question], rankings: Sequence[Sequence[str]]
) -> dict[str, float]:
    """hit@1, hit@5 and MRR over answerable questions; zero-result rate over all questions."""
    answerable = [(q, r) for q, r in zip(questions, rankings, strict=True) if q.answerable]
    hit1 = hit5 = rr = 0.0
    for q, ranked in answerable:
        rank = next((i for i, a in enumerate(ranked) if a in q.expected), None)
        if rank is not None:
            hit1 += rank == 0
            hit5 += rank < 5
            rr += 1.0 / (rank + 1)
    n = len(answerable) or 1
    return {
        "hit_at_1": hit1 / n,
        "hit_at_5": hit5 / n,
        "mrr": rr / n,
        "zero_result_rate": sum(not r for r in rankings) / (len(rankings) or 1),
    }


def by_source(
    questions: Sequence[Question], rankings: Sequence[Sequence[str]], outcomes: Sequence[Outcome]
) -> dict[str, dict[str, float]]:
    """The retrieval and answer metrics per `source` field of the dataset."""
    groups: dict[str, list[int]] = {}
    for i, q in enumerate(questions):
        groups.setdefault(q.source or "(none)", []).append(i)
    out = {}
    for source, idx in sorted(groups.items()):
        qs = [questions[i] for i in idx]
        metrics = {
            **rank_metrics(qs, [rankings[i] for i in idx]),
            **answer_metrics(qs, [outcomes[i] for i in idx]),
        }
        metrics["questions"] = float(len(idx))
        out[source] = metrics
    return out


def compare(new: dict[str, Any], old: dict[str, Any]) -> list[tuple[str, float, float]]:
    """(metric, old, new) for every number both reports have at the top level."""
    return [
        (k, float(old[k]), float(v))
        for k, v in new.items()
        if isinstance(v, int | float) and isinstance(old.get(k), int | float)
    ]


def check_gates(metrics: dict[str, Any], under: Sequence[str], over: Sequence[str]) -> list[str]:
    """`--fail-under hit_at_5=0.9` / `--fail-over wrong_answer_rate=0.05`: the failed gates."""
    failed = []
    for spec, is_min in [(s, True) for s in under] + [(s, False) for s in over]:
        name, _, raw = spec.partition("=")
        try:
            limit = float(raw)
        except ValueError:
            raise ConfigError(f'gate "{spec}" must look like METRIC=NUMBER') from None
        if name not in metrics or not isinstance(metrics[name], int | float):
            raise ConfigError(f'gate "{spec}": no metric "{name}" (have {", ".join(metrics)})')
        value = float(metrics[name])
        if (is_min and value < limit) or (not is_min and value > limit):
            word = "below" if is_min else "above"
            failed.append(f"{name} = {value:.3f} is {word} {limit}")
    return failed
