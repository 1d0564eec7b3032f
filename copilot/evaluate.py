"""The eval suite: run a dataset (KB_FORMAT.md) through retrieval and score it as CONTRACT.md
defines, beside two baselines measured in the same run on the same KB and embedder.

Retrieval metrics (hit@1, hit@5, MRR, zero-result rate, latency) score the ranking; answer
metrics (answer rate, wrong-answer rate, handoff recall, AURC, AUROC) score the agent's decisions.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from copilot.errors import ConfigError, DatasetError
from copilot.retrieve import tokenize

if TYPE_CHECKING:
    from copilot.settings import Settings

Ranker = Callable[["Question"], list[str]]  # question -> distinct article ids, best first
Progress = Callable[[int, int], None]  # (questions done, total)

RANK_METRICS = ("hit_at_1", "hit_at_5", "mrr", "zero_result_rate")
ANSWER_METRICS = (
    "answer_rate",
    "correct_answer_rate",
    "wrong_answer_rate",
    "handoff_recall",
    "aurc",
    "auroc",
)
LATENCY_METRICS = ("latency_p50_ms", "latency_p95_ms")


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answerable: bool
    expected: tuple[str, ...]
    reference_answer: str | None = None
    history: tuple[tuple[str, str], ...] = ()
    source: str = ""
    line: int = 0
    conversation: str = ""  # optional `conversation_id`: turns of one conversation share it


def load_dataset(path: Path) -> list[Question]:
    """Read a JSON Lines dataset; any bad line raises DatasetError naming the file and line."""
    if not path.is_file():
        raise DatasetError(f"dataset {path} does not exist")
    questions, seen = [], set()
    with path.open(encoding="utf-8") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            where = f"{path}:{n}"
            try:
                row = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{where}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise DatasetError(f"{where}: each line must be a JSON object")
            for key, kind in (("id", str), ("question", str), ("answerable", bool)):
                if not isinstance(row.get(key), kind):
                    raise DatasetError(f'{where}: field "{key}" is required ({kind.__name__})')
            if row["id"] in seen:
                raise DatasetError(f'{where}: duplicate id "{row["id"]}"')
            seen.add(row["id"])
            expected = row.get("expected_articles") or []
            if not isinstance(expected, list) or not all(isinstance(e, str) for e in expected):
                raise DatasetError(f'{where}: "expected_articles" must be a list of article ids')
            if row["answerable"] and not expected:
                raise DatasetError(f'{where}: answerable question needs "expected_articles"')
            history = row.get("history") or []
            if not isinstance(history, list) or not all(
                isinstance(t, dict) and isinstance(t.get("content"), str) for t in history
            ):
                raise DatasetError(f'{where}: "history" must be a list of {{role, content}}')
            questions.append(
                Question(
                    id=row["id"],
                    question=row["question"],
                    answerable=row["answerable"],
                    expected=tuple(expected),
                    reference_answer=row.get("reference_answer"),
                    history=tuple((str(t.get("role", "user")), t["content"]) for t in history),
                    source=str(row.get("source", "")),
                    line=n,
                    conversation=str(row.get("conversation_id") or ""),
                )
            )
    if not questions:
        raise DatasetError(f"{path}: no questions")
    return questions


TURN_SUFFIX = re.compile(r"[-_:.]t\d+$")


def conversations(questions: Sequence[Question]) -> list[list[Question]]:
    """Questions grouped by conversation, so a split never puts turns of one conversation on both
    sides. Two questions share a conversation when they share a `conversation_id`, an id up to a
    turn suffix ("-t02"), or an opening message (a follow-up's first history turn is the opening
    question of its conversation)."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    keys_of = []
    for q in questions:
        opening = q.history[0][1] if q.history else q.question
        keys = [f"id:{TURN_SUFFIX.sub('', q.id)}", f"open:{opening.strip().lower()}"]
        if q.conversation:
            keys.append(f"conv:{q.conversation}")
        for k in keys[1:]:
            parent[root(k)] = root(keys[0])
        keys_of.append(keys[0])
    groups: dict[str, list[Question]] = {}
    for q, key in zip(questions, keys_of, strict=True):
        groups.setdefault(root(key), []).append(q)
    return list(groups.values())


def calibration_split(
    questions: Sequence[Question], share: float = 0.5
) -> tuple[list[Question], list[Question]]:
    """(calibration, evaluation): whole conversations, assigned by a hash of their first id so
    the split is stable across runs and machines, and never depends on the file's order."""
    calibrate: list[Question] = []
    evaluate: list[Question] = []
    for group in conversations(questions):
        digest = hashlib.sha256(min(q.id for q in group).encode()).digest()
        side = calibrate if int.from_bytes(digest[:4], "big") / 2**32 < share else evaluate
        side.extend(group)
    order = {q.id: i for i, q in enumerate(questions)}
    return sorted(calibrate, key=lambda q: order[q.id]), sorted(evaluate, key=lambda q: order[q.id])


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


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


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
    metrics["latency_p50_ms"] = statistics.median(latencies)
    metrics["latency_p95_ms"] = percentile(latencies, 95)
    return metrics, rankings


def article_texts(kb_dir: Path) -> dict[str, str]:
    """Each article file's whole text by id (front matter included), for the baselines."""
    from copilot.kb import article_files, load_files

    return {
        f.article.id: f.data.decode("utf-8", "replace")
        for f in load_files(article_files(kb_dir))
        if f.article and f.article.id
    }


