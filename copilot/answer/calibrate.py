"""Calibration: when to answer on the KB being served. The confidence model ships fitted on the
real questions of five labelled KBs (`confidence_model.json`, refitted by
`bench/fit_shipped_model.py`); the served KB adapts it with no labels, from probes it supplies:

- the normaliser: six signals are read relative to the KB's own *left-out probes* (each article's
  title, first Symptoms sentence, and first 6-40-word sentence of Cause and of Fix, asked with
  that article left out: realistic on-topic questions the KB cannot answer);
- the threshold: the stricter of (a) the score at which the KB's *threshold probes* (title and
  first Symptoms sentence, with and without their article) keep wrong answers within the target,
  and (b) the score above 97% of the left-out probes.

Measured leave-one-dataset-out (`bench/lodo_study.py`, docs/retrieval.md): wrong answers <= 5%
on all five sets. A probe-only fit, as before, answered mtrag-fiqa at 44% wrong: its probes find
their article, real questions often do not. Labelled questions, once there are enough, certify a
threshold with a guarantee (`certify.py`, `copilot calibrate --labels`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from copilot.answer.catalog import Catalog
from copilot.answer.certify import Certificate, certify
from copilot.answer.confidence import SIGNALS, ConfidenceModel, threshold_for
from copilot.answer.retrieve import Retriever, standalone_query
from copilot.errors import ConfigError
from copilot.types import Label

SHIPPED = Path(__file__).with_name("confidence_model.json")
FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(?:\s|$)", re.S)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
URL = re.compile(r"https?://|www\.", re.I)
CLAIM_WORDS = (6, 40)  # a Cause or Fix sentence long enough to be a question, short enough to fit
# Fewer left-out probes than this cannot say what "unanswerable" looks like on this KB (a KB of
# one or two articles): nothing is answered until labels certify a threshold.
MIN_LEFT_OUT = 20


@dataclass(frozen=True)
class Probe:
    article_id: str
    query: str
    left_out: bool


@dataclass(frozen=True)
class Shipped:
    """The shipped logistic model: weights over SIGNALS; `normalised` ones are read relative to
    the served KB's left-out probes, then every feature is standardised by `mean`/`scale`."""

    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    normalised: frozenset[str]
    quantile: float
    fitted_on: str

    @classmethod
    def load(cls, path: Path = SHIPPED) -> Shipped:
        raw = json.loads(path.read_text())
        if tuple(raw["features"]) != SIGNALS:
            raise ConfigError(f"{path}: features {raw['features']} are not {list(SIGNALS)}")
        sets = ", ".join(raw.get("fitted", {}).get("sets", []))
        return cls(
            tuple(raw["weights"]),
            float(raw["bias"]),
            tuple(raw["mean"]),
            tuple(raw["scale"]),
            frozenset(raw["normalised"]),
            float(raw["threshold_rule"]["quantile"]),
            f"the shipped model (real questions of {sets})",
        )

    def for_kb(self, left_out: Sequence[dict[str, float]]) -> ConfidenceModel:
        """The model with this KB's normaliser folded into its standardisation: a normalised
        signal x becomes ((x - mu) / sd - m) / s = (x - (mu + m sd)) / (sd s)."""
        mean, scale = list(self.mean), list(self.scale)
        for i, name in enumerate(SIGNALS):
            if name in self.normalised:
                values = np.array([row[name] for row in left_out] or [0.0])
                mu, sd = float(values.mean()), max(float(values.std()), 1e-6)
                mean[i], scale[i] = mu + self.mean[i] * sd, sd * self.scale[i]
        return ConfidenceModel(list(self.weights), self.bias, mean, scale)


def _first_symptom(catalog: Catalog, article_id: str) -> str:
    symptoms = catalog.sections(article_id).get("Symptoms", "").strip()
    if not symptoms:
        return ""
    m = FIRST_SENTENCE.match(symptoms)
    return (m.group(1) if m else symptoms)[:300]


def probes(catalog: Catalog) -> list[Probe]:
    """Threshold probes: each article's title and first Symptoms sentence, asked with the
    article in (right when it comes first) and left out (any answer is wrong)."""
    out = []
    for article in catalog:
        texts = {article.title, _first_symptom(catalog, article.id)}
        for q in sorted(t for t in texts if t.strip()):
            out += [Probe(article.id, q, False), Probe(article.id, q, True)]
    return out


def left_out_probes(catalog: Catalog) -> list[Probe]:
    """Normaliser probes: title, first Symptoms sentence and the first 6-40-word sentence of
    Cause and of Fix, each asked with its article left out ("Not stated" sections and URLs
    skipped)."""
    out = []
    for article in catalog:
        sections = catalog.sections(article.id)
        texts = {article.title.strip(), _first_symptom(catalog, article.id).strip()}
        for name in ("Cause", "Fix"):
            body = sections.get(name, "").strip()
            if body and not body.lower().startswith("not stated"):
                texts.add(_claim(body))
        out += [Probe(article.id, t, True) for t in sorted(texts) if t and not URL.search(t)]
    return out


