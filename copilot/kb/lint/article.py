"""Per-article checks: front matter, the five sections, and content a reader must not be shown
(hidden instructions, active HTML, off-site images, invisible characters, broken links)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence

from copilot.kb.lint.rules import RULES, LintOptions
from copilot.kb.parse import HTML_COMMENT, INVISIBLE, staleness
from copilot.safety.urls import UrlPolicy
from copilot.types import REQUIRED_SECTIONS, Article, Finding, Release

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
    yield from _content(article, at, UrlPolicy(options.link_hosts))


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


def _content(article: Article, at: Callable[..., Finding], urls: UrlPolicy) -> Iterator[Finding]:
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
    for rx, what in ((MD_IMAGE, "image"), (HTML_IMAGE, "image"), (MD_LINK, "link")):
        for m in rx.finditer(body):
            if not urls.allowed(m.group(1)):
                line, col = pos(m.start(1))
                yield at(line, "KB018", f"off-site {what} {m.group(1)[:80]}", col)
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
