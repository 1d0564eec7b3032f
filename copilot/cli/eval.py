"""`copilot eval`: run a question set through the agent beside the BM25 and llama-index baselines,
print the metrics, and gate CI on them (exit 1 when a `--fail-under`/`--fail-over` gate fails)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from copilot.cli.command import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    Subparsers,
    add_command,
    audience_arg,
    progress_bar,
    resolve_settings,
)
from copilot.errors import ConfigError


def register(subparsers: Subparsers[Any]) -> None:
    ev = add_command(
        subparsers,
        "eval",
        run_eval,
        help="score retrieval on a question set, beside BM25 and llama-index baselines",
        description="Run a JSON Lines dataset through retrieval; exit 1 when a gate fails.",
    )
    ev.add_argument("--kb", type=Path, metavar="DIR", required=True, help="the KB folder")
    target = ev.add_mutually_exclusive_group(required=True)
    target.add_argument(
        "--dataset",
        type=Path,
        metavar="FILE",
        help="questions, one JSON object per line (see docs/eval.md)",
    )
    target.add_argument(  # help before the ticket (docs/proactive.md)
        "--signals",
        type=Path,
        metavar="FILE",
        help="signal scenarios: score the article each nudge rule would show (hit@1)",
    )
    ev.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="where to build the index (default: <data dir>/eval/<KB name>)",
    )
    ev.add_argument("--json", type=Path, metavar="OUT", help="write the metrics as JSON")
    ev.add_argument("--html", type=Path, metavar="OUT", help="write a self-contained HTML report")
    ev.add_argument(
        "--fail-under",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help="fail (exit 1) when METRIC is below VALUE; repeatable",
    )
    ev.add_argument(
        "--fail-over",
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help="fail (exit 1) when METRIC is above VALUE; repeatable",
    )
    ev.add_argument(
        "--compare", type=Path, metavar="OLD.json", help="show each metric's change from OLD.json"
    )
    ev.add_argument(
        "--calibrate",
        action="store_true",
        help="fit the confidence thresholds on part of the dataset (whole conversations, see "
        "--calibration-share), write them for the agent, and evaluate on the rest",
    )
    ev.add_argument(
        "--calibration-share",
        type=float,
        default=0.5,
        metavar="S",
        help="share of conversations used to calibrate with --calibrate (default 0.5)",
    )
    ev.add_argument(
        "--target-wrong-rate",
        type=float,
        default=0.05,
        metavar="R",
        help="wrong-answer rate the thresholds aim for with --calibrate (default 0.05)",
    )
    ev.add_argument("--no-baselines", action="store_true", help="skip the baselines (faster)")
    ev.add_argument(
        "--allow-skipped",
        action="store_true",
        help="score the KB even when more than 5%% of its articles were left out of the index",
    )
    audience_arg(ev)


def run_eval(args: argparse.Namespace) -> int:
    from copilot.evals.advice import SKIPPED_LIMIT, direction
    from copilot.evals.dataset import load_dataset
    from copilot.evals.metrics import check_gates, compare
    from copilot.evals.ragas import OFFLINE_ENV
    from copilot.evals.run import evaluate_kb

    # ragas reports usage unless the environment says not to; a library may not set the
    # environment, so this entry point does, before ragas is imported. A user's own value wins.
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)
    if args.signals is not None:
        return _run_signals(args)
    questions = load_dataset(args.dataset)
    old = _read_report(args.compare) if args.compare else None
    if args.calibrate and not 0 < args.calibration_share < 1:
        raise ConfigError("--calibration-share must be between 0 and 1")
    base = resolve_settings(kb_dir=args.kb)
    data_dir = args.data_dir or base.data_dir / "eval" / args.kb.resolve().name
    settings = resolve_settings(kb_dir=args.kb, data_dir=data_dir)
    with progress_bar("questions") as progress:
        result, outcomes, questions = evaluate_kb(
            settings,
            questions,
            audience=args.audience,
            baselines=not args.no_baselines,
            progress=progress,
            calibrate_share=args.calibration_share if args.calibrate else None,
            target_wrong_rate=args.target_wrong_rate,
        )
    _print_eval_table(result)
    skipped = result["skipped"]
    assert isinstance(skipped, dict)
    for path, why in skipped["files"].items():
        print(f"skipped {path}: {why}", file=sys.stderr)
    for line in result["advice"]:  # type: ignore[attr-defined]
        print(f"\n{line}")
    if args.calibrate:
        cal = result["calibration"]
        assert isinstance(cal, dict)
        print(
            f"calibrated on {cal['calibration_questions']} questions, evaluated on "
            f"{cal['evaluation_questions']}: answer when confidence >= "
            f"{cal['answer_threshold']:.2f} (written to {settings.data_dir / 'confidence.json'})"
        )
    if old is not None:
        print(f"\nchange from {args.compare}:")
        for name, before, after in compare(result, old):
            change = direction(name, before, after)
            print(f"{name:<20}{before:>9.3f} -> {after:>7.3f}  ({after - before:+.3f} {change})")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    if args.html:
        from copilot.evals.html import render_html

        args.html.parent.mkdir(parents=True, exist_ok=True)
        page = render_html(f"copilot eval: {args.dataset}", result, questions, outcomes)
        args.html.write_text(page)
    failed = check_gates(result, args.fail_under, args.fail_over)
    for line in failed:
        print(f"gate failed: {line}", file=sys.stderr)
    if skipped["share"] > SKIPPED_LIMIT and not args.allow_skipped:
        print(
            f"error: {skipped['count']} of {skipped['articles']} articles ({skipped['share']:.0%}) "
            "were left out of the index, so these figures do not describe your KB: fix them "
            "(`copilot lint`) or pass --allow-skipped",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return EXIT_FINDINGS if failed else EXIT_OK


def _run_signals(args: argparse.Namespace) -> int:
    """`--signals FILE`: the article each scenario's trigger would show, scored as hit@1."""
    from copilot.evals.metrics import check_gates
    from copilot.evals.signals import load_signals, score_signals
    from copilot.index.build import build_index
    from copilot.index.embed import load_embedder
    from copilot.service import open_agent

    scenarios = load_signals(args.signals)
    base = resolve_settings(kb_dir=args.kb)
    data_dir = args.data_dir or base.data_dir / "eval" / args.kb.resolve().name
    settings = resolve_settings(kb_dir=args.kb, data_dir=data_dir)
    embedder = load_embedder(settings)
    build_index(settings, embedder)
    agent, index = open_agent(settings, embedder=embedder)
    try:
        result, _ = score_signals(agent, settings, scenarios)
    finally:
        index.close()
    print(f"{result['scenarios']} scenarios, hit@1 {result['hit_at_1']:.3f}")
    print("found by: " + ", ".join(f"{k} {v}" for k, v in result["found_by"].items()))
    for miss in result["misses"]:
        print(f"  miss {miss['id']}: expected {miss['expected']}, shown {miss['shown']} "
              f"({miss['why']})")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    failed = check_gates(result, args.fail_under, args.fail_over)
    for line in failed:
        print(f"gate failed: {line}", file=sys.stderr)
    return EXIT_FINDINGS if failed else EXIT_OK


