"""`copilot index` and `copilot calibrate`: embed the KB into the vector index, then fit the
confidence thresholds to it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from copilot.cli.command import (
    EXIT_OK,
    Subparsers,
    add_command,
    kb_and_data_args,
    progress_bar,
    resolve_settings,
)
from copilot.errors import ConfigError

if TYPE_CHECKING:
    from copilot.settings import Settings


def register(subparsers: Subparsers[Any]) -> None:
    index = add_command(
        subparsers,
        "index",
        run_index,
        help="build or update the search index of the KB",
        description="Embed the KB into the vector index. Only changed articles are re-embedded.",
    )
    kb_and_data_args(index)
    index.add_argument("--full", action="store_true", help="rebuild everything from scratch")
    index.add_argument(
        "--strict",
        action="store_true",
        help="fail when any article has lint errors (without it only unsafe ones are left out)",
    )
    index.add_argument("--today", metavar="YYYY-MM-DD", help="the date staleness is judged on")
    index.add_argument(
        "--no-calibrate",
        action="store_true",
        help="skip fitting the confidence thresholds to this KB after a change",
    )

    cal = add_command(
        subparsers,
        "calibrate",
        run_calibrate,
        help="fit when to answer to this KB, and certify it with labels when there are enough",
        description="Adapt the shipped confidence model to this KB (its own probes, no labels "
        "needed), then let the labelled questions in the store certify a threshold with a "
        "90%% guarantee on the wrong-answer rate. `copilot index` runs it after each change.",
    )
    kb_and_data_args(cal)
    cal.add_argument(
        "--labels",
        type=Path,
        metavar="FILE",
        help="add labelled questions first (JSON Lines, the eval dataset format: answerable with "
        "expected_articles, or not answerable)",
    )


def run_index(args: argparse.Namespace) -> int:
    from copilot.index.build import build_index
    from copilot.index.embed import load_embedder
    from copilot.kb.lint import parse_today

    settings = resolve_settings(kb_dir=args.kb, data_dir=args.data_dir)
    today = parse_today(args.today)
    embedder = load_embedder(settings)
    with progress_bar("embedding") as progress:
        report = build_index(
            settings, embedder, full=args.full, strict=args.strict, today=today, progress=progress
        )
    for reason in report.skipped.values():  # "path:line: CODE message"
        print(f"left out of the index: {reason}", file=sys.stderr)
    print(report.summary())
    _export_fast_encoder(settings)
    if not args.no_calibrate:
        from copilot.service import calibrate

        # Calibrated again when the index changed, labels included; the embedder already
        # loaded is passed so its model is not loaded twice.
        model, cert = calibrate(settings, embedder=embedder, force=False)
        print(
            f"calibration: answer when confidence >= {model.answer_threshold:.2f} "
            f"({model.fitted_on})"
        )
        if cert is not None and cert.labels:
            print(f"labels: {cert.words()}")
    return EXIT_OK


def _export_fast_encoder(settings: Settings) -> None:
    """Once per data folder: the ONNX export of the default embedder, checked against torch."""
    from copilot.index.embed import MINILM, minilm_path
    from copilot.index.onnx import export, onnx_dir, ready

    folder = onnx_dir(settings.data_dir)
    if settings.embedder != MINILM or settings.embed_backend == "torch" or ready(folder):
        return
    try:
        error = export(minilm_path(), folder)
    except ConfigError as exc:
        # The export is an optimisation: without it queries use torch, so the index still works.
        print(f"warning: {exc}", file=sys.stderr)
        return
    print(f"fast query encoder: ONNX export checked (cosine error {error:.1e}) in {folder}")


def run_calibrate(args: argparse.Namespace) -> int:  # always calibrates again
    from copilot.answer.calibrate import params_path
    from copilot.service import calibrate

    settings = resolve_settings(kb_dir=args.kb, data_dir=args.data_dir)
    model, cert = calibrate(settings, labels_file=args.labels)
    print(
        f"answer when confidence >= {model.answer_threshold:.2f}, clarify from "
        f"{model.clarify_threshold:.2f} ({model.fitted_on}); "
        f"written to {params_path(settings.data_dir)}"
    )
    if cert is not None:
        print(f"labels: {cert.words()}")
    return EXIT_OK
