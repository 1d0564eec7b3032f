"""Leave-one-dataset-out (LODO): is the shipped confidence model safe on a KB it never saw?

For each of the five labelled KBs (bench/lodo_data.py): fit the model on the other four exactly
as bench/fit_shipped_model.py fits the shipped one (each KB weighted equally, six signals
z-scored against each KB's own left-out probes), hand it to the product's `calibrate()` as a
`Shipped` (copilot/answer/calibrate.py: `Shipped.for_kb`, its probes, the threshold
max(probe rule, 97th percentile of left-out probe scores)), and score the held-out set's
questions with the agent's decision (answer when something was retrieved, the customer did not
ask for a person, and `ConfidenceModel.confidence` >= the answer threshold) through
`copilot.evals.metrics.answer_metrics`. Beside it: the probe-only self-calibration the product
used before the shipped model (a logistic fitted on the KB's own threshold probes, threshold
`threshold_for` at 5% on them), and the oracle (threshold chosen on the test labels: a ceiling).

  S=../shared/eval; export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
  .venv/bin/python -m bench.lodo_study [--live]

`--live` runs `calibrate()` on the live Retriever of each held-out set instead of the cached
rankings (same figures, ~6 min more). Needs the indexes and cache of bench/lodo_data.py (built on
first use). Prints a table and writes bench/results/lodo.json; without ../shared/eval it prints
why and exits 0.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from bench.lodo_data import SETS, KbData, load, opened, question_key, skip_if_missing
from copilot.answer.calibrate import Shipped, calibrate
from copilot.answer.confidence import SIGNALS, ConfidenceModel, fit_logistic, threshold_for
from copilot.evals.metrics import Outcome, answer_metrics

RESULTS = Path(__file__).parent / "results"
TARGET = 0.05
# The recipe of the shipped model (copilot/answer/confidence_model.json).
NORMALISED = ("top_dense", "dense_margin", "top_fused", "fused_margin", "top_keyword_z", "coverage")
L2, STEPS, QUANTILE = 1.0, 2000, 0.97
# STUDY_RESULTS.md (/work/study): answered / wrong / handoff recall / AUROC, oracle of the shipped
# recipe, on the fusion before query fusion for follow-ups (section A) ...
STUDY = {
    "stackfaq": (0.749, 0.041, 0.94, 0.944, 0.791),
    "mtrag-govt": (0.032, 0.0, 1.0, 0.821, 0.128),
    "mtrag-fiqa": (0.030, 0.0, 1.0, 0.683, 0.045),
    "mtrag-clapnq": (0.0, 0.0, 1.0, 0.846, 0.297),
    "flowbench": (0.377, 0.035, 1.0, 0.942, 0.775),
}
# ... and on query fusion ("Confidence model on the candidate fusion", lodo_fusion_second.json),
# which the product's Retriever does since 9ce825a.
STUDY_QUERY_FUSION = {
    "stackfaq": (0.792, 0.044, 0.93, 0.947, 0.806),
    "mtrag-govt": (0.027, 0.0, 1.0, 0.799, 0.032),
    "mtrag-fiqa": (0.030, 0.0, 1.0, 0.692, 0.060),
    "mtrag-clapnq": (0.0, 0.0, 1.0, 0.867, 0.279),
    "flowbench": (0.344, 0.038, 1.0, 0.947, 0.841),
}
METRICS = ("answered", "wrong", "handoff_recall", "auroc", "oracle")


def fit_weighted_logistic(
    x: np.ndarray, y: np.ndarray, groups: np.ndarray, l2: float = L2, steps: int = STEPS
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """`confidence.fit_logistic` with every group (training KB) weighted equally.
    Returns (weights, bias, mean, scale) over the standardised features."""
    labels = np.unique(groups)
    w_row = np.zeros(len(y))
    for g in labels:
        w_row[groups == g] = len(y) / (len(labels) * max(int((groups == g).sum()), 1))
    mean = np.average(x, axis=0, weights=w_row)
    scale = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w_row))
    scale[scale < 1e-9] = 1.0
    xs = (x - mean) / scale
    w, b, n = np.zeros(x.shape[1]), 0.0, len(y)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(xs @ w + b)))
        r = w_row * (p - y)
        w -= 0.5 * (xs.T @ r / n + l2 * w / n)
        b -= 0.5 * float(r.mean())
    return w, b, mean, scale


def normalised_design(data: KbData) -> np.ndarray:
    """The questions' signals with NORMALISED ones z-scored against the KB's left-out probes
    (the mean and floored std that `Shipped.for_kb` uses)."""
    x = data.q_x.copy()
    for j, name in enumerate(SIGNALS):
        if name in NORMALISED:
            values = data.lo_x[:, j] if len(data.lo_x) else np.zeros(1)
            x[:, j] = (x[:, j] - values.mean()) / max(float(values.std()), 1e-6)
    return x


def fit(train: Sequence[str]) -> Shipped:
    """The shipped recipe fitted on the real questions (those that retrieved anything) of
    `train`, each set weighted equally; label = the top article is an expected one."""
    xs, ys, gs = [], [], []
    for g, name in enumerate(train):
        data = load(name)
        xs.append(normalised_design(data)[data.q_has])
        ys.append(data.q_right[data.q_has].astype(float))
        gs.append(np.full(int(data.q_has.sum()), g))
    w, b, mean, scale = fit_weighted_logistic(np.vstack(xs), np.concatenate(ys), np.concatenate(gs))
    return Shipped(
        tuple(float(v) for v in w),
        float(b),
        tuple(float(v) for v in mean),
        tuple(float(v) for v in scale),
        frozenset(NORMALISED),
        QUANTILE,
        f"the LODO model (real questions of {', '.join(train)})",
    )


def probabilities(data: KbData, model: ConfidenceModel) -> np.ndarray:
    """Each question's confidence as the agent computes it."""
    return np.array(
        [model.confidence(dict(zip(SIGNALS, row, strict=True))).value for row in data.q_x]
    )


