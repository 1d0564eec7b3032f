"""The KB linter: every article follows the format, has an owner, is reviewed, and is safe to show.

Rules have stable codes (`rules.RULES`, what `copilot lint --explain` prints); checks run per
article (`article`) and across the KB (`corpus`). Findings are values, never exceptions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

from copilot.errors import ConfigError
from copilot.kb.lint.article import lint_article
from copilot.kb.lint.corpus import duplicate_ids, near_duplicates, stale_report
from copilot.kb.lint.rules import RULES, LintOptions, LintResult, Rule, codes
from copilot.kb.parse import LoadedFile, article_files, load_files, load_releases, parse_date
from copilot.types import Finding, Release

__all__ = [
    "RULES",
    "LintOptions",
    "LintResult",
    "Linter",
    "Rule",
    "codes",
    "duplicate_ids",
    "lint_article",
    "lint_files",
    "lint_paths",
    "near_duplicates",
    "parse_today",
    "stale_report",
]

# What the indexer calls to find articles it must skip: `lint_files`, or a stand-in for it.
Linter = Callable[[Sequence[LoadedFile], Sequence[Release], LintOptions], Iterable[Finding]]


def lint_paths(paths: Sequence[Path], options: LintOptions) -> LintResult:
    """Lint every article under `paths` (files or KB folders), with cross-article checks."""
    files: list[LoadedFile] = []
    releases: list[Release] = []
    findings: list[Finding] = []
    for root in paths:
        found, release_findings = load_releases(_kb_root(root))
        releases.extend(r for r in found if r not in releases)
        findings.extend(f for f in release_findings if f not in findings)
        files.extend(load_files(article_files(root)))
    findings.extend(lint_files(files, releases, options))
    articles = [f.article for f in files if f.article is not None]
    findings = [_apply_strict(f, options) for f in findings if options.wants(f.code)]
    findings.sort(key=lambda f: (f.path, f.line, f.column, f.code))
    return LintResult(findings, len(files), articles, releases)


def _kb_root(path: Path) -> Path:
    """The folder whose releases.yaml applies: the folder itself, or the nearest parent with one."""
    if path.is_dir():
        return path
    for parent in path.resolve().parents:
        if (parent / "releases.yaml").is_file():
            return parent
    return path.parent


def _apply_strict(finding: Finding, options: LintOptions) -> Finding:
    return replace(finding, severity="error") if options.strict else finding


def lint_files(
    files: Sequence[LoadedFile], releases: Sequence[Release], options: LintOptions
) -> Iterator[Finding]:
    for f in files:
        yield from f.findings
        if f.article is not None:
            yield from lint_article(f.article, releases, options)
    articles = [f.article for f in files if f.article is not None]
    yield from duplicate_ids(articles)
    if options.wants("KB020"):
        yield from near_duplicates(articles, options.near_duplicate_threshold)


def parse_today(value: str | None) -> date:
    if value is None:
        return date.today()
    parsed = parse_date(value)
    if parsed is None:
        raise ConfigError(f'--today "{value}" is not a date like 2026-11-24')
    return parsed
