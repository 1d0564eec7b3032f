"""The `copilot` command. Heavy libraries are imported inside commands, never at start-up,
so `copilot --help` and `copilot lint` stay fast (no torch, transformers, chromadb or ragas).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from copilot.errors import ConfigError, CopilotError, LintFailed

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from copilot.kb.lint import LintOptions, LintResult
    from copilot.settings import Settings

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _kb_and_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kb", type=Path, metavar="DIR", help="KB folder (COPILOT_KB_DIR)")
    p.add_argument("--data-dir", type=Path, metavar="DIR", help="data folder (COPILOT_DATA_DIR)")


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
    _kb_and_data_args(index)
    index.add_argument("--full", action="store_true", help="rebuild everything from scratch")
    index.add_argument(
        "--strict",
        action="store_true",
        help="fail when any article has lint errors instead of skipping it",
    )
    index.add_argument("--today", metavar="YYYY-MM-DD", help="the date staleness is judged on")
    index.add_argument(
        "--no-calibrate",
        action="store_true",
        help="skip fitting the confidence thresholds to this KB after a change",
    )

    ev = sub.add_parser(
        "eval",
        help="score retrieval on a question set, beside BM25 and llama-index baselines",
        description="Run a JSON Lines dataset through retrieval; exit 1 when a gate fails.",
    )
    ev.add_argument("--kb", type=Path, metavar="DIR", required=True, help="the KB folder")
    ev.add_argument(
        "--dataset",
        type=Path,
        metavar="FILE",
        required=True,
        help="questions, one JSON object per line (see docs/eval.md)",
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
    ev.add_argument("--audience", choices=["customer", "internal"], default="customer")

    ask = sub.add_parser(
        "ask",
        help="ask one question and print the reply",
        description="One question, one reply: an answer with citations, a clarifying question, "
        "or a handoff to a person.",
    )
    ask.add_argument("question")
    _kb_and_data_args(ask)
    ask.add_argument("--audience", choices=["customer", "internal"], default="customer")
    ask.add_argument("--json", action="store_true", help="print the reply JSON (CONTRACT.md)")

    cal = sub.add_parser(
        "calibrate",
        help="fit the confidence thresholds to this KB (index does it after each change)",
        description="Self-calibration: questions built from each article's title and Symptoms, "
        "asked with and without that article, fit when to answer and when to hand off.",
    )
    _kb_and_data_args(cal)

    chat = sub.add_parser(
        "chat",
        help="talk to the copilot in the terminal, keeping the conversation",
        description="An interactive conversation; follow-up questions are read in context. "
        "Ctrl-D or an empty line ends it.",
    )
    _kb_and_data_args(chat)
    chat.add_argument("--audience", choices=["customer", "internal"], default="customer")

    rep = sub.add_parser(
        "report",
        help="live metrics from stored conversations",
        description="Resolution, handoffs, zero results, wrong answers, feedback, latency and "
        "stale citations, overall and by product area, from the conversation store.",
    )
    _kb_and_data_args(rep)
    rep.add_argument("--since", metavar="DATE", help="first day (YYYY-MM-DD); default: all")
    rep.add_argument("--until", metavar="DATE", help="last day (YYYY-MM-DD); default: today")
    rep.add_argument("--json", action="store_true", help="print the metrics as JSON")
    rep.add_argument(
        "--html", type=Path, metavar="OUT", help="write a self-contained page with charts and gaps"
    )

    gaps = sub.add_parser(
        "gaps",
        help="what customers asked that the KB could not answer, clustered",
        description="Questions that found nothing or were handed off for low confidence, "
        "clustered by meaning and ranked by volume.",
    )
    _kb_and_data_args(gaps)
    gaps.add_argument("--since", metavar="DATE", help="first day (YYYY-MM-DD)")
    gaps.add_argument("--top", type=int, default=10, metavar="N", help="clusters to show")
    gaps.add_argument("--json", action="store_true", help="print the clusters as JSON")
    gaps.add_argument(
        "--write-drafts",
        type=Path,
        metavar="DIR",
        help="write a draft article (KB format, TODOs from the evidence) per top cluster",
    )

    serve = sub.add_parser(
        "serve",
        help="serve the API, the widget and the agent console",
        description="The HTTP API (docs/api.md) on HOST:PORT; indexes the KB first if needed.",
    )
    _kb_and_data_args(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes")

    keys = sub.add_parser(
        "keys",
        help="create an API key for agents or admins",
        description="Prints a new key (give it to the agent) and the settings entry that stores "
        "only its SHA-256 hash (add it to COPILOT_API_KEYS or api_keys in copilot.toml).",
    )
    keys.add_argument("action", choices=["new"])
    keys.add_argument("--name", required=True, help="who the key is for")
    keys.add_argument("--scope", choices=["agent", "admin"], default="agent")

    purge = sub.add_parser(
        "purge",
        help="delete old conversations (their counts stay in the metrics)",
        description="Retention: delete conversations older than a limit, with their turns, "
        "feedback and handoffs. `copilot report` keeps their counts.",
    )
    _kb_and_data_args(purge)
    purge.add_argument(
        "--older-than", required=True, metavar="AGE", help="e.g. 90d or 12w (days or weeks)"
    )
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
        if args.command == "eval":
            return cmd_eval(args)
        if args.command == "ask":
            return cmd_ask(args)
        if args.command == "chat":
            return cmd_chat(args)
        if args.command == "calibrate":
            return cmd_calibrate(args)
        if args.command == "report":
            return cmd_report(args)
        if args.command == "gaps":
            return cmd_gaps(args)
        if args.command == "purge":
            return cmd_purge(args)
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "keys":
            return cmd_keys(args)
    except LintFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FINDINGS
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
    from copilot.kb.parse import lint

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


def cmd_index(args: argparse.Namespace) -> int:
    from copilot.index.embed import load_embedder
    from copilot.index.build import build_index
    from copilot.kb.lint import parse_today

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
    _export_fast_encoder(settings)
    if not args.no_calibrate:
        from copilot.answer.agent import open_agent

        # fits the KB's confidence model if the index changed
        agent, index = open_agent(settings, embedder=embedder)
        index.close()
        print(
            f"calibration: answer when confidence >= {agent.model.answer_threshold:.2f} "
            f"({agent.model.fitted_on})"
        )
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
        print(f"warning: {exc}", file=sys.stderr)
        return
    print(f"fast query encoder: ONNX export checked (cosine error {error:.1e}) in {folder}")


def cmd_eval(args: argparse.Namespace) -> int:
    import os

    from copilot.evals.dataset import load_dataset
    from copilot.evals.metrics import check_gates, compare
    from copilot.evals.ragas import OFFLINE_ENV
    from copilot.evals.run import evaluate_kb

    for name, value in OFFLINE_ENV.items():  # before ragas is imported; a user's choice wins
        os.environ.setdefault(name, value)
    questions = load_dataset(args.dataset)
    old = _read_report(args.compare) if args.compare else None
    if args.calibrate and not 0 < args.calibration_share < 1:
        raise ConfigError("--calibration-share must be between 0 and 1")
    base = _settings(kb_dir=args.kb)
    data_dir = args.data_dir or base.data_dir / "eval" / args.kb.resolve().name
    settings = _settings(kb_dir=args.kb, data_dir=data_dir)
    with _progress_bar("questions") as progress:
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
            print(f"{name:<20}{before:>9.3f} -> {after:>7.3f}  ({after - before:+.3f})")
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
    return EXIT_FINDINGS if failed else EXIT_OK


def _read_report(path: Path) -> dict[str, object]:
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--compare {path}: not a readable eval JSON report ({exc})") from None
    if not isinstance(report, dict):
        raise ConfigError(f"--compare {path}: not an eval JSON report (expected an object)")
    return report


def cmd_ask(args: argparse.Namespace) -> int:
    from copilot.answer.agent import open_agent, reply_json

    settings = _settings(kb_dir=args.kb, data_dir=args.data_dir)
    agent, index = open_agent(settings)
    with index:
        reply = agent.reply(args.question, audience=args.audience)
    if args.json:
        print(json.dumps(reply_json(reply), indent=2))
    else:
        print(reply.text)
        for c in reply.citations:
            print(f"  [{c.article_id}] {c.title}")
        print(f"({reply.type}, confidence {reply.confidence.value:.2f})")
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace) -> int:
    from copilot.answer.agent import open_agent
    from copilot.answer.calibrate import params_path

    settings = _settings(kb_dir=args.kb, data_dir=args.data_dir)
    agent, index = open_agent(settings, recalibrate=True)
    index.close()
    print(
        f"answer when confidence >= {agent.model.answer_threshold:.2f}, clarify from "
        f"{agent.model.clarify_threshold:.2f} ({agent.model.fitted_on}); "
        f"written to {params_path(settings.data_dir)}"
    )
    return EXIT_OK


def cmd_chat(args: argparse.Namespace) -> int:
    from copilot.answer.agent import open_agent
    from copilot.record.conversations import Conversations

    settings = _settings(kb_dir=args.kb, data_dir=args.data_dir)
    agent, index = open_agent(settings)
    engine = _engine(settings)
    store = Conversations(engine, agent)
    conversation_id: str | None = None
    token: str | None = None
    with index:
        while True:
            try:
                question = input("you> ").strip()
            except EOFError:
                break
            if not question:
                break
            result = store.chat(question, conversation_id, token, audience=args.audience)
            conversation_id, token = result.conversation_id, token or result.token
            reply = result.reply
            print(f"copilot> {reply.text}")
            for c in reply.citations:
                print(f"         [{c.article_id}] {c.title}")
            print(f"         ({reply.type}, confidence {reply.confidence.value:.2f})")
            if reply.type == "handoff":
                print(
                    f"(handed off to a person as {result.handoff_id}: the conversation ends here)"
                )
                break
    engine.dispose()
    return EXIT_OK


def _engine(settings: Settings) -> Engine:
    from copilot.record import db

    return db.connect(settings.database_url, settings.data_dir)


def _day(value: str | None, flag: str) -> date | None:
    from copilot.kb.parse import parse_date

    if value is None:
        return None
    parsed = parse_date(value)
    if parsed is None:
        raise ConfigError(f'{flag} "{value}" is not a date like 2026-11-24')
    return parsed


def cmd_report(args: argparse.Namespace) -> int:
    from copilot.record.report import report

    settings = _settings(kb_dir=args.kb, data_dir=args.data_dir)
    engine = _engine(settings)
    result = report(engine, _day(args.since, "--since"), _day(args.until, "--until"))
    if args.html:
        from copilot.index.embed import load_embedder
        from copilot.record.gaps import cluster, gap_questions
        from copilot.record.report_html import render

        found = cluster(gap_questions(engine), load_embedder(settings))
        args.html.parent.mkdir(parents=True, exist_ok=True)
        args.html.write_text(render(result, found), encoding="utf-8")
    engine.dispose()
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
    for area, m in result["by_product_area"].items():
        rate = m["self_service_resolution_rate"]
        print(
            f"  {area:<24}{m['conversations']:>6} conversations, resolved "
            f"{'–' if rate is None else f'{rate:.2f}'}"
        )
    return EXIT_OK


def cmd_gaps(args: argparse.Namespace) -> int:
    from datetime import date as date_

    from copilot.index.embed import load_embedder
    from copilot.record.gaps import cluster, gap_questions, write_drafts

    settings = _settings(kb_dir=args.kb, data_dir=args.data_dir)
    engine = _engine(settings)
    questions = gap_questions(engine, _day(args.since, "--since"))
    engine.dispose()
    found = cluster(questions, load_embedder(settings))[: args.top]
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
        paths = write_drafts(found, args.write_drafts, settings.kb_dir, date_.today())
        print(f"wrote {len(paths)} draft articles to {args.write_drafts}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    from copilot.errors import IndexMissing
    from copilot.index.store import open_current

    settings = _settings(kb_dir=args.kb, data_dir=args.data_dir)
    try:
        open_current(settings.index_dir, settings.chroma_url).close()
    except IndexMissing:
        from copilot.index.embed import load_embedder
        from copilot.index.build import build_index

        print(build_index(settings, load_embedder(settings)).summary())
    # Workers are separate processes: they read the same settings from the environment.
    if args.kb:
        os.environ["COPILOT_KB_DIR"] = str(args.kb)
    if args.data_dir:
        os.environ["COPILOT_DATA_DIR"] = str(args.data_dir)
    where = f"http://{args.host}:{args.port}"
    print(f"Support Copilot on {where}: open {where}/demo for the widget, {where}/console for")
    print(f"agents, {where}/docs for the API. Ctrl-C stops it.")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
    )
    return EXIT_OK


def cmd_keys(args: argparse.Namespace) -> int:
    import hashlib
    import secrets

    key = "scp_" + secrets.token_urlsafe(32)
    entry = {
        "name": args.name,
        "scope": args.scope,
        "sha256": hashlib.sha256(key.encode()).hexdigest(),
    }
    print(f"key (give it to {args.name}; it is not stored anywhere): {key}")
    print(f"settings entry (COPILOT_API_KEYS is a JSON list of these): {json.dumps(entry)}")
    return EXIT_OK


def cmd_purge(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from copilot.record.report import purge

    match = re.fullmatch(r"(\d+)\s*([dw]?)", args.older_than.strip())
    if not match:
        raise ConfigError(f'--older-than "{args.older_than}" must look like 90d or 12w')
    days = int(match.group(1)) * (7 if match.group(2) == "w" else 1)
    settings = _settings(kb_dir=args.kb, data_dir=args.data_dir)
    engine = _engine(settings)
    deleted = purge(engine, timedelta(days=days))
    engine.dispose()
    print(f"deleted {deleted} conversations older than {days} days (their counts are kept)")
    return EXIT_OK


def _print_eval_table(result: dict[str, object]) -> None:
    from copilot.evals.metrics import ANSWER_METRICS, LATENCY_METRICS, RANK_METRICS
    from copilot.evals.ragas import RAGAS_METRICS

    names = [*RANK_METRICS, *LATENCY_METRICS]
    baselines = result.get("baselines") or {}
    assert isinstance(baselines, dict)
    header = f"{'metric':<18}{'copilot':>10}" + "".join(f"{b:>22}" for b in baselines)
    print(header)
    for name in names:
        row = f"{name:<18}{float(result[name]):>10.3f}"  # type: ignore[arg-type]
        for b in baselines.values():
            value = float(b[name])
            row += f"{value:>12.3f} ({float(result[name]) - value:+.3f})"  # type: ignore[arg-type]
        print(row)
    print(f"{result['questions']} questions, {result['answerable']} answerable")
    for name in ANSWER_METRICS:
        print(f"{name:<20}{float(result[name]):>8.3f}")  # type: ignore[arg-type]
    for name in RAGAS_METRICS:
        score = result.get(name)
        print(f"{name:<26}{f'{score:.3f}' if isinstance(score, float) else 'n/a':>8}")


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
