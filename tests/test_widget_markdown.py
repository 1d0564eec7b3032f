"""Article pages' markdown (copilot/safety/markdown.py): formatted, inert, links by the policy."""

from __future__ import annotations

from copilot.safety.guard import LinkPolicy
from copilot.safety.markdown import render

LINKS = LinkPolicy(["flowbench.io", "*.flowbench.io"])


def test_steps_bold_and_code_become_html() -> None:
    html = render("1. Open **Settings**.\n2. Run `copilot index`.", LINKS)
    assert "<ol>" in html and html.count("<li>") == 2
    assert "<strong>Settings</strong>" in html and "<code>copilot index</code>" in html
    assert "**" not in html and "`" not in html


def test_raw_html_is_text_never_markup() -> None:
    html = render('Click <img src=x onerror="alert(1)"> or <script>alert(2)</script>.', LINKS)
    assert "<img" not in html and "<script" not in html
    assert "&lt;script&gt;" in html


def test_links_follow_the_url_policy() -> None:
    html = render(
        "[ours](https://app.flowbench.io/x), [theirs](https://evil.example/x), "
        "[js](javascript:alert(1)), ![pixel](https://evil.example/p.png), evil-downloads.com/a.exe",
        LINKS,
    )
    assert '<a href="https://app.flowbench.io/x" rel="noopener noreferrer">ours</a>' in html
    assert "evil.example" not in html and "javascript:" not in html and "<img" not in html
    assert "theirs" in html and "js" in html  # the words stay, the targets go
    assert "evil-downloads.com" not in html


def test_a_link_to_another_article_file_goes_to_its_page() -> None:
    pages = {"audit-log-missing-events": "/articles/audit-log-missing-events"}
    html = render(
        "See [Missing events](audit-log-missing-events.md) and [Internal](agent-notes.md).",
        LINKS,
        pages.get,
    )
    assert '<a href="/articles/audit-log-missing-events"' in html
    assert "agent-notes" not in html and "Internal" in html


def test_steps_kept_as_running_text_are_numbered_again() -> None:
    html = render("Before you start: 1. Open the page. 2. Click Retry. 3. Wait.", LINKS)
    assert html.startswith("<p>Before you start:</p>") and html.count("<li>") == 3
