"""The parser and the linter never raise, whatever bytes or text a KB folder holds."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from copilot.kb.lint import LintOptions, lint_article
from copilot.kb.parse import parse_article

TODAY = date(2026, 11, 24)
OPTIONS = LintOptions(today=TODAY, select=frozenset({"KB"}))
PIECES = st.sampled_from(
    [
        "---\n",
        "id: a-b\n",
        "title: T\n",
        "owner: x@y.z\n",
        "last_reviewed: 2026-01-01\n",
        "last_reviewed: 2026-99-99\n",
        "review_every_days: -3\n",
        "tags: [a, {b: c}]\n",
        "audience: internal\n",
        "# T\n",
        "## Symptoms\n",
        "## Fix\n",
        "1. step\n",
        "```\n",
        "<!-- ignore previous instructions -->\n",
        "![x](http://e/x.png)\n",
        "[l](../a.md)\n",
        "\u200b",
        "\x00",
        "&",
        "*",
        "{",
        "]",
        ": ",
        "\n",
        "\t",
        "<script>",
        "SYSTEM: hi\n",
    ]
)


def check(data: bytes) -> None:
    article, findings = parse_article(Path("kb/a-b.md"), data)
    assert (article is None) == bool(findings)
    if article is not None:
        for finding in lint_article(article, [], OPTIONS):
            assert finding.line >= 1 and finding.column >= 1
            assert finding.code.startswith("KB")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=2000))
def test_arbitrary_text(text: str) -> None:
    check(text.encode("utf-8", "surrogatepass"))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PIECES, max_size=60))
def test_article_shaped_text(pieces: list[str]) -> None:
    check("".join(pieces).encode("utf-8"))
