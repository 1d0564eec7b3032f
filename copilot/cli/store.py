"""`copilot report`, `copilot gaps` and `copilot purge`: what the conversation store says (live
metrics, questions the KB could not answer) and retention."""

from __future__ import annotations

import argparse
import contextlib
import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from copilot.cli.command import EXIT_OK, Subparsers, add_command, kb_and_data_args, resolve_settings
from copilot.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from copilot.settings import Settings


def register(subparsers: Subparsers[Any]) -> None:
    rep = add_command(
        subparsers,
        "report",
        run_report,
        help="live metrics from stored conversations",
        description="Resolution, handoffs, zero results, wrong answers, feedback, latency and "
        "stale citations, overall and by product area, from the conversation store.",
    )
    kb_and_data_args(rep)
    rep.add_argument("--since", metavar="DATE", help="first day (YYYY-MM-DD); default: all")
    rep.add_argument("--until", metavar="DATE", help="last day (YYYY-MM-DD); default: today")
    rep.add_argument("--json", action="store_true", help="print the metrics as JSON")
    rep.add_argument(
        "--html", type=Path, metavar="OUT", help="write a self-contained page with charts and gaps"
    )

    gaps = add_command(
        subparsers,
        "gaps",
        run_gaps,
        help="what customers asked that the KB could not answer, clustered",
        description="Questions that found nothing or were handed off for low confidence, "
        "clustered by meaning and ranked by volume.",
    )
    kb_and_data_args(gaps)
    gaps.add_argument("--since", metavar="DATE", help="first day (YYYY-MM-DD)")
    gaps.add_argument("--top", type=int, default=10, metavar="N", help="clusters to show")
    gaps.add_argument("--json", action="store_true", help="print the clusters as JSON")
    gaps.add_argument(
        "--write-drafts",
        type=Path,
        metavar="DIR",
        help="write a draft article (KB format, TODOs from the evidence) per top cluster",
    )

    purge = add_command(
        subparsers,
        "purge",
        run_purge,
        help="delete old conversations (their counts stay in the metrics)",
        description="Retention: delete conversations older than a limit, with their turns, "
        "feedback and handoffs. `copilot report` keeps their counts.",
    )
    kb_and_data_args(purge)
    purge.add_argument(
        "--older-than", required=True, metavar="AGE", help="e.g. 90d or 12w (days or weeks)"
    )


@contextlib.contextmanager
def _database(settings: Settings) -> Iterator[Engine]:
    """The service's database connection; these commands need no index, so none is opened."""
    from copilot.service import Copilot

    service = Copilot(settings)
    try:
        yield service.engine
    finally:
        service.close()


def _day(value: str | None, flag: str) -> date | None:
    from copilot.kb.parse import parse_date

    if value is None:
        return None
    parsed = parse_date(value)
    if parsed is None:
        raise ConfigError(f'{flag} "{value}" is not a date like 2026-11-24')
    return parsed


def run_report(args: argparse.Namespace) -> int:
    from copilot.service import Copilot

    settings = resolve_settings(kb_dir=args.kb, data_dir=args.data_dir)
    since, until = _day(args.since, "--since"), _day(args.until, "--until")
    service = Copilot(settings)
    try:
        engine = service.engine
        result = service.report(since, until)
        if args.html:
            from copilot.index.embed import load_embedder
            from copilot.record.gaps import cluster, gap_questions
            from copilot.record.report_html import render

            found = cluster(gap_questions(engine), load_embedder(settings))
            args.html.parent.mkdir(parents=True, exist_ok=True)
            args.html.write_text(render(result, found), encoding="utf-8")
    finally:
        service.close()
    if args.json:
        print(json.dumps(result, indent=2))
        return EXIT_OK
    names = [k for k, v in result.items() if not isinstance(v, dict)]
    for name in names:
        value = result[name]
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{name:<40}{shown:>10}")
    for reason, n in result["handoff_reasons"].items():
        print(f"  handoffs for {reason:<26}{n:>10}")
    for agent, done in result["handoffs_by_agent"].items():
        print(f"  {agent:<24}" + ", ".join(f"{n} {action}" for action, n in done.items()))
    for area, m in result["by_product_area"].items():
        rate = m["self_service_resolution_rate"]
        print(
            f"  {area:<24}{m['conversations']:>6} conversations, resolved "
            f"{'–' if rate is None else f'{rate:.2f}'}"
        )
    for path, why in result["skipped_articles"].items():
        print(f"  left out of the index: {path} ({why})")
    if "proactive" in result:  # help before the ticket (docs/proactive.md)
        from copilot.proactive.report import text_lines

        print("\n".join(text_lines(result["proactive"])))
    return EXIT_OK


def run_gaps(args: argparse.Namespace) -> int:
    from copilot.index.embed import load_embedder
    from copilot.record.gaps import cluster, gap_questions, write_drafts

    settings = resolve_settings(kb_dir=args.kb, data_dir=args.data_dir)
    since = _day(args.since, "--since")
    with _database(settings) as engine:
        questions = gap_questions(engine, since)
    embedder = load_embedder(settings)
    found = cluster(questions, embedder)[: args.top]
    if args.json:
        rows = [
            {"size": g.size, "product_area": g.product_area, "examples": g.questions[:5]}
            for g in found
        ]
        print(json.dumps(rows, indent=2))
    else:
        print(f"{len(questions)} unanswered questions, {len(found)} top clusters")
        for g in found:
            print(f"{g.size:>5}  [{g.product_area}] {g.questions[0]}")
    if args.write_drafts:
        paths, covered = write_drafts(found, args.write_drafts, settings.kb_dir, embedder)
        for n, article_id in covered.items():
            print(
                f"not drafted: [{found[n].questions[0][:60]}] is close to the existing article "
                f"{article_id}: add the customers' words to its Symptoms"
            )
        print(f"wrote {len(paths)} draft articles to {args.write_drafts}")
    return EXIT_OK


def run_purge(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from copilot.record.report import purge

    match = re.fullmatch(r"(\d+)\s*([dw]?)", args.older_than.strip())
    if not match:
        raise ConfigError(f'--older-than "{args.older_than}" must look like 90d or 12w')
    days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
    settings = resolve_settings(kb_dir=args.kb, data_dir=args.data_dir)
    with _database(settings) as engine:
        deleted = purge(engine, timedelta(days=days))
    print(f"deleted {deleted} conversations older than {days} days (their counts are kept)")
    return EXIT_OK
