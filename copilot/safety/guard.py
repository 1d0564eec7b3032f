"""What may reach a customer, whatever the KB, the customer or the model wrote.

Two rules, checked on every reply, extractive or LLM, so they hold even with a model that obeys any
instruction it reads (docs/reliability.md measures that):
- links and images go only to the product's own hosts (`link_hosts`), as a browser would parse
  them (copilot/safety/urls.py); anything else is removed;
- an LLM sentence may not carry an identifier (a token mixing letters and digits, like a key, a
  code or a canary) that is in none of its sources nor the conversation, nor repeat the system
  prompt. Both catch leaked secrets and made-up error codes alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from copilot.safety.urls import UrlPolicy

# A link's target may hold one level of balanced parentheses, as CommonMark allows.
TARGET = r"\(\s*<?((?:[^()\s>]|\([^()\s]*\))*)[^)]*\)"
MD_IMAGE = re.compile(r"!\[([^\]]*)\]" + TARGET)
MD_LINK = re.compile(r"\[([^\]]*)\]" + TARGET)
HTML_TAG = re.compile(
    r"<\s*(?:img|a|iframe|script|link|object|embed|source|video|audio|form|base|meta)\b[^>]*>?",
    re.I,
)
HTML_URL = re.compile(
    r"\b(?:src|href|srcset|data|poster|action|content)\s*=\s*[\"']?([^\"'\s>]+)", re.I
)
IDENTIFIER = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[a-z])[a-z0-9][\w-]{5,}\b", re.I)
REMOVED = "(link removed)"
SHINGLE = 6  # words in a row shared with the system prompt that count as repeating it


class LinkPolicy:
    """Removes from a text what `UrlPolicy` does not allow a customer to see: off-site images
    dropped, off-site links reduced to their words, other off-site URLs (bare domains included)
    replaced, and HTML tags that point off-site removed."""

    def __init__(self, hosts: Sequence[str]) -> None:
        self.policy = UrlPolicy(hosts)

    def allowed(self, url: str) -> bool:
        return self.policy.allowed(url)

    def offsite(self, text: str) -> list[str]:
        """The URLs in `text` a reply may not show."""
        found = [url for _, _, url in self.policy.find(text)]
        found += [m.group(2) for m in MD_LINK.finditer(text)]
        found += [u for m in HTML_TAG.finditer(text) for u in HTML_URL.findall(m.group())]
        return [u for u in found if u and not self.allowed(u)]

    def clean(self, text: str) -> str:
        def image(m: re.Match[str]) -> str:
            return m.group() if self.allowed(m.group(2)) else ""

        def link(m: re.Match[str]) -> str:
            return m.group() if self.allowed(m.group(2)) else m.group(1)

        def tag(m: re.Match[str]) -> str:
            return m.group() if all(map(self.allowed, HTML_URL.findall(m.group()))) else ""

        text = HTML_TAG.sub(tag, text)
        text = MD_IMAGE.sub(image, text)
        text = MD_LINK.sub(link, text)
        out, last = [], 0
        for start, end, url in self.policy.find(text):
            if not self.allowed(url):
                out += [text[last:start], REMOVED]
                last = end
        return "".join([*out, text[last:]])


class Leaks:
    """Checks an LLM sentence for what it cannot have learned from its sources or the customer."""

    def __init__(self, known: Sequence[str], system_prompt: str) -> None:
        self.known = {m.group().lower() for text in known for m in IDENTIFIER.finditer(text)}
        self.prompt = _shingles(system_prompt)
        self.sourced = set().union(*map(_shingles, known))

    def why(self, sentence: str) -> str | None:
        for m in IDENTIFIER.finditer(sentence):
            if m.group().lower() not in self.known:
                return f"an identifier in no source: {m.group()[:40]!r}"
        if (_shingles(sentence) & self.prompt) - self.sourced:
            return "repeats the system prompt"
        return None


def _shingles(text: str) -> set[tuple[str, ...]]:
    """Every run of SHINGLE words in `text`, lower-cased."""
    words = re.findall(r"\w+", text.lower())
    return {tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}
