"""The KB model: parse markdown articles (front matter + sections, with line numbers) and releases.

A file that cannot be parsed yields a KB001 finding instead of an article; nothing here raises on
bad input. Structural rules (which sections, which fields) are the linter's job.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import yaml

from copilot.types import Article, Finding, Release, Section

FRONT_MATTER_FENCE = "---"
# Text a reader does not see: the linter flags it, the indexer removes it before embedding.
HTML_COMMENT = re.compile(r"<!--(.*?)(?:-->|$)", re.S)
INVISIBLE = re.compile(
    "[\u200b\u200c\u200d\u2060\ufeff\u202a-\u202e\u2066-\u2069\u061c\u200e\u200f]"
)
_FIELD_LINE = re.compile(r"^([A-Za-z_][\w-]*)\s*:")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BASE_LOADER):  # type: ignore[misc,valid-type]
    """Safe YAML without implicit timestamps: dates are parsed by us, so a bad one is a finding."""


_Loader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for ch, resolvers in _BASE_LOADER.yaml_implicit_resolvers.items()
}


def _finding(path: Path, line: int, message: str, column: int = 1) -> Finding:
    return Finding(str(path), line, column, "KB001", "error", message)


def parse_date(value: object) -> date | None:
    """An ISO date from YAML text (`2026-10-01`), or None when it is not one."""
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


MAX_ARTICLE_BYTES = 1_000_000  # a help article is a few KB; past this it is an export or a dump


def parse_article(path: Path, data: bytes) -> tuple[Article | None, list[Finding]]:
    """Parse one article file's bytes. Returns the article, or None with the reason as a finding."""
    if len(data) > MAX_ARTICLE_BYTES:
        size = f"{len(data) / 1e6:.1f} MB"
        return None, [_finding(path, 1, f"file is {size}; an article is at most 1 MB: split it")]
    if b"\x00" in data:
        return None, [_finding(path, 1, "not a text file (binary content): remove it from the KB")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        return None, [_finding(path, line, f"not valid UTF-8 (byte {exc.start}): save as UTF-8")]
    text = text.removeprefix("\ufeff")
    lines = text.splitlines()
    if not lines or lines[0].strip() != FRONT_MATTER_FENCE:
        return None, [_finding(path, 1, "no front matter: the file must start with a '---' line")]
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == FRONT_MATTER_FENCE), None)
    if end is None:
        return None, [_finding(path, 1, "front matter is not closed: add a '---' line after it")]
    try:
        meta = yaml.load("\n".join(lines[1:end]), Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = (mark.line + 2) if mark is not None else 2
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context, start = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and start is not None:
            problem = f"{problem} ({context} started on line {start.line + 2})"
        return None, [_finding(path, line, f"front matter is not valid YAML: {problem}")]
    except (ValueError, TypeError, RecursionError) as exc:  # constructors of odd YAML values
        return None, [_finding(path, 2, f"front matter is not valid YAML: {exc}")]
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        return None, [_finding(path, 2, "front matter must be a mapping of 'field: value' lines")]

    field_lines: dict[str, int] = {}
    for i in range(1, end):
        m = _FIELD_LINE.match(lines[i])
        if m and m.group(1) not in field_lines:
            field_lines[m.group(1)] = i + 1

    body_start = end + 1  # 0-based index of the first body line
    h1, h1_line, sections = "", 0, []
    current: tuple[str, int, list[str]] | None = None
    fence: str | None = None
    for idx in range(body_start, len(lines)):
        text_line = lines[idx]
        fm = _FENCE.match(text_line)
        if fm:
            marker = fm.group(1)
            if fence is None:
                fence = marker[0] * 3
            elif marker.startswith(fence):
                fence = None
        if fence is None and not fm:
            if text_line.startswith("# ") and not h1_line:
                h1, h1_line = text_line[2:].strip(), idx + 1
                continue
            if text_line.startswith("## "):
                if current:
                    sections.append(_section(current))
                current = (text_line[3:].strip(), idx + 1, [])
                continue
        if current:
            current[2].append(text_line)
    if current:
        sections.append(_section(current))

    def text_field(name: str) -> str:
        value = meta.get(name)
        return str(value).strip() if isinstance(value, str | int | float) else ""

    raw_tags = meta.get("tags")
    tags = tuple(str(t) for t in raw_tags) if isinstance(raw_tags, list) else ()
    every = meta.get("review_every_days")
    article = Article(
        path=path,
        id=text_field("id"),
        title=text_field("title"),
        owner=text_field("owner"),
        last_reviewed=parse_date(meta.get("last_reviewed")),
        review_every_days=every if isinstance(every, int) and not isinstance(every, bool) else None,
        product_area=text_field("product_area"),
        tags=tags,
        audience=text_field("audience") or "customer",
        h1=h1,
        sections=tuple(sections),
        body="\n".join(lines[body_start:]),
        body_line=body_start + 1,
        meta={str(k): v for k, v in meta.items()},
        field_lines=field_lines,
        h1_line=h1_line,
    )
    return article, []


def _section(current: tuple[str, int, list[str]]) -> Section:
    name, line, body = current
    return Section(name=name, text="\n".join(body).strip(), line=line)


def article_files(root: Path) -> Iterator[Path]:
    """Markdown files under `root` (sub-folders carry no meaning), in a stable order."""
    if root.is_file():
        yield root
        return
    yield from sorted(p for p in root.rglob("*.md") if p.is_file() and not _hidden(p, root))


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


@dataclass(frozen=True)
class LoadedFile:
    path: Path
    data: bytes
    article: Article | None
    findings: tuple[Finding, ...]

    @property
    def hash(self) -> str:
        return content_hash(self.data)


def load_files(paths: Iterable[Path]) -> list[LoadedFile]:
    """Read and parse article files; unreadable ones come back with a KB001 finding."""
    out = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            out.append(LoadedFile(path, b"", None, (_finding(path, 1, f"cannot read: {exc}"),)))
            continue
        article, findings = parse_article(path, data)
        out.append(LoadedFile(path, data, article, tuple(findings)))
    return out


def load_releases(kb_root: Path) -> tuple[list[Release], list[Finding]]:
    """`releases.yaml` at the KB root, if any. A malformed file is a finding, not an exception."""
    path = kb_root / "releases.yaml"
    if not path.is_file():
        return [], []
    try:
        doc = yaml.load(path.read_text("utf-8"), Loader=_Loader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValueError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return [], [_finding(path, line, f"releases.yaml cannot be read: {exc}".splitlines()[0])]
    items = doc.get("releases") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        return [], [_finding(path, 1, "releases.yaml must have a 'releases:' list")]
    releases, findings = [], []
    for n, item in enumerate(items, 1):
        when = parse_date(item.get("date")) if isinstance(item, dict) else None
        areas = item.get("areas") if isinstance(item, dict) else None
        if when is None or not isinstance(areas, list):
            findings.append(
                _finding(
                    path, 1, f"release #{n} needs 'version', an ISO 'date' and an 'areas' list"
                )
            )
            continue
        releases.append(Release(str(item.get("version", "")), when, tuple(map(str, areas))))
    return releases, findings


@dataclass(frozen=True)
class Staleness:
    """Why an article is stale, if it is. `due` is when its review fell due."""

    stale: bool
    due: date | None = None
    reason: str = ""
    release: Release | None = None


def staleness(
    article: Article, today: date, releases: Iterable[Release], default_days: int = 180
) -> Staleness:
    """Staleness as KB_FORMAT.md defines it: review interval passed, or a later release."""
    if article.last_reviewed is None:
        return Staleness(False)
    every = article.review_every_days or default_days
    due = article.last_reviewed + timedelta(days=every)
    if due < today:
        return Staleness(True, due, f"review was due {due.isoformat()} (every {every} days)")
    later = [
        r
        for r in releases
        if article.product_area in r.areas and article.last_reviewed < r.date <= today
    ]
    if later:
        first = min(later, key=lambda r: r.date)
        return Staleness(
            True,
            first.date,
            f"release {first.version} ({first.date.isoformat()}) changed "
            f"'{article.product_area}' after the last review",
            first,
        )
    return Staleness(False)
