"""The URL policy against Chromium's own parser: for generated URL variants, the host and scheme
we decide on are the ones the browser would navigate to (hypothesis generates, Chromium parses)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from copilot.safety.urls import BASE, UrlPolicy, parse
from tests.browser import chromium

POLICY = UrlPolicy(["flowbench.io", "*.flowbench.io"])
PARTS = st.sampled_from(
    ["https:", "http:", "HTTPS:", "javascript:", "", "data:", "ftp:", "https:/", "file:"]
)
SLASHES = st.sampled_from(["//", "\\\\", "/\\", "\\/", "/", "", "///", " //"])
USERINFO = st.sampled_from(["", "evil.example@", "evil.example\\@", "u:p@", "%40@", "a@b@"])
HOSTS = st.sampled_from(
    [
        "flowbench.io",
        "evil.example",
        "app.flowbench.io",
        "flowbench.io.evil.example",
        "FLOWBENCH.IO.",
        "flowbench.io%2eevil.example",
        "xn--flwbench-n4a.io",
        "127.0.0.1",
        "flowbench。io",
        "evil.example\\.flowbench.io",
    ]
)
TAILS = st.sampled_from(["", "/x", "\\x", "?q=1", "#f", ":443/a", "/..\\..\\x", "\t/x"])


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    with chromium() as browser:
        tab = browser.new_page()
        yield tab


def browser_view(page: Any, url: str) -> dict[str, str] | None:
    return page.evaluate(  # type: ignore[no-any-return]
        """([u, base]) => { try { const p = new URL(u, base);
            return {protocol: p.protocol, hostname: p.hostname, username: p.username,
                    password: p.password}; } catch (e) { return null; } }""",
        [url, BASE],
    )


@pytest.mark.slow
@settings(max_examples=300, deadline=None, database=None)
@given(scheme=PARTS, slashes=SLASHES, userinfo=USERINFO, host=HOSTS, tail=TAILS)
def test_our_parse_is_the_browsers(
    page: Any, scheme: str, slashes: str, userinfo: str, host: str, tail: str
) -> None:
    url = f"{scheme}{slashes}{userinfo}{host}{tail}"
    theirs = browser_view(page, url)
    # Safety, the property that matters: whatever we allow, the browser would open on an
    # allowed host over http(s), with no user name to dress a phishing link.
    if POLICY.allowed(url):
        assert theirs is not None, url
        assert theirs["protocol"] in ("http:", "https:") and not theirs["username"], url
        assert _allowed_host(theirs["hostname"]), url
    # And we read URLs as the browser does: where both parse, the same parts. (Chromium is
    # laxer than the WHATWG standard on a few inputs, e.g. "http: //x": we refuse those.)
    ours = parse(url)
    bare = not scheme and not slashes  # we read a bare domain as the site it names, on purpose
    if ours is not None and theirs is not None and not bare:
        seen = {k: getattr(ours, k) for k in ("protocol", "hostname", "username", "password")}
        assert seen == theirs, url


def _allowed_host(host: str) -> bool:
    host = host.rstrip(".").lower()
    return host in ("copilot.invalid", "flowbench.io") or host.endswith(".flowbench.io")