def bm25_baseline(kb_dir: Path) -> Ranker:
    """BM25Okapi over each article's whole text, lowercase [a-z0-9]+ tokens minus stopwords."""
    from rank_bm25 import BM25Okapi

    texts = article_texts(kb_dir)
    ids = sorted(texts)
    bm25 = BM25Okapi([tokenize(texts[a]) for a in ids])

    def rank(q: Question) -> list[str]:
        tokens = tokenize(q.question)
        if not tokens:
            return []
        scores = bm25.get_scores(tokens)
        order = sorted(range(len(ids)), key=lambda i: -scores[i])
        return [ids[i] for i in order[:10] if scores[i] > 0]

    return rank


def llama_index_baseline(kb_dir: Path, model_path: Path) -> Ranker:
    """A plain VectorStoreIndex: one Document per article file, default settings, same embedder."""
    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Using MockLLM" on stdout
        Settings.llm = None  # type: ignore[assignment]  # None means "no LLM", as documented
    Settings.embed_model = HuggingFaceEmbedding(model_name=str(model_path))
    docs = [
        Document(text=text, doc_id=aid, metadata={"article_id": aid})
        for aid, text in sorted(article_texts(kb_dir).items())
    ]
    index = VectorStoreIndex.from_documents(docs)
    retriever = index.as_retriever(similarity_top_k=20)

    def rank(q: Question) -> list[str]:
        nodes = retriever.retrieve(q.question)
        return list(dict.fromkeys(str(n.node.metadata["article_id"]) for n in nodes))[:10]

    return rank


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


@dataclass(frozen=True)
class Outcome:
    """What the agent did with one question, reduced to what the metrics need."""

    type: str  # answer | clarify | handoff
    first_citation: str | None
    top_article: str | None  # what it would have answered with, for the risk-coverage curve
    confidence: float
    answer: str | None = None  # the answer text, for ragas's similarity to the reference


def answer_metrics(questions: Sequence[Question], outcomes: Sequence[Outcome]) -> dict[str, float]:
    """The CONTRACT.md answer metrics, over the agent's decisions."""
    pairs = list(zip(questions, outcomes, strict=True))
    answerable = [(q, o) for q, o in pairs if q.answerable]
    unanswerable = [(q, o) for q, o in pairs if not q.answerable]
    answers = [(q, o) for q, o in pairs if o.type == "answer"]

    def right(q: Question, article: str | None) -> bool:
        return q.answerable and article in q.expected

    # The risk-coverage view: every question as if answered with its top article.
    confidences = [o.confidence for _, o in pairs]
    top_right = [right(q, o.top_article) for q, o in pairs]
    n_ans = len(answerable) or 1
    return {
        "answer_rate": sum(o.type == "answer" for _, o in answerable) / n_ans,
        "correct_answer_rate": sum(
            o.type == "answer" and right(q, o.first_citation) for q, o in answerable
        )
        / n_ans,
        "handoff_recall": sum(o.type in ("handoff", "clarify") for _, o in unanswerable)
        / (len(unanswerable) or 1),
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
    from copilot.agent import open_agent
    from copilot.embed import load_embedder, minilm_path
    from copilot.index import build_index
    from copilot.types import Turn

    embedder = load_embedder(settings)
    build_index(settings, embedder)
    agent, index = open_agent(settings, embedder=embedder)
    calibration: dict[str, object] = {}
    if calibrate_share is not None:
        from copilot.calibrate import fit_labelled, params_path

        held, questions = calibration_split(questions, calibrate_share)
        if not held or not questions:
            index.close()
            raise ConfigError(
                f"--calibrate split {len(held)} / {len(questions)} questions: the dataset is too "
                "small to both calibrate and evaluate"
            )
        model = fit_labelled(agent.retriever, held, audience, target_wrong_rate, "from the dataset")
        model.notes["index_built_at"] = index.manifest.built_at
        model.save(params_path(settings.data_dir))
        agent.model = model
        calibration = {
            "calibration_questions": len(held),
            "evaluation_questions": len(questions),
            "split": "by conversation",
        }
    outcomes: list[Outcome] = []

    def copilot_rank(q: Question) -> list[str]:
        history = [Turn("assistant" if r == "assistant" else "user", c) for r, c in q.history]
        reply = agent.reply(q.question, history, audience)
        cite = reply.citations[0].article_id if reply.citations else None
        top = reply.hits[0].article_id if reply.hits else None
        answer = reply.text if reply.type == "answer" else None
        outcomes.append(Outcome(reply.type, cite, top, reply.confidence.value, answer))
        return [h.article_id for h in reply.hits]

    with index:
        metrics, rankings = run_ranker(questions, copilot_rank, progress)
    from copilot.ragas_metrics import ragas_scores

    result: dict[str, object] = {**metrics, **answer_metrics(questions, outcomes)}
    result.update(ragas_scores(questions, rankings, [o.answer for o in outcomes]))
    result["by_source"] = by_source(questions, rankings, outcomes)
    result["questions"] = len(questions)
    result["answerable"] = sum(q.answerable for q in questions)
    result["calibration"] = {
        "answer_threshold": agent.model.answer_threshold,
        "fitted_on": agent.model.fitted_on,
        "target_wrong_rate": agent.model.target_wrong_rate,
        **calibration,
    }
    if baselines:
        rankers = {
            "bm25": bm25_baseline(settings.kb_dir),
            "llama_index_default": llama_index_baseline(settings.kb_dir, minilm_path()),
        }
        result["baselines"] = {name: run_ranker(questions, r)[0] for name, r in rankers.items()}
    return result, outcomes, list(questions)


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
