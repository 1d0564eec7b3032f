"""Calibration on the served KB: the shipped model's KB-relative reading, the probes it asks,
and what happens when a KB is too small to say what "unanswerable" looks like."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from copilot.answer.calibrate import MIN_LEFT_OUT, Shipped, calibrate, left_out_probes, probes
from copilot.answer.confidence import SIGNALS


def test_the_kb_normaliser_folds_into_the_models_standardisation() -> None:
    shipped = Shipped.load()
    rng = np.random.default_rng(3)
    left_out = [dict(zip(SIGNALS, rng.normal(size=len(SIGNALS)), strict=True)) for _ in range(50)]
    model = shipped.for_kb(left_out)
    x = dict(zip(SIGNALS, rng.normal(size=len(SIGNALS)), strict=True))
    # By hand: normalised signals z-scored against the left-out probes, then the shipped
    # standardisation, then the logistic.
    row = []
    for i, name in enumerate(SIGNALS):
        v = x[name]
        if name in shipped.normalised:
            values = np.array([r[name] for r in left_out])
            v = (v - values.mean()) / values.std()
        row.append((v - shipped.mean[i]) / shipped.scale[i])
    z = float(np.dot(shipped.weights, row) + shipped.bias)
    assert model.probability(x) == pytest.approx(1 / (1 + np.exp(-z)))


def test_probes_come_from_each_articles_own_words(sample: Any) -> None:
    catalog = sample[2].catalog
    asked = probes(catalog)
    assert {p.left_out for p in asked} == {True, False}
    assert any(p.query == catalog["sso-login-loop"].title for p in asked)
    left = left_out_probes(catalog)
    assert all(p.left_out for p in left) and len(left) > len(catalog) * 2
    assert not any("http" in p.query for p in left)


def test_the_sample_kb_is_calibrated_by_the_shipped_model(sample: Any) -> None:
    model = calibrate(sample[2])
    assert model.fitted_on.startswith("the shipped model")
    assert 0.5 < model.answer_threshold < 1.0
    assert (
        model.answer_threshold
        == max(model.notes["threshold_by_probes"], model.notes["threshold_by_left_out"])
        or abs(model.answer_threshold - max(model.notes.values())) < 1e-3
    )


def test_a_kb_too_small_to_calibrate_answers_nothing_until_labels_certify(sample: Any) -> None:
    retriever = sample[2]
    tiny = replace(Shipped.load())

    class OneArticle:  # the left-out probes of a KB of one article find nothing
        catalog = retriever.catalog

        def rank(self, *args: Any, **kwargs: Any) -> Any:
            return retriever.rank("the of and")  # no hits

    model = calibrate(OneArticle(), shipped=tiny)  # type: ignore[arg-type]
    assert model.answer_threshold > 1.0
    assert f"at least {MIN_LEFT_OUT}" in model.fitted_on
