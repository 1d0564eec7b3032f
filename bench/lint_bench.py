"""Benchmark: lint 10,000 generated articles, and the start-up cost of `copilot lint --help`.

Run: .venv/bin/python -m bench.lint_bench [--articles 10000]   (writes bench/results/lint.json)
Targets (2-core machine): lint 10,000 articles < 5 s; `copilot lint --help` < 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.generate import generate
from copilot.kb.lint import LintOptions, lint_paths

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kb = generate(Path(tmp) / "kb", args.articles)
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            result = lint_paths([kb], LintOptions(today=date(2026, 11, 24)))
            runs.append(time.perf_counter() - start)
        assert result.errors == 0, result.findings[:3]
    cli = Path(sys.executable).parent / "copilot"
    helps = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([str(cli), "lint", "--help"], check=True, capture_output=True)
        helps.append(time.perf_counter() - start)
    figures = {
        "articles": args.articles,
        "lint_seconds_median": round(statistics.median(runs), 3),
        "lint_articles_per_second": round(args.articles / statistics.median(runs)),
        "lint_help_seconds_median": round(statistics.median(helps), 3),
        "targets": {"lint_seconds": 5.0, "lint_help_seconds": 0.5},
    }
    print(json.dumps(figures, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "lint.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
