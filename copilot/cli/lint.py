"""`copilot lint`: check KB articles and print findings as text, JSON or GitHub annotations."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from copilot.cli.command import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    Subparsers,
    add_command,
    resolve_settings,
)

if TYPE_CHECKING:
    from copilot.kb.lint import LintOptions, LintResult


def register(subparsers: Subparsers[Any]) -> None:
    lint = add_command(
        subparsers,
        "lint",
        run_lint,
        help="check KB articles: format, owners, staleness, unsafe content",
        description="Check KB articles. Exit 0 when clean, 1 on error findings, 2 on bad usage.",
    )
    lint.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="article files or KB folders (default: the KB folder from settings)",
    )
    lint.add_argument("--format", choices=["text", "json", "github"], default="text")
    lint.add_argument("--today", metavar="YYYY-MM-DD", help="the date staleness is judged on")
    lint.add_argument(
        "--select",
        action="append",
        metavar="CODES",
        help="only these rules (comma-separated codes or prefixes); enables opt-in rules",
    )
    lint.add_argument("--ignore", action="append", metavar="CODES", help="skip these rules")
    lint.add_argument(
        "--strict", action="store_true", help="treat warnings (staleness included) as errors"
    )
    lint.add_argument(
        "--near-duplicates",
        action="store_true",
        help="also flag articles whose Symptoms say the same thing (KB020)",
    )
    lint.add_argument(
        "--explain",
        metavar="CODE",
        nargs="?",
        const="all",
        help="explain one rule, or list every rule",
    )
    lint.add_argument(
        "--stale-report",
        action="store_true",
        help="list stale articles grouped by owner, most overdue first",
    )


def run_lint(args: argparse.Namespace) -> int:
    from copilot.kb import lint

    if args.explain:
        return _explain(args.explain)
    settings = resolve_settings()
    select = lint.codes(args.select)
    if args.near_duplicates:
        select = (select or frozenset(c for c, r in lint.RULES.items() if not r.opt_in)) | {"KB020"}
    options = lint.LintOptions(
        today=lint.parse_today(args.today),
        default_review_days=settings.review_every_days,
        select=select,
        ignore=lint.codes(args.ignore) or frozenset(),
        strict=args.strict,
        link_hosts=tuple(settings.link_hosts),
    )
    paths = args.paths or [settings.kb_dir]
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(
            f"error: {missing[0]} does not exist: give a KB folder or article file", file=sys.stderr
        )
        return EXIT_USAGE
    result = lint.lint_paths(paths, options)
    if args.stale_report:
        _print_stale_report(result, options, args.format)
    else:
        _print_findings(result, args.format)
    return EXIT_FINDINGS if result.errors else EXIT_OK


def _explain(code: str) -> int:
    from copilot.kb.lint import RULES

    if code == "all":
        for rule in RULES.values():
            extra = " (opt-in)" if rule.opt_in else ""
            print(f"{rule.code}  {rule.severity:<7}  {rule.summary}{extra}")
        return EXIT_OK
    found = RULES.get(code.upper())
    if found is None:
        print(f"error: no rule {code}: `copilot lint --explain` lists them", file=sys.stderr)
        return EXIT_USAGE
    print(f"{found.code} ({found.severity}): {found.summary}\n{found.explanation}")
    return EXIT_OK


def _print_findings(result: LintResult, fmt: str) -> None:
    findings = result.findings
    if fmt == "json":
        print(
            json.dumps(
                [
                    {
                        "path": f.path,
                        "line": f.line,
                        "column": f.column,
                        "code": f.code,
                        "severity": f.severity,
                        "message": f.message,
                        "article_id": f.article_id,
                    }
                    for f in findings
                ],
                indent=2,
            )
        )
    elif fmt == "github":
        for f in findings:
            # Workflow commands need %, CR and LF escaped in the message.
            msg = f.message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            print(
                f"::{f.severity} file={f.path},line={f.line},col={f.column},title={f.code}::{msg}"
            )
    else:
        for f in findings:
            print(f"{f.path}:{f.line}:{f.column}: {f.code} {f.message}")
    summary = (
        f"{result.errors} error(s), {result.warnings} warning(s) "
        f"in {result.files} file(s) ({len(result.articles)} article(s) parsed)"
    )
    # Machine formats keep stdout clean: the summary goes to stderr there.
    print(summary, file=sys.stdout if fmt == "text" else sys.stderr)


def _print_stale_report(result: LintResult, options: LintOptions, fmt: str) -> None:
    from copilot.kb.lint import stale_report

    report = stale_report(result, options)
    if fmt == "json":
        print(json.dumps(report, indent=2))
        return
    if not report:
        print(f"No stale articles on {options.today}.")
        return
    total = sum(len(rows) for rows in report.values())
    print(f"{total} stale article(s) on {options.today}, by owner:")
    for owner, rows in report.items():
        print(f"\n{owner} ({len(rows)})")
        for r in rows:
            print(f"  {r['days_overdue']:>5} days overdue  {r['article_id']}  {r['path']}")
            print(f"        {r['reason']}")
