"""KB markdown as HTML a customer's browser may render: the article pages (api/routes/pages.py).

markdown-it-py (CommonMark) does the parsing, with raw HTML off, so a tag in an article is shown
as text and never parsed. Links and images then pass the same URL policy as every reply
(copilot/safety/guard.py `LinkPolicy`): an off-site link keeps its words and loses its target, an
off-site image is dropped, a bare off-site URL in the text is replaced. A hand-written formatter
would have to get CommonMark's edge cases (nested emphasis, code spans holding `**`) right too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

from copilot.safety.guard import LinkPolicy

# A numbered step ("2. ", "3) ") inside running text: the index may keep a long section as one
# line (copilot/index/chunk.py windows), which would make its steps one paragraph.
INLINE_STEP = re.compile(r"\s2[.)]\s")
STEP = re.compile(r"(?:^|\s)(\d+)[.)]\s+")
# How articles link to each other in the KB: by file name (`[Title](other-article.md)`).
KB_LINK = re.compile(r"^(?:\./)?([\w-]+)\.md(#[\w-]*)?$")
ArticleLink = Callable[[str], "str | None"]


@cache
def _parser() -> MarkdownIt:
    # "commonmark" with html off: `<img onerror=...>` in an article is text, not markup.
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def render(text: str, links: LinkPolicy, article_link: ArticleLink | None = None) -> str:
    """`text` (KB markdown) as safe HTML: escaped, formatted, links only where `links` allows.
    A link to another article's file goes to `article_link(article_id)` (None: no link)."""
    text = links.clean(_restore_steps(text))
    md = _parser()
    tokens = md.parse(text)
    for token in tokens:
        if token.children:
            token.children = _safe_inline(token.children, links, article_link)
    return str(md.renderer.render(tokens, md.options, {}))


def _restore_steps(text: str) -> str:
    if "\n" in text or not INLINE_STEP.search(text):
        return text
    parts = STEP.split(" " + text)  # [before, "1", step, "2", step, ...]
    if len(parts) < 5:
        return text
    numbered = [f"{parts[i]}. {parts[i + 1].strip()}" for i in range(1, len(parts) - 1, 2)]
    return "\n\n".join(filter(None, [parts[0].strip(), "\n".join(numbered)]))


def _safe_inline(
    children: list[Token], links: LinkPolicy, article_link: ArticleLink | None
) -> list[Token]:
    """Links whose target the policy refuses become their text; such images disappear. Links
    that stay open in a new tab without handing the page a reference to ours."""
    out: list[Token] = []
    dropped = 0  # link_open tokens removed, so their link_close goes too
    for token in children:
        if token.type == "link_open":
            href = str(token.attrGet("href") or "")
            kb = KB_LINK.match(href)
            if kb:
                href = (article_link(kb.group(1)) if article_link else None) or ""
                token.attrSet("href", href)
            if not href or not links.allowed(href):
                dropped += 1
                continue
            token.attrSet("rel", "noopener noreferrer")
        elif token.type == "link_close" and dropped:
            dropped -= 1
            continue
        elif token.type == "image" and not links.allowed(str(token.attrGet("src") or "")):
            continue
        out.append(token)
    return out
