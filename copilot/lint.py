"""The KB linter: every article follows the format, has an owner, is reviewed, and is safe to show.

Rules have stable codes; `RULES` is the table `copilot lint --explain` prints. Findings are values.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from copilot.errors import ConfigError
from copilot.kb import (
    HTML_COMMENT,
    INVISIBLE,
    LoadedFile,
    article_files,
    load_files,
    load_releases,
    parse_date,
    staleness,
)
from copilot.types import REQUIRED_SECTIONS, Article, Finding, Release, Severity


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    summary: str
    explanation: str
    opt_in: bool = False


RULES: dict[str, Rule] = {
    r.code: r
    for r in [
        Rule(
            "KB001",
            "error",
            "file cannot be parsed",
            "The file is not UTF-8 text, has no '---' front matter, or its front matter is not "
            "valid YAML. Nothing else can be checked until it parses.",
        ),
        Rule(
            "KB002",
            "error",
            "required field missing",
            "Front matter needs id, title, owner, last_reviewed and product_area.",
        ),
        Rule(
            "KB003",
            "error",
            "bad id",
            "The id is lowercase letters, digits and '-', and equals the file name without .md.",
        ),
        Rule(
            "KB004",
            "error",
            "missing section",
            "Every article has ## Symptoms, ## Cause, ## Fix, ## Verify and ## Escalate.",
        ),
        Rule(
            "KB005",
            "error",
            "sections out of order",
            "The five sections come in the order Symptoms, Cause, Fix, Verify, Escalate; "
            "other sections may follow Escalate.",
        ),
        Rule("KB006", "error", "empty section", "Each of the five sections has text."),
        Rule(
            "KB007",
            "error",
            "title and H1 differ",
            "The first '# ' heading equals the front matter's title.",
        ),
        Rule(
            "KB008",
            "error",
            "bad date or interval",
            "last_reviewed is an ISO date (YYYY-MM-DD) not in the future; review_every_days is a "
            "positive whole number.",
        ),
        Rule(
            "KB009",
            "warning",
            "stale: review overdue",
            "last_reviewed + review_every_days is before today: the owner should re-check it.",
        ),
        Rule(
            "KB010",
            "warning",
            "stale: changed by a release",
            "releases.yaml lists a release touching this product_area after last_reviewed.",
        ),
        Rule(
            "KB011",
            "error",
            "duplicate id",
            "Two files declare the same id; ids must be unique across the KB.",
        ),
        Rule(
            "KB012",
            "error",
            "broken link",
            "A relative link points to an article file that does not exist.",
        ),
        Rule(
            "KB013",
            "error",
            "unknown product_area",
            "releases.yaml lists the product areas; product_area must be one of them.",
        ),
        Rule(
            "KB014",
            "error",
            "bad audience",
            "audience is 'customer' (the default) or 'internal' (agents only).",
        ),
        Rule(
            "KB015",
            "warning",
            "Fix has no numbered steps",
            "Customers follow numbered steps ('1. ...') more reliably than prose.",
        ),
        Rule(
            "KB016",
            "error",
            "hidden instructions",
            "HTML comments or hidden elements that carry instructions, or lines posing as a "
            "system/assistant message: text the reader does not see must not reach a model.",
        ),
        Rule(
            "KB017",
            "error",
            "active HTML",
            "<script>, <iframe>, <object>, <embed>, <form>, <style> or on*= handlers: never shown "
            "to a customer, never executed.",
        ),
        Rule(
            "KB018",
            "error",
            "off-site image",
            "Images must be relative paths inside the KB: an off-site image can track readers or "
            "exfiltrate data through its URL.",
        ),
        Rule(
            "KB019",
            "warning",
            "invisible characters",
            "Zero-width or bidirectional control characters; often innocent in pasted text, and "
            "removed by the indexer, but they can hide text.",
        ),
        Rule(
            "KB020",
            "warning",
            "near-duplicate articles",
            "Two articles whose Symptoms say the same thing: one problem per page. Opt-in "
            "(--select KB020 or --near-duplicates).",
            opt_in=True,
        ),
        Rule(
            "KB021",
            "warning",
            "unknown front-matter field",
            "A field the format does not define, often a typo (e.g. 'audiance: internal' "
            "would leave an internal article public).",
        ),
        Rule(
            "KB022",
            "error",
            "bad field value",
            "owner is an email or a team handle; tags is a list; id, title and product_area "
            "are plain text.",
        ),
    ]
}

KNOWN_FIELDS = {
    "id",
    "title",
    "owner",
    "last_reviewed",
    "review_every_days",
    "product_area",
    "tags",
    "audience",
}
REQUIRED_FIELDS = ("id", "title", "owner", "last_reviewed", "product_area")
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
OWNER_PATTERN = re.compile(r"^(?:[^@\s]+@[^@\s]+\.[^@\s]+|@?[A-Za-z0-9][\w.\-/]*)$")
NUMBERED_STEP = re.compile(r"^\s*\d+[.)]\s+\S", re.M)
HIDDEN_ELEMENT = re.compile(
    r"<[a-z][\w-]*\b[^<>]*?\s(?:hidden(?=[\s>=/])|aria-hidden\s*=\s*[\"']?true"
    r"|style\s*=\s*[\"'][^\"']*(?:display\s*:\s*none|visibility\s*:\s*hidden"
    r"|font-size\s*:\s*0(?![.\d]*[1-9])|opacity\s*:\s*0(?![.\d]*[1-9])))",
    re.I,
)
ROLE_LINE = re.compile(
    r"^\s*(?:\[|<\|?)?\s*(?:system|assistant|developer)\s*(?:\]|\|?>)?\s*:", re.I | re.M
)
INSTRUCTION_WORDS = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instruction|previous|above|prompt|rule)s?"
    r"|\byou are (?:now )?(?:a|an|the)\b|\b(?:system|developer) prompt\b"
    r"|\bdo not (?:tell|mention)\b"
    r"|\b(?:reveal|print|repeat)\b.{0,30}\b(?:prompt|instructions|secret|key)s?\b",
    re.I | re.S,
)
ACTIVE_HTML = re.compile(
    r"<\s*(script|iframe|frame|object|embed|applet)\b|<[a-z][\w-]*\b[^<>]*?\s(on[a-z]+)\s*="
    r"|\]\(\s*<?(javascript):",
    re.I,
)
MD_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)")
HTML_IMAGE = re.compile(r"<img\b[^>]*\bsrc\s*=\s*[\"']?([^\"'\s>]+)", re.I)
MD_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)")
REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//)", re.I)
CODE_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,}).*?(?:^ {0,3}\1[ \t]*$|\Z)", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(?!`).+?(?<!`)\1(?!`)", re.S)


@dataclass(frozen=True)
class LintOptions:
    today: date
    default_review_days: int = 180
    select: frozenset[str] | None = None  # None: every rule that is not opt-in
    ignore: frozenset[str] = frozenset()
    strict: bool = False
    near_duplicate_threshold: float = 0.8

    def wants(self, code: str) -> bool:
        if code in self.ignore:
            return False
        if self.select is None:
            return not RULES[code].opt_in
        return any(code.startswith(s) for s in self.select)


@dataclass(frozen=True)
class LintResult:
    findings: list[Finding]
    files: int
    articles: list[Article]
    releases: list[Release]

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)

    @property
    def warnings(self) -> int:
        return sum(f.severity == "warning" for f in self.findings)


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
    yield from _duplicate_ids(articles)
    if options.wants("KB020"):
        yield from near_duplicates(articles, options.near_duplicate_threshold)


def lint_article(
    article: Article, releases: Sequence[Release], options: LintOptions
) -> Iterator[Finding]:
    def at(line: int, code: str, message: str, column: int = 1) -> Finding:
        rule = RULES[code]
        return Finding(
            str(article.path), line, column, code, rule.severity, message, article.id or None
        )

    meta = article.meta
    for name in REQUIRED_FIELDS:
        if meta.get(name) in (None, ""):
            yield at(1, "KB002", f'missing required field "{name}"')
    for name in meta:
        if name not in KNOWN_FIELDS:
            yield at(article.line_of(name), "KB021", f'unknown field "{name}"')
    for name in ("id", "title", "product_area", "owner"):
        value = meta.get(name)
        if value is not None and not isinstance(value, str):
            yield at(
                article.line_of(name), "KB022", f'"{name}" must be text, not {type(value).__name__}'
            )
    if "tags" in meta and not (
        isinstance(meta["tags"], list) and all(isinstance(t, str | int) for t in meta["tags"])
    ):
        yield at(article.line_of("tags"), "KB022", '"tags" must be a list like [saml, okta]')
    if article.owner and not OWNER_PATTERN.match(article.owner):
        yield at(
            article.line_of("owner"),
            "KB022",
            f'owner "{article.owner}" is neither an email nor a team handle',
        )

    stem = article.path.name.removesuffix(".md")
    if article.id:
        if not ID_PATTERN.match(article.id):
            yield at(
                article.line_of("id"),
                "KB003",
                f'id "{article.id}" must be lowercase letters, digits and single dashes',
            )
        elif article.id != stem:
            yield at(
                article.line_of("id"),
                "KB003",
                f'id "{article.id}" differs from the file name "{stem}"',
            )

    if "last_reviewed" in meta:
        if article.last_reviewed is None:
            yield at(
                article.line_of("last_reviewed"),
                "KB008",
                f'last_reviewed "{meta["last_reviewed"]}" is not a date like 2026-10-01',
            )
        elif article.last_reviewed > options.today:
            yield at(
                article.line_of("last_reviewed"),
                "KB008",
                f"last_reviewed {article.last_reviewed} is in the future",
            )
    if "review_every_days" in meta and (
        article.review_every_days is None or article.review_every_days <= 0
    ):
        yield at(
            article.line_of("review_every_days"),
            "KB008",
            "review_every_days must be a positive whole number of days",
        )

    state = staleness(article, options.today, releases, options.default_review_days)
    if state.stale:
        code = "KB010" if state.release else "KB009"
        yield at(
            article.line_of("last_reviewed"),
            code,
            f"stale: {state.reason}; owner {article.owner or '?'}",
        )

    areas = {a for r in releases for a in r.areas}
    if areas and article.product_area and article.product_area not in areas:
        yield at(
            article.line_of("product_area"),
            "KB013",
            f'product_area "{article.product_area}" is not in releases.yaml '
            f"(known: {', '.join(sorted(areas))})",
        )
    if "audience" in meta and article.audience not in ("customer", "internal"):
        yield at(
            article.line_of("audience"),
            "KB014",
            f'audience "{meta["audience"]}" must be "customer" or "internal"',
        )

    if not article.h1_line:
        yield at(article.body_line, "KB007", "no '# ' title heading after the front matter")
    elif article.title and article.h1 != article.title:
        yield at(
            article.h1_line, "KB007", f'H1 "{article.h1}" differs from title "{article.title}"'
        )

    yield from _sections(article, at)
    yield from _content(article, at)


def _sections(article: Article, at: Callable[..., Finding]) -> Iterator[Finding]:
    names = [s.name for s in article.sections]
    end_line = article.body_line + article.body.count("\n")
    for required in REQUIRED_SECTIONS:
        if required not in names:
            yield at(end_line, "KB004", f'missing section "{required}"')
    present = [n for n in names if n in REQUIRED_SECTIONS]
    first_seen = list(dict.fromkeys(present))
    expected = [n for n in REQUIRED_SECTIONS if n in first_seen]
    if first_seen != expected:
        bad = next(s for s, e in zip(first_seen, expected, strict=True) if s != e)
        section = article.section(bad)
        yield at(
            section.line if section else 1,
            "KB005",
            f'section "{bad}" is out of order (expected {" / ".join(REQUIRED_SECTIONS)})',
        )
    for s in article.sections:
        if s.name in REQUIRED_SECTIONS and not s.text:
            yield at(s.line, "KB006", f'section "{s.name}" is empty')
    fix = article.section("Fix")
    if fix and fix.text and not NUMBERED_STEP.search(fix.text):
        yield at(fix.line, "KB015", 'section "Fix" has no numbered steps ("1. ...")')


def _mask_code(text: str) -> str:
    """Blank out fenced blocks and `code spans` (shown literally), keeping offsets."""
    blank = lambda m: re.sub(r"[^\n]", " ", m.group())  # noqa: E731
    text = CODE_FENCE.sub(blank, text)
    return CODE_SPAN.sub(blank, text)


def _content(article: Article, at: Callable[..., Finding]) -> Iterator[Finding]:
    body, base = _mask_code(article.body), article.body_line

    def pos(offset: int) -> tuple[int, int]:
        line = body.count("\n", 0, offset)
        col = offset - (body.rfind("\n", 0, offset) + 1) + 1
        return base + line, col

    for m in HTML_COMMENT.finditer(body):
        if INSTRUCTION_WORDS.search(m.group(1)) or ROLE_LINE.search(m.group(1)):
            line, col = pos(m.start())
            yield at(line, "KB016", "HTML comment carries instructions a reader never sees", col)
    for m in HIDDEN_ELEMENT.finditer(body):
        line, col = pos(m.start())
        yield at(line, "KB016", "hidden element: text styled or marked not to be seen", col)
    for m in ROLE_LINE.finditer(body):
        line, col = pos(m.start())
        yield at(line, "KB016", "line poses as a system/assistant message", col)
    for m in ACTIVE_HTML.finditer(body):
        line, col = pos(m.start())
        if m.group(1):
            what = f"<{m.group(1).lower()}>"
        elif m.group(2):
            what = f"event handler {m.group(2).lower()}="
        else:
            what = "javascript: link"
        yield at(line, "KB017", f"active HTML {what} is not allowed in an article", col)
    for rx in (MD_IMAGE, HTML_IMAGE):
        for m in rx.finditer(body):
            if REMOTE.match(m.group(1)):
                line, col = pos(m.start(1))
                yield at(line, "KB018", f"off-site image {m.group(1)[:80]}", col)
    for m in INVISIBLE.finditer(article.body):  # unmasked: code can hide text too
        line, col = pos(m.start())
        yield at(line, "KB019", f"invisible character U+{ord(m.group()):04X}", col)
    for m in MD_LINK.finditer(body):
        target = m.group(1).split("#", 1)[0]
        if not target or REMOTE.match(target) or not target.endswith(".md"):
            continue
        if not (article.path.parent / target).is_file():
            line, col = pos(m.start(1))
            yield at(line, "KB012", f"link to {target} points to no file", col)


def _duplicate_ids(articles: Sequence[Article]) -> Iterator[Finding]:
    by_id: dict[str, list[Article]] = defaultdict(list)
    for a in articles:
        if a.id:
            by_id[a.id].append(a)
    for article_id, group in by_id.items():
        if len(group) < 2:
            continue
        paths = [str(a.path) for a in group]
        for a in group:
            rest = [p for p in paths if p != str(a.path)]
            others = ", ".join(rest[:3]) + (f" and {len(rest) - 3} more" if len(rest) > 3 else "")
            yield Finding(
                str(a.path),
                a.line_of("id"),
                1,
                "KB011",
                "error",
                f'id "{article_id}" is also used by {others}',
                article_id,
            )


def _words(text: str) -> Counter[str]:
    return Counter(w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2)


def near_duplicates(articles: Sequence[Article], threshold: float) -> Iterator[Finding]:
    """Pairs of articles whose Symptoms are near-identical by TF-IDF cosine (lexical, offline)."""
    import math

    docs = [(a, _words(s.text)) for a in articles if (s := a.section("Symptoms")) and s.text]
    df: Counter[str] = Counter()
    for _, words in docs:
        df.update(words.keys())
    n = len(docs)
    vectors = []
    for a, words in docs:
        vec = {w: c * (math.log((1 + n) / (1 + df[w])) + 1) for w, c in words.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        vectors.append((a, {w: v / norm for w, v in vec.items()}))
    postings: dict[str, list[int]] = defaultdict(list)
    for i, (_, vec) in enumerate(vectors):
        for w in vec:
            postings[w].append(i)
    for i, (a, vec) in enumerate(vectors):
        scores: dict[int, float] = defaultdict(float)
        for w, v in vec.items():
            for j in postings[w]:
                if j > i:
                    scores[j] += v * vectors[j][1][w]
        for j, score in scores.items():
            if score >= threshold:
                b = vectors[j][0]
                section = a.section("Symptoms")
                yield Finding(
                    str(a.path),
                    section.line if section else 1,
                    1,
                    "KB020",
                    "warning",
                    f"Symptoms read like {b.path} ({b.id}), similarity {score:.2f}: "
                    "one problem per page",
                    a.id or None,
                )


def stale_report(result: LintResult, options: LintOptions) -> dict[str, list[dict[str, object]]]:
    """Stale articles grouped by owner, most overdue first within each owner."""
    by_owner: dict[str, list[dict[str, object]]] = defaultdict(list)
    for a in result.articles:
        state = staleness(a, options.today, result.releases, options.default_review_days)
        if state.stale and state.due:
            by_owner[a.owner or "(no owner)"].append(
                {
                    "article_id": a.id,
                    "path": str(a.path),
                    "title": a.title,
                    "due": state.due.isoformat(),
                    "days_overdue": (options.today - state.due).days,
                    "reason": state.reason,
                }
            )
    for rows in by_owner.values():
        rows.sort(key=lambda r: -int(str(r["days_overdue"])))
    return dict(sorted(by_owner.items(), key=lambda kv: -int(str(kv[1][0]["days_overdue"]))))


def parse_today(value: str | None) -> date:
    if value is None:
        return date.today()
    parsed = parse_date(value)
    if parsed is None:
        raise ConfigError(f'--today "{value}" is not a date like 2026-11-24')
    return parsed


def codes(values: Iterable[str] | None) -> frozenset[str] | None:
    """Parse --select/--ignore values ("KB001,KB009" or repeated) into codes or prefixes."""
    if values is None:
        return None
    out = {c.strip().upper() for v in values for c in v.split(",") if c.strip()}
    unknown = [c for c in out if not any(code.startswith(c) for code in RULES)]
    if unknown:
        listed = ", ".join(sorted(unknown))
        raise ConfigError(f"unknown rule code {listed}: see `copilot lint --explain`")
    return frozenset(out)
