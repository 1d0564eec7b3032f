"""What may reach a customer, whatever the KB, the customer or the model wrote.

Two rules, checked on every reply, extractive or LLM, so they hold even with a model that obeys any
instruction it reads (docs/reliability.md measures that):
- links and images go only to the product's own hosts (`link_hosts`); anything else is removed;
- an LLM sentence may not carry an identifier (a token mixing letters and digits, like a key, a
  code or a canary) that is in none of its sources nor the conversation, nor repeat the system
  prompt. Both catch leaked secrets and made-up error codes alike.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fnmatch import fnmatch
from urllib.parse import urlsplit

# Absolute URLs (any scheme with //, protocol-relative, www.) and data: URIs.
URL = re.compile(
    r"(?:\b[a-z][a-z0-9+.-]*:)?//[^\s<>\"'`)\]]+|\bwww\.[^\s<>\"'`)\]]+|\bdata:[^\s<>\"'`)\]]+",
    re.I,
)
# A link's target may hold one level of balanced parentheses, as CommonMark allows.
TARGET = r"\(\s*<?((?:[^()\s>]|\([^()\s]*\))*)[^)]*\)"
MD_IMAGE = re.compile(r"!\[([^\]]*)\]" + TARGET)
MD_LINK = re.compile(r"\[([^\]]*)\]" + TARGET)
HTML_TAG = re.compile(
    r"<\s*(?:img|a|iframe|script|link|object|embed|source|video|audio)\b[^>]*>?", re.I
)
HTML_URL = re.compile(r"\b(?:src|href|srcset|data|poster)\s*=\s*[\"']?([^\"'\s>]+)", re.I)
IDENTIFIER = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[a-z])[a-z0-9][\w-]{5,}\b", re.I)
REMOVED = "(link removed)"
SHINGLE = 6  # words in a row shared with the system prompt that count as repeating it


class LinkPolicy:
    """Which hosts replies may link to: globs like "example.com", "*.example.com". Relative links
    (the API's own article pages) are always fine."""

    def __init__(self, hosts: Sequence[str]) -> None:
        self.hosts = [h.lower() for h in hosts]

    def allowed(self, url: str) -> bool:
        url = url.strip()
        if url.lower().startswith("data:"):
            return False
        if url.lower().startswith("www."):
            url = "//" + url
        parts = urlsplit(url)
        if not parts.netloc:
            return not parts.scheme  # a relative link: this site
        if parts.scheme.lower() not in ("http", "https", ""):
            return False
        host = (parts.hostname or "").lower()
        return any(fnmatch(host, glob) for glob in self.hosts)

    def offsite(self, text: str) -> list[str]:
        """The URLs in `text` a reply may not show."""
        found = [m.group() for m in URL.finditer(text)]
        found += [m.group(2) for m in MD_LINK.finditer(text)]
        found += [u for m in HTML_TAG.finditer(text) for u in HTML_URL.findall(m.group())]
        return [u for u in found if u and not self.allowed(u)]

    def clean(self, text: str) -> str:
        """`text` with off-site images dropped, off-site links reduced to their words, other
        off-site URLs replaced, and HTML tags that point off-site removed."""

        def image(m: re.Match[str]) -> str:
            return m.group() if self.allowed(m.group(2)) else ""

        def link(m: re.Match[str]) -> str:
            return m.group() if self.allowed(m.group(2)) else m.group(1)

        def bare(m: re.Match[str]) -> str:
            return m.group() if self.allowed(m.group()) else REMOVED

        def tag(m: re.Match[str]) -> str:
            return m.group() if all(map(self.allowed, HTML_URL.findall(m.group()))) else ""

        text = HTML_TAG.sub(tag, text)
        text = MD_IMAGE.sub(image, text)
        text = MD_LINK.sub(link, text)
        return URL.sub(bare, text)


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
