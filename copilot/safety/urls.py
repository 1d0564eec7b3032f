"""Links as a browser reads them: the one URL policy behind lint, every reply path and agent
messages. URLs are parsed by ada (`ada-url`, the WHATWG parser Node.js uses), so
`https://evil.example\\@ok.com`, `\\\\evil.example/x` and `https:\\\\evil.example` mean here what
they mean in Chromium. Bare domains (`evil-downloads.com/fixer.exe`) count as links too: people
copy them and chat widgets autolink them; the public suffix list (`tldextract`, its bundled copy,
never fetched) tells a domain from a word with a dot.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from fnmatch import fnmatch
from functools import cache
from typing import Any

from ada_url import URL as AdaURL

# Relative links resolve against this: a link that stays on it is one of our own pages.
BASE = "https://copilot.invalid/articles/"
OWN_HOST = "copilot.invalid"
WEB = frozenset({"http:", "https:"})
_END = r"[^\s<>\"'`)\]]"  # a URL runs until space, a quote or a closing bracket
# What may be a link in free text: a scheme URL of the kinds browsers follow or run, anything
# starting with two slashes of either direction (scheme-relative), `www.`, or a bare domain.
CANDIDATE = re.compile(
    rf"\b(?:https?|ftp|file|javascript|vbscript|data|blob|ws|wss):{_END}+"
    rf"|(?:\b[a-z][a-z0-9+.-]*:)?[\\/]{{2}}{_END}+"
    rf"|\bwww\.{_END}+"
    r"|(?<![\w@./\\-])(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{1,62}\b"
    rf"(?:[/:?#]{_END}*)?",
    re.I,
)
# File names that are also country domains, seen in docs as files: without a path, not a link.
FILE_SUFFIXES = frozenset({"md", "py", "sh", "pl", "rs", "zip", "mov", "ps", "cs", "ts", "js"})


class UrlPolicy:
    """Which URLs a customer may be shown: http(s) to a host matching one of `hosts` (globs
    like "example.com", "*.example.com"), or a relative link to our own pages. Never a URL with
    a user name or password in it (the classic phishing form)."""

    def __init__(self, hosts: Sequence[str]) -> None:
        self.hosts = [h.lower().rstrip(".") for h in hosts]

    def allowed(self, url: str) -> bool:
        parsed = parse(url)
        if parsed is None or parsed.protocol not in WEB or parsed.username or parsed.password:
            return False
        host = parsed.hostname.lower().rstrip(".")
        if host == OWN_HOST:
            return not _looks_absolute(url)  # a relative link: this site
        return any(fnmatch(host, glob) for glob in self.hosts)

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, url) of every link-like run in free text, bare domains included."""
        found = []
        for m in CANDIDATE.finditer(text):
            url = m.group().rstrip(".,;:!?")
            if _is_bare(url) and not is_domain(url):
                continue
            found.append((m.start(), m.start() + len(url), url))
        return found


def parse(url: str) -> Any | None:
    """The URL as a browser resolves it on one of our pages; None when a browser would not
    follow it. A bare domain is read as the https site it names."""
    url = url.strip()
    if url[:4].lower() == "www." or (_is_bare(url) and is_domain(url)):
        url = "https://" + url
    try:
        return AdaURL(url, BASE)
    except ValueError:
        return None


def is_domain(text: str) -> bool:
    """Whether a bare `name.tld[/path]` names a registrable domain (public suffix list)."""
    host = re.split(r"[/:?#]", text, maxsplit=1)[0].lower().rstrip(".")
    extracted = _extract()(host)
    if not extracted.suffix or not extracted.domain:
        return False
    has_rest = len(host) < len(text.rstrip("."))
    return has_rest or extracted.suffix not in FILE_SUFFIXES


def _is_bare(url: str) -> bool:
    return not re.match(r"[a-z][a-z0-9+.-]*:|[\\/]|www\.", url, re.I)


def _looks_absolute(url: str) -> bool:
    """A URL that is not one of our relative links: it has a scheme (`https:evil.example` is
    relative to an https page, but a browser's address bar, or an http page, opens evil.example),
    starts with two slashes of either kind, or names our placeholder host."""
    return bool(re.match(r"\s*(?:[a-z][a-z0-9+.-]*:|[\\/]{2})", url, re.I)) or OWN_HOST in url


@cache
def _extract() -> Any:
    import tldextract

    # The list bundled with the package: never fetched (no network here, nor on many servers).
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