def _claim(text: str) -> str:
    low, high = CLAIM_WORDS
    for sentence in SENTENCE_END.split(text):
        if low <= len(sentence.split()) <= high and not URL.search(sentence):
            return sentence.strip()
    return ""


def _asked(retriever: Retriever, batch: Sequence[Probe]) -> list[tuple[dict[str, float], bool]]:
    """(signals, right) per probe that retrieved anything."""
    out = []
    for p in batch:
        exclude = frozenset({p.article_id}) if p.left_out else frozenset()
        ranking = retriever.rank(p.query, "internal", exclude=exclude)
        if ranking.hits:
            right = not p.left_out and ranking.hits[0].article_id == p.article_id
            out.append((ranking.signals, right))
    return out


def calibrate(
    retriever: Retriever, target_wrong_rate: float = 0.05, shipped: Shipped | None = None
) -> ConfidenceModel:
    """The shipped model adapted to this KB, and its answer threshold (no labels needed)."""
    shipped = shipped or Shipped.load()
    left_out = [s for s, _ in _asked(retriever, left_out_probes(retriever.catalog))]
    if len(left_out) < MIN_LEFT_OUT:
        model = ConfidenceModel(answer_threshold=1.01, clarify_threshold=0.5)
        model.fitted_on = (
            f"not calibrated: {len(left_out)} left-out probes from {len(retriever.catalog)} "
            f"articles are too few (at least {MIN_LEFT_OUT}); nothing is answered until labels "
            "certify a threshold (`copilot calibrate --labels FILE`)"
        )
        return model
    model = shipped.for_kb(left_out)
    scored = _asked(retriever, probes(retriever.catalog))
    by_probes = threshold_for(
        [model.probability(s) for s, _ in scored], [ok for _, ok in scored], target_wrong_rate
    )
    left_scores = [model.probability(s) for s in left_out]
    by_left_out = float(np.quantile(left_scores, shipped.quantile)) if left_scores else 1.0
    model.answer_threshold = max(by_probes, by_left_out)
    model.clarify_threshold = model.answer_threshold / 2
    model.target_wrong_rate = target_wrong_rate
    model.fitted_on = (
        f"{shipped.fitted_on}, adapted to this KB by {len(left_out) + len(scored)} probes from "
        f"{len(retriever.catalog)} articles"
    )
    model.notes = {
        "threshold_by_probes": round(by_probes, 4),
        "threshold_by_left_out": round(by_left_out, 4),
    }
    return model


def certify_labels(
    retriever: Retriever,
    model: ConfidenceModel,
    labels: Sequence[Label],
    audience: Literal["customer", "internal"] = "customer",
) -> Certificate:
    """What labels certify for `model` on this KB. An answer is right when a label says its top
    article answers the question; wrong when the label says the KB does not, or that this very
    article does not (a "not_this" label about another article says nothing, and is left out)."""
    scores, correct = [], []
    for label in labels:
        query = standalone_query(label.question, label.history)
        ranking = retriever.rank(query, audience, alone=label.question)
        if not ranking.hits:
            continue  # never answered, whatever the threshold
        top = ranking.hits[0].article_id
        if label.verdict == "not_this" and top not in label.articles:
            continue
        scores.append(model.probability(ranking.signals))
        correct.append(label.verdict == "answers" and top in label.articles)
    return certify(scores, correct, model.target_wrong_rate)


def with_labels(model: ConfidenceModel, cert: Certificate, source: str) -> ConfidenceModel:
    """`model` answering from the certified threshold when the labels certify one; unchanged
    (the shipped threshold holds) when they do not yet."""
    model.notes = {**model.notes, "labels": float(cert.labels), "label_bound": cert.bound}
    if cert.threshold is None:
        return model
    model.answer_threshold = cert.threshold
    model.clarify_threshold = cert.threshold / 2
    model.fitted_on += f"; threshold certified by {cert.labels} labelled questions {source}"
    model.notes["labelled"] = 1.0
    return model


def params_path(data_dir: Path) -> Path:
    return data_dir / "confidence.json"


def ensure_calibrated(
    retriever: Retriever, data_dir: Path, *, force: bool = False
) -> ConfidenceModel:
    """The KB's calibrated model, calibrated again when the index changed since (a threshold the
    labels certified described the old index: `copilot calibrate` certifies it again, and
    `copilot index` and a reindex do that themselves)."""
    path = params_path(data_dir)
    built = retriever.index.manifest.built_at
    if path.is_file() and not force:
        try:
            model = ConfidenceModel.load(path)
        except ConfigError:
            model = ConfidenceModel()  # unreadable: calibrated again below
        if model.notes.get("index_built_at") == built:
            return model
    model = calibrate(retriever)
    model.notes["index_built_at"] = built
    model.save(path)
    return model