def score(data: KbData, p: np.ndarray, threshold: float, rows: np.ndarray) -> dict[str, float]:
    """The eval's answer metrics (copilot.evals.metrics) for the agent's decision on `rows`."""
    answered = data.q_has & ~data.forced & (p >= threshold)
    questions, outcomes = [], []
    for i in np.flatnonzero(rows):
        ranking = data.rankings[question_key(data.queries[i], data.questions[i])]
        top = ranking.hits[0].article_id if ranking.hits else None
        kind = "answer" if answered[i] else "handoff"
        questions.append(data.questions[i])
        outcomes.append(Outcome(kind, top if answered[i] else None, top, float(p[i])))
    m = answer_metrics(questions, outcomes)
    return {
        "answered": m["answer_rate"],
        "wrong": m["wrong_answer_rate"],
        "handoff_recall": m["handoff_recall"],
        "auroc": m["auroc"],
        "answers": float((answered & rows).sum()),
        "threshold": threshold,
    }


def oracle(data: KbData, p: np.ndarray) -> float:
    """The best answered share at <= 5% wrong with the threshold picked on the test labels."""
    rows = data.q_has & ~data.forced
    order = np.argsort(-p[rows], kind="stable")
    ok = data.q_right[rows][order]
    ans = data.answerable[rows][order]
    wrong = np.cumsum(~ok) / np.arange(1, len(ok) + 1)
    safe = wrong <= TARGET
    n_ans = max(int(data.answerable.sum()), 1)
    return float(np.cumsum(ans)[safe].max() / n_ans) if safe.any() else 0.0


def probe_only(data: KbData) -> ConfidenceModel:
    """The calibration before the shipped model (copilot/answer/calibrate.py until f131bde): a
    logistic fitted on the KB's threshold probes, threshold at 5% wrong on the same probes."""
    y = data.thr_right.astype(float)
    if len(set(y.tolist())) < 2:
        return ConfidenceModel(fitted_on="too few examples")
    model = fit_logistic(data.thr_x, y)
    probs = [model.probability(dict(zip(SIGNALS, r, strict=True))) for r in data.thr_x]
    model.answer_threshold = threshold_for(probs, data.thr_right.tolist(), TARGET)
    return model