def _read_report(path: Path) -> dict[str, object]:
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--compare {path}: not a readable eval JSON report ({exc})") from None
    if not isinstance(report, dict):
        raise ConfigError(f"--compare {path}: not an eval JSON report (expected an object)")
    return report


def _print_eval_table(result: dict[str, object]) -> None:
    from copilot.evals.advice import direction
    from copilot.evals.metrics import ANSWER_METRICS, LATENCY_METRICS, RANK_METRICS
    from copilot.evals.ragas import RAGAS_METRICS

    names = [*RANK_METRICS, *LATENCY_METRICS]
    baselines = result.get("baselines") or {}
    assert isinstance(baselines, dict)
    header = f"{'metric':<18}{'copilot':>10}" + "".join(f"{b:>29}" for b in baselines)
    print(header)
    for name in names:
        row = f"{name:<18}{float(result[name]):>10.3f}"  # type: ignore[arg-type]
        ours = float(result[name])  # type: ignore[arg-type]
        for b in baselines.values():
            value = float(b[name])
            row += f"{value:>12.3f} ({ours - value:+.3f} {direction(name, value, ours):<6})"
        print(row)
    print(f"{result['questions']} questions, {result['answerable']} answerable")
    for name in ANSWER_METRICS:
        print(f"{name:<20}{float(result[name]):>8.3f}")  # type: ignore[arg-type]
    for name in RAGAS_METRICS:
        score = result.get(name)
        print(f"{name:<26}{f'{score:.3f}' if isinstance(score, float) else 'n/a':>8}")
