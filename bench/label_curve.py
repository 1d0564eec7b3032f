"""How many labelled questions from the served KB does it take to answer more, safely?

Per set (bench/lodo_data.py) and label budget (0, 25, 50, 100, 200 questions; whole
conversations drawn with `copilot.evals.dataset.conversations`, 20 draws): the model fitted on
the OTHER four sets (bench/lodo_study.py) is adapted to the KB by the product's `calibrate()`;
the labelled questions (`Label.from_question`) go through the product's `certify_labels()`
(fixed-sequence one-sided 90% Clopper-Pearson bound <= 5%, copilot/answer/certify.py) and
`with_labels()` (the certified threshold when there is one, else the shipped one stays). The
rest of the set is scored with the agent's decision: answered / wrong / share of draws over 5%
wrong / share of draws certified. A budget >= 80% of a set's questions is skipped.

  export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
  .venv/bin/python -m bench.label_curve

Prints a table and writes bench/results/label_curve.json; without ../shared/eval it prints why
and exits 0.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import numpy as np

from bench.lodo_data import SETS, load as load_data, skip_if_missing
from bench.lodo_study import TARGET, fit, probabilities, score
from copilot.answer.calibrate import calibrate, certify_labels, with_labels
from copilot.evals.dataset import conversations
from copilot.types import Label

RESULTS = Path(__file__).parent / "results"
BUDGETS = (0, 25, 50, 100, 200)
DRAWS = 20
# STUDY_RESULTS.md (/work/study), "Labels from the same KB", with the study's rule (the lowest
# certifying threshold, any position): answered / wrong / over 5% share / certified share.
STUDY = {
    "stackfaq": {
        "0": (0.749, 0.041, 0, 0),
        "25": (0.749, 0.041, 0, 0),
        "50": (0.748, 0.041, 0, 0),
        "100": (0.738, 0.040, 0.05, 0.20),
        "200": (0.642, 0.038, 0.15, 0.70),
    },
    "mtrag-govt": {
        "0": (0.032, 0, 0, 0),
        "25": (0.032, 0, 0, 0),
        "50": (0.035, 0, 0, 0),
        "100": (0.033, 0, 0, 0),
    },
    "mtrag-fiqa": {
        "0": (0.030, 0, 0, 0),
        "25": (0.030, 0, 0, 0),
        "50": (0.030, 0, 0, 0),
        "100": (0.032, 0, 0, 0),
    },
    "mtrag-clapnq": {
        "0": (0, 0, 0, 0),
        "25": (0, 0, 0, 0),
        "50": (0, 0, 0, 0),
        "100": (0, 0, 0, 0),
    },
    "flowbench": {
        "0": (0.377, 0.035, 0, 0),
        "25": (0.382, 0.033, 0, 0),
        "50": (0.374, 0.033, 0, 0),
        "100": (0.507, 0.034, 0.05, 0.35),
    },
}


def curve(test: str) -> dict[str, dict[str, float | None]]:
    names = list(SETS)
    data = load_data(test)
    shipped = calibrate(data.retriever, TARGET, fit([n for n in names if n != test]))
    index_of = {q.id: i for i, q in enumerate(data.questions)}
    convs = [[index_of[q.id] for q in group] for group in conversations(data.questions)]
    out: dict[str, dict[str, float | None]] = {}
    for budget in BUDGETS:
        if budget >= 0.8 * len(data.questions):
            continue
        cells = []
        for draw in range(DRAWS if budget else 1):
            rng = np.random.default_rng(1000 * budget + draw)
            labelled: list[int] = []
            for c in rng.permutation(len(convs)):
                if len(labelled) >= budget:
                    break
                labelled += convs[c]
            model = copy.deepcopy(shipped)
            certified = None
            if labelled:
                labels = [Label.from_question(data.questions[i]) for i in labelled]
                cert = certify_labels(data.retriever, model, labels, "customer")
                model = with_labels(model, cert, "(label_curve)")
                certified = cert.threshold
            rest = np.ones(len(data.questions), dtype=bool)
            rest[labelled] = False
            m = score(data, probabilities(data, model), model.answer_threshold, rest)
            m["certified"] = float(certified is not None)
            m["labels"] = float(len(labelled))
            cells.append(m)
        thresholds = [c["threshold"] for c in cells if c["certified"]]
        out[str(budget)] = {
            "answered": float(np.mean([c["answered"] for c in cells])),
            "wrong": float(np.mean([c["wrong"] for c in cells])),
            "over_target_share": float(np.mean([c["wrong"] > TARGET for c in cells])),
            "certified_share": float(np.mean([c["certified"] for c in cells])),
            "labels": float(np.mean([c["labels"] for c in cells])),
            "draws": float(len(cells)),
            "shipped_threshold": shipped.answer_threshold,
            "certified_threshold_mean": float(np.mean(thresholds)) if thresholds else None,
        }
    return out


def main() -> None:
    skip_if_missing()
    start = time.perf_counter()
    names = list(SETS)
    out = {n: curve(n) for n in names}
    wall = time.perf_counter() - start
    print("cells: answered / wrong / share of draws over 5% / share of draws certified")
    print("| labels | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for budget in BUDGETS:
        row = []
        for n in names:
            c = out[n].get(str(budget))
            row.append(
                "-"
                if c is None
                else f"{c['answered']:.3f}/{c['wrong']:.3f}/{c['over_target_share']:.2f}"
                f"/{c['certified_share']:.2f}"
            )
        print(f"| {budget} | " + " | ".join(row) + " |")
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "command": ".venv/bin/python -m bench.label_curve",
        "rule": "copilot.answer.certify.certify (fixed sequence, 90% one-sided Clopper-Pearson, "
        f"target {TARGET})",
        "results": out,
        "study_lowest_certifying_rule": STUDY,
        "wall_seconds": round(wall, 1),
    }
    path = RESULTS / "label_curve.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path} ({wall:.0f}s)")


if __name__ == "__main__":
    main()