def held_out(test: str, live: bool) -> dict[str, Any]:
    names = list(SETS)
    shipped = fit([n for n in names if n != test])
    data = load(test)
    start = time.perf_counter()
    with opened(test) if live else nullcontext(data.retriever) as retriever:
        model = calibrate(retriever, TARGET, shipped)
    seconds = time.perf_counter() - start
    p = probabilities(data, model)
    rows = np.ones(len(data.questions), dtype=bool)
    shipped_m = score(data, p, model.answer_threshold, rows)
    shipped_m.update(model.notes)
    shipped_m["oracle"] = oracle(data, p)
    shipped_m["calibrate_seconds"] = seconds
    before = probe_only(data)
    p_before = probabilities(data, before)
    before_m = score(data, p_before, before.answer_threshold, rows)
    before_m["oracle"] = oracle(data, p_before)
    return {"shipped": shipped_m, "before": before_m, "model": shipped}


def cell(m: dict[str, float]) -> str:
    bang = "!" if m["wrong"] > TARGET else ""
    return f"{m['answered']:.3f}/{m['wrong']:.3f}{bang}/{m['handoff_recall']:.2f}/{m['auroc']:.3f}"


def table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    names = list(SETS)
    lines = ["| recipe | " + " | ".join(names) + " | all <= 5%? |", "|---" * (len(names) + 2) + "|"]
    for label, key in (
        ("before: probe-only self-calibration", "before"),
        ("shipped: LODO model + product calibrate()", "shipped"),
    ):
        res = {n: results[n][key] for n in names}
        safe = "yes" if all(m["wrong"] <= TARGET for m in res.values()) else "no"
        lines.append(f"| {label} | " + " | ".join(cell(res[n]) for n in names) + f" | {safe} |")
    for label, study in (
        ("study, fusion before query fusion", STUDY),
        ("study, query fusion (today's retrieval)", STUDY_QUERY_FUSION),
    ):
        lines.append(
            f"| {label} | "
            + " | ".join("{:.3f}/{:.3f}/{:.2f}/{:.3f}".format(*study[n][:4]) for n in names)
            + " | yes |"
        )
    lines.append(
        "| oracle (test-label threshold: a ceiling) | "
        + " | ".join(f"{results[n]['shipped']['oracle']:.3f}" for n in names)
        + " | |"
    )
    return "\n".join(lines)


def main() -> None:
    skip_if_missing()
    live = "--live" in sys.argv
    start = time.perf_counter()
    names = list(SETS)
    for n in names:
        load(n)
    runs = {n: held_out(n, live) for n in names}
    results = {n: {k: runs[n][k] for k in ("shipped", "before")} for n in names}
    wall = time.perf_counter() - start
    print("cells: answered / wrong / handoff recall / AUROC (LODO); ! = over 5% wrong")
    print(table(results))
    print("threshold (by probes, by left-out q.97), calibrate() seconds; minus the study's query")
    print("fusion row (answered, wrong, handoff recall, AUROC, oracle):")
    for n in names:
        m = results[n]["shipped"]
        diff = [round(m[k] - v, 3) for k, v in zip(METRICS, STUDY_QUERY_FUSION[n], strict=True)]
        print(
            f"  {n}: {m['threshold']:.4f} ({m['threshold_by_probes']:.4f}, "
            f"{m['threshold_by_left_out']:.4f}), {m['answers']:.0f} answers, "
            f"{m['calibrate_seconds']:.1f}s; {diff}"
        )
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "command": ".venv/bin/python -m bench.lodo_study" + (" --live" if live else ""),
        "cells": "answered = answer_rate, wrong = wrong_answer_rate (copilot.evals.metrics)",
        "target_wrong_rate": TARGET,
        "recipe": {"normalised": list(NORMALISED), "l2": L2, "steps": STEPS, "quantile": QUANTILE},
        "calibrate_on": "live Retriever" if live else "cached rankings (bench/lodo_data.py)",
        "results": results,
        "lodo_models": {
            n: {"weights": list(r["model"].weights), "bias": r["model"].bias}
            for n, r in runs.items()
        },
        "study": {
            "before_query_fusion": {
                n: dict(zip(METRICS, v, strict=True)) for n, v in STUDY.items()
            },
            "query_fusion": {
                n: dict(zip(METRICS, v, strict=True)) for n, v in STUDY_QUERY_FUSION.items()
            },
        },
        "wall_seconds": round(wall, 1),
    }
    out = RESULTS / "lodo.json"
    out.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {out} ({wall:.0f}s)")


if __name__ == "__main__":
    main()
