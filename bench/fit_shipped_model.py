"""Fit the shipped confidence model on ALL five labelled KBs (bench/lodo_data.py; each weighted
equally) with the recipe measured leave-one-dataset-out in bench/lodo_study.py, and write it
where the product reads it (copilot/answer/confidence_model.json, `Shipped.load`).

  export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
  .venv/bin/python -m bench.fit_shipped_model [--out PATH]

Writes copilot/answer/confidence_model.json (or PATH) and prints how the weights differ from
the file that was there (the committed one, with --out to a new file). Without ../shared/eval
it prints why and exits 0.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

from bench.lodo_data import SETS, load, skip_if_missing
from bench.lodo_study import L2, NORMALISED, QUANTILE, STEPS, TARGET, fit
from copilot.answer.calibrate import SHIPPED, Shipped
from copilot.answer.confidence import SIGNALS
from copilot.answer.retrieve import FusionWeights

NUMBERS = ("weights", "bias", "mean", "scale")


def params(names: list[str]) -> dict[str, object]:
    model = fit(names)
    counts = {}
    for n in names:
        data = load(n)
        counts[n] = {
            "questions": int(data.q_has.sum()),
            "top_right": int(data.q_right[data.q_has].sum()),
            "left_out_probes": len(data.lo_x),
        }
    fusion = FusionWeights()
    return {
        "features": list(SIGNALS),
        "normalised": list(NORMALISED),
        "weights": [round(w, 6) for w in model.weights],
        "bias": round(model.bias, 6),
        "mean": [round(m, 6) for m in model.mean],
        "scale": [round(s, 6) for s in model.scale],
        "target_wrong_rate": TARGET,
        "threshold_rule": {
            "rule": "max",
            "probe_mix": ["thr_in", "thr_out"],
            "target": TARGET,
            "quantile": QUANTILE,
        },
        "fitted": {
            "how": "logistic regression (bench/lodo_study.py fit_weighted_logistic: gradient "
            f"descent, l2={L2}, {STEPS} steps) on real questions' signals, label = top article "
            "expected; each training KB weighted equally; signals in `normalised` z-scored "
            "against each KB's own left-out probes; then standardised by mean/scale",
            "sets": names,
            "counts": counts,
            "fusion": {
                "dense": fusion.dense,
                "title_boost": fusion.symptom_boost,
                "symptom_boost": fusion.symptom_boost,
                "k1": 1.5,
                "b": 0.75,
                "extra": 0.0,
                "alone_self_contained": fusion.alone_self_contained,
                "alone_elliptic": fusion.alone_elliptic,
                "alone_cosine": fusion.alone_cosine,
            },
            "date": date.today().isoformat(),
            "script": "bench/fit_shipped_model.py",
            "evidence": "bench/results/lodo.json (leave-one-dataset-out, bench/lodo_study.py)",
        },
    }


def main() -> None:
    skip_if_missing()
    path = Path(sys.argv[sys.argv.index("--out") + 1]) if "--out" in sys.argv else SHIPPED
    before = json.loads((path if path.is_file() else SHIPPED).read_text())
    new = params(list(SETS))
    path.write_text(json.dumps(new, indent=2) + "\n")
    Shipped.load(path)  # the product reads it
    print(f"wrote {path}")
    print(json.dumps({k: new[k] for k in ("weights", "bias")}))
    worst = max(abs(a - b) for a, b in zip(_numbers(new), _numbers(before), strict=True))
    same = new["fitted"]["counts"] == before["fitted"]["counts"]  # type: ignore[index]
    print(
        f"vs the file before: largest difference in weights/bias/mean/scale {worst:.6f}; "
        f"training counts {'identical' if same else 'DIFFERENT'}"
    )


def _numbers(params: dict[str, object]) -> list[float]:
    out: list[float] = []
    for key in NUMBERS:
        value = params[key]
        out += value if isinstance(value, list) else [float(value)]  # type: ignore[arg-type]
    return out


if __name__ == "__main__":
    main()
