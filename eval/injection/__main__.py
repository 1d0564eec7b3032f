"""`python -m eval.injection [--without-guard]`: run the suite, print it, write the report."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from eval.injection.harness import REPORT, ROOT, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.injection", description=__doc__)
    parser.add_argument(
        "--without-guard",
        action="store_true",
        help="the ablation: replies may link anywhere; prints the result, writes no report",
    )
    args = parser.parse_args(argv)
    ablation = args.without_guard
    with tempfile.TemporaryDirectory() as tmp:
        report = run(Path(tmp), guard=not ablation)
    if not ablation:
        REPORT.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    for path, result in report["paths"].items():
        print(
            f"{path}: {len(result['succeeded'])} of {report['cases']} attacks succeeded; "
            f"the model tried to leak in {result['model_outputs_that_tried_to_leak']} replies"
        )
        for category, rate in result["attack_success_rate"].items():
            print(f"  {category:22s} {rate:.3f}  ({result['cases_per_category'][category]} cases)")
    if not ablation:
        print(f"wrote {REPORT.relative_to(ROOT)}")
    return 0 if all(not r["succeeded"] for r in report["paths"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
