"""Confidence: the probability that the top article answers the question, from retrieval signals
through a small logistic model. The model ships fitted on labelled KBs and is adapted to each KB,
with its answer threshold, by `copilot calibrate` (copilot/answer/calibrate.py), which writes it to
the data folder.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from copilot.errors import ConfigError
from copilot.types import Confidence, Hit

SIGNALS = (
    "top_dense",
    "dense_margin",
    "top_fused",
    "fused_margin",
    "top_keyword_z",
    "agreement",
    "coverage",
    "query_terms",
)


def signals(
    hits: Sequence[Hit], query_terms: int, coverage: float, keyword_z: float
) -> dict[str, float]:
    """The evidence behind one ranking, as named numbers (stored with every turn)."""
    if not hits:
        return dict.fromkeys(SIGNALS, 0.0)
    top, second = hits[0], hits[1] if len(hits) > 1 else None
    by_dense = max(hits, key=lambda h: h.dense)
    by_keyword = max(hits, key=lambda h: h.keyword)
    return {
        "top_dense": top.dense,
        "dense_margin": top.dense - (max(h.dense for h in hits[1:]) if second else 0.0),
        "top_fused": top.score,
        "fused_margin": top.score - (second.score if second else 0.0),
        "top_keyword_z": keyword_z,
        "agreement": float(by_dense.article_id == by_keyword.article_id == top.article_id),
        "coverage": coverage,
        "query_terms": math.log1p(query_terms),
    }


@dataclass
class ConfidenceModel:
    """Logistic regression over standardised signals, plus the thresholds the decision uses."""

    weights: list[float] = field(default_factory=lambda: [0.0] * len(SIGNALS))
    bias: float = 0.0
    mean: list[float] = field(default_factory=lambda: [0.0] * len(SIGNALS))
    scale: list[float] = field(default_factory=lambda: [1.0] * len(SIGNALS))
    answer_threshold: float = 0.5
    clarify_threshold: float = 0.25
    fitted_on: str = "uncalibrated"
    target_wrong_rate: float = 0.05
    notes: dict[str, float] = field(default_factory=dict)

    def probability(self, named: dict[str, float]) -> float:
        x = (np.array([named[s] for s in SIGNALS]) - self.mean) / self.scale
        z = float(np.dot(self.weights, x) + self.bias)
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))

    def confidence(self, named: dict[str, float]) -> Confidence:
        # Unrounded: the threshold was set on these very numbers (certify.py, threshold_for).
        return Confidence(self.probability(named), named)

    def save(self, path: Path) -> None:
        from copilot.index.store import write_atomic

        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> ConfidenceModel:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise ConfigError(
                f"confidence parameters {path} unreadable ({exc}): run `copilot calibrate`"
            ) from None


def fit_logistic(
    x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 2000
) -> ConfidenceModel:
    """Fit weights by gradient descent on standardised features (small data: a few hundred rows)."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    xs = (x - mean) / scale
    w, b = np.zeros(x.shape[1]), 0.0
    n = len(y)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xs @ w + b)))
        grad_w = xs.T @ (p - y) / n + l2 * w / n
        grad_b = float(np.mean(p - y))
        w -= 0.5 * grad_w
        b -= 0.5 * grad_b
    return ConfidenceModel(weights=w.tolist(), bias=b, mean=mean.tolist(), scale=scale.tolist())


def threshold_for(probabilities: Sequence[float], correct: Sequence[bool], target: float) -> float:
    """The lowest threshold at which answering (p >= t) keeps the wrong-answer rate <= target."""
    pairs = sorted(zip(probabilities, correct, strict=True), key=lambda pc: -pc[0])
    best, wrong = 1.0, 0
    for i, (p, ok) in enumerate(pairs, 1):
        wrong += not ok
        if i < len(pairs) and pairs[i][0] == p:
            continue  # ties: a threshold answers all of them or none
        if wrong / i <= target:
            best = p
    return best
