"""The `copilot` command. Heavy libraries are imported inside commands, never at start-up,
so `copilot --help` and `copilot lint` stay fast (no torch, transformers, chromadb or ragas).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from copilot.errors import CopilotError

if TYPE_CHECKING:
    from copilot.lint import LintOptions, LintResult
    from copilot.settings import Settings

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="copilot",
        description="Support Copilot: answers from your knowledge base, handoffs to humans.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    lint = sub.add_parser(
        "lint",
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

    index = sub.add_parser(
        "index",
        help="build or update the search index of the KB",
        description="Embed the KB into the vector index. Only changed articles are re-embedded.",
    )
    index.add_argument("--kb", type=Path, metavar="DIR", help="KB folder (COPILOT_KB_DIR)")
    index.add_argument(
        "--data-dir", type=Path, metavar="DIR", help="data folder (COPILOT_DATA_DIR)"
    )
    index.add_argument("--full", action="store_true", help="rebuild everything from scratch")
    index.add_argument(
        "--strict",
        action="store_true",
        help="fail when any article has lint errors instead of skipping it",
    )
    index.add_argument("--today", metavar="YYYY-MM-DD", help="the date staleness is judged on")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        if args.command == "lint":
            return cmd_lint(args)
        if args.command == "index":
            return cmd_index(args)
    except CopilotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


def _settings(**overrides: object) -> Settings:
    from copilot.settings import load_settings

    return load_settings(**overrides)


def cmd_lint(args: argparse.Namespace) -> int:
    from copilot import lint

    if args.explain:
        return _explain(args.explain)
    settings = _settings()
    select = lint.codes(args.select)
    if args.near_duplicates:
        select = (select or frozenset(c for c, r in lint.RULES.items() if not r.opt_in)) | {"KB020"}
    options = lint.LintOptions(
        today=lint.parse_today(args.today),
        default_review_days=settings.review_every_days,
        select=select,
        ignore=lint.codes(args.ignore) or frozenset(),
        strict=args.strict,
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
    from copilot.lint import RULES

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
    from copilot.lint import stale_report

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


def cmd_index(args: argparse.Namespace) -> int:
    from copilot.embed import load_embedder
    from copilot.index import build_index
    from copilot.lint import parse_today

    settings = _settings(kb_dir=args.kb, data_dir=args.data_dir)
    today = parse_today(args.today)
    embedder = load_embedder(settings)
    with _progress_bar("embedding") as progress:
        report = build_index(
            settings, embedder, full=args.full, strict=args.strict, today=today, progress=progress
        )
    for path, reason in report.skipped.items():
        print(f"warning: skipped {path} (lint error: {reason})", file=sys.stderr)
    print(report.summary())
    return EXIT_OK


@contextlib.contextmanager
def _progress_bar(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on a terminal; nothing in CI or when output is piped."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


if __name__ == "__main__":
    sys.exit(main())
