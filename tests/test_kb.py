from __future__ import annotations

from datetime import date
from pathlib import Path

from copilot.kb.parse import parse_article, staleness
from copilot.types import Release
from tests.conftest import FIXTURES

CLEAN = FIXTURES / "lint" / "clean" / "clean-article.md"


def parse(text: str, name: str = "clean-article.md"):  # type: ignore[no-untyped-def]
    return parse_article(Path(name), text.encode())


def test_parses_fields_sections_and_lines() -> None:
    article, findings = parse_article(CLEAN, CLEAN.read_bytes())
    assert findings == []
    assert article is not None
    assert article.id == "clean-article"
    assert article.last_reviewed == date(2026, 10, 1)
    assert article.audience == "customer"
    assert [s.name for s in article.sections] == ["Symptoms", "Cause", "Fix", "Verify", "Escalate"]
    assert article.section("fix") is not None
    assert article.section("Fix").line == 16  # type: ignore[union-attr]
    assert article.section("Fix").text == "1. Do this."  # type: ignore[union-attr]
    assert article.line_of("owner") == 4
    assert article.h1_line == 8


def test_headings_inside_code_fences_are_not_sections() -> None:
    text = CLEAN.read_text().replace("1. Do this.", "1. Run:\n```\n## not a section\n```")
    article, _ = parse(text)
    assert article is not None
    assert [s.name for s in article.sections].count("not a section") == 0
    assert "## not a section" in article.section("Fix").text  # type: ignore[union-attr]


def test_quoted_title_and_bom() -> None:
    text = "\ufeff" + CLEAN.read_text().replace("title: Good title", 'title: "Good title"')
    article, findings = parse(text)
    assert findings == [] and article is not None and article.title == "Good title"


def test_unparseable_files_are_findings_with_lines() -> None:
    _, findings = parse_article(Path("x.md"), b"---\nid: x\n")
    assert findings[0].code == "KB001" and "not closed" in findings[0].message
    _, findings = parse_article(Path("x.md"), b"---\n- a list\n---\n# T\n")
    assert findings[0].code == "KB001" and findings[0].line == 2


def test_staleness_by_interval_and_release() -> None:
    article, _ = parse_article(CLEAN, CLEAN.read_bytes())
    assert article is not None
    assert not staleness(article, date(2026, 11, 24), []).stale
    late = staleness(article, date(2027, 6, 1), [])
    assert late.stale and late.due == date(2027, 3, 30)
    rel = Release("5.0", date(2026, 11, 1), ("sso",))
    by_release = staleness(article, date(2026, 11, 24), [rel])
    assert by_release.stale and by_release.release == rel
    other_area = Release("5.0", date(2026, 11, 1), ("billing",))
    assert not staleness(article, date(2026, 11, 24), [other_area]).stale
    future = Release("6.0", date(2027, 1, 1), ("sso",))
    assert not staleness(article, date(2026, 11, 24), [future]).stale
