"""Self-calibration: fit the confidence model and thresholds to the KB being served, with no
labelled questions. The KB supplies its own:

- positives: each article's title and the first sentence of its Symptoms, asked of the full index
  (right when that article comes first);
- on-topic negatives: the same questions with that article left out of the index, where any
  answer is wrong and the right reply is a handoff.

Thresholds fitted on one KB do not transfer to another (RETRIEVAL_NOTES.md, lesson 6), which is
why every KB gets its own.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from copilot.answer.confidence import SIGNALS, ConfidenceModel, fit_logistic, threshold_for
from copilot.answer.retrieve import Retriever, standalone_query
from copilot.errors import ConfigError
from copilot.types import Question

DROPOUT = 0.0  # measured (bench/calibration_study.py): dropout made thresholds stricter, not truer
VARIANTS = 0
FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(?:\s|$)", re.S)


@dataclass(frozen=True)
class Probe:
    article_id: str
    query: str
    left_out: bool


def probes(retriever: Retriever, dropout: float = DROPOUT, variants: int = VARIANTS) -> list[Probe]:
    """Title and first Symptoms sentence of every article, each also with words dropped: the
    verbatim text sits in the index, so unperturbed probes are far easier than real questions."""
    out = []
    for article in retriever.catalog:
        aid = article.id
        base = {article.title}
        symptoms = retriever.catalog.sections(aid).get("Symptoms", "").strip()
        if symptoms:
            m = FIRST_SENTENCE.match(symptoms)
            base.add((m.group(1) if m else symptoms)[:300])
        queries = set()
        for text in sorted(q for q in base if q):
            queries.add(text)
            for v in range(variants):
                queries.add(_drop_words(text, dropout, f"{aid}|{text}|{v}"))
        for q in sorted(q for q in queries if q.strip()):
            out.append(Probe(aid, q, False))
            out.append(Probe(aid, q, True))
    return out


def _drop_words(text: str, rate: float, seed: str) -> str:
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    words = text.split()
    kept = [w for w in words if rng.random() >= rate]
    return " ".join(kept or words[:1])


def calibrate(
    retriever: Retriever,
    target_wrong_rate: float = 0.05,
    dropout: float = DROPOUT,
    variants: int = VARIANTS,
) -> ConfidenceModel:
    rows, labels = [], []
    for p in probes(retriever, dropout, variants):
        exclude = frozenset({p.article_id}) if p.left_out else frozenset()
        ranking = retriever.rank(p.query, "internal", exclude=exclude)
        if not ranking.hits:
            continue
        right = not p.left_out and ranking.hits[0].article_id == p.article_id
        rows.append([ranking.signals[s] for s in SIGNALS])
        labels.append(float(right))
    fitted_on = f"self-calibration: {len(rows)} probes from {len(retriever.catalog)} articles"
    return fit(rows, labels, target_wrong_rate, fitted_on)


def fit_labelled(
    retriever: Retriever,
    questions: Sequence[Question],
    audience: Literal["customer", "internal"] = "customer",
    target_wrong_rate: float = 0.05,
    source: str = "",
) -> ConfidenceModel:
    """Fit on a docs owner's labelled questions: right when answerable and the top article is an
    expected one; any answer to an unanswerable question is wrong."""
    rows, labels = [], []
    for q in questions:
        ranking = retriever.rank(standalone_query(q.question, q.history), audience)
        if not ranking.hits:
            continue
        rows.append([ranking.signals[s] for s in SIGNALS])
        labels.append(float(q.answerable and ranking.hits[0].article_id in q.expected))
    model = fit(rows, labels, target_wrong_rate, f"labelled: {len(rows)} questions {source}")
    model.notes["labelled"] = 1.0
    return model


def fit(
    rows: list[list[float]], labels: list[float], target_wrong_rate: float, fitted_on: str
) -> ConfidenceModel:
    x, y = np.array(rows), np.array(labels)
    if len(set(labels)) < 2:
        return ConfidenceModel(fitted_on=f"too few examples to calibrate ({fitted_on})")
    model = fit_logistic(x, y)
    probabilities = [model.probability(dict(zip(SIGNALS, row, strict=True))) for row in rows]
    model.answer_threshold = threshold_for(
        probabilities, [bool(v) for v in labels], target_wrong_rate
    )
    model.clarify_threshold = model.answer_threshold / 2
    model.target_wrong_rate = target_wrong_rate
    model.fitted_on = fitted_on.strip()
    model.notes = {"examples": float(len(rows)), "positives": float(y.sum())}
    return model


def params_path(data_dir: Path) -> Path:
    return data_dir / "confidence.json"


def ensure_calibrated(
    retriever: Retriever, data_dir: Path, *, force: bool = False
) -> ConfidenceModel:
    """The KB's fitted model, refitted when the index changed since it was fitted. A model fitted
    on labelled questions (`copilot eval --calibrate`) is kept until `force` (`copilot calibrate`):
    real questions beat the KB's own probes."""
    path = params_path(data_dir)
    built = retriever.index.manifest.built_at
    if path.is_file() and not force:
        try:
            model = ConfidenceModel.load(path)
        except ConfigError:
            model = ConfidenceModel()  # unreadable: fitted again below
        if model.notes.get("index_built_at") == built or model.notes.get("labelled"):
            return model
    model = calibrate(retriever)
    model.notes["index_built_at"] = built
    model.save(path)
    return model
