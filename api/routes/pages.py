"""The pages a browser opens: customer articles (where the widget's source links go), and the
help widget, its demo page and the agent console, served from api/widget/."""

from __future__ import annotations

import re
from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import CopilotDep, SettingsDep
from copilot.errors import NotFound
from copilot.safety import markdown
from copilot.safety.guard import LinkPolicy

router = APIRouter()
WIDGET = Path(__file__).resolve().parents[1] / "widget"
WIDGET_FILES = {
    "widget.js": "text/javascript",
    "demo.html": "text/html",
    "demo-settings.html": "text/html",
    "demo.js": "text/javascript",
    "console.html": "text/html",
    "console.js": "text/javascript",
    "console.css": "text/css",
}
WIDGET_BUNDLE = ["widget.js", "proactive.js"]
# Our pages run only our own scripts: a payload that slips into text still cannot execute.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
# The customer sections, in reading order, with the heading a customer reads.
ARTICLE_SECTIONS = (
    ("Symptoms", "What you see"),
    ("Cause", "Why it happens"),
    ("Fix", "How to fix it"),
    ("Verify", "Check that it worked"),
    ("Escalate", "Still stuck?"),
)
DESCRIPTION_CHARS = 200
# Styled like the widget (its colour, system font, light and dark): a page the customer opens
# from a citation should look like the same product.
ARTICLE_CSS = """
:root{--c:#3451b2;color-scheme:light dark}
*{box-sizing:border-box}
body{margin:0;font:16px/1.6 system-ui,-apple-system,Segoe UI,sans-serif;background:#f6f6f8;
color:#1b1b1f}
header{background:var(--c);color:#fff;padding:12px 20px}
header a{color:#fff;font-weight:600;text-decoration:none}
header a:focus-visible,main a:focus-visible{outline:3px solid #f5b700;outline-offset:2px}
main{max-width:760px;margin:24px auto;padding:20px 24px;background:#fff;border-radius:12px;
box-shadow:0 2px 10px rgba(0,0,0,.08)}
h1{font-size:26px;line-height:1.25;margin:0 0 8px}
h2{font-size:18px;margin:24px 0 6px;color:var(--c)}
ol,ul{padding-left:24px}li{margin:4px 0}
code{font:14px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f0f0f4;padding:1px 5px;
border-radius:4px;overflow-wrap:anywhere}
pre{overflow-x:auto}
a{color:var(--c)}
.escalate{background:#fff8e6;border-left:4px solid #f5b700;padding:4px 14px;border-radius:6px}
.meta{color:#5b5b66;font-size:14px}
nav.back{margin-top:28px}
@media (prefers-color-scheme:dark){body{background:#16171b;color:#ececf1}main{background:#1e1f24}
h2,a{color:#9db0ff}code{background:#2c2d34}.escalate{background:#3a3220}.meta{color:#a5a5b0}}
"""


def _page(title: str, description: str, url: str, body: str) -> str:
    meta = escape(description)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} · Help</title>"
        f'<meta name="description" content="{meta}">'
        f'<meta property="og:title" content="{escape(title)}">'
        f'<meta property="og:description" content="{meta}">'
        '<meta property="og:type" content="article">'
        f'<meta property="og:url" content="{escape(url)}">'
        f'<meta name="twitter:card" content="summary"><style>{ARTICLE_CSS}</style></head><body>'
        '<header><a href="/articles">Help articles</a></header>'
        f"<main>{body}</main></body></html>"
    )


def _description(text: str) -> str:
    """The first sentence or so of the Symptoms, as plain text (markdown marks dropped)."""
    plain = re.sub(r"[*`_#>]+|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", text)
    plain = " ".join(plain.split())
    return plain if len(plain) <= DESCRIPTION_CHARS else plain[: DESCRIPTION_CHARS - 1] + "…"


@router.get("/articles/{article_id}", tags=["customers"], response_class=HTMLResponse)
async def article(
    article_id: str, request: Request, copilot: CopilotDep, settings: SettingsDep
) -> Any:
    """A customer article as a page: where the widget's source links go."""
    catalog = copilot.catalog
    entry = catalog.get(article_id)
    if entry is None or entry.audience != "customer":
        raise NotFound(f"article {article_id} not found")
    sections = catalog.sections(article_id)
    links = LinkPolicy(settings.link_hosts)
    title = links.clean(entry.title)  # as every reply shows it

    def article_link(other: str) -> str | None:
        return (
            settings.article_url.format(article_id=other)
            if catalog.visible(other, "customer")
            else None
        )

    parts = [f"<article><h1>{escape(title)}</h1>"]
    if entry.stale:
        parts.append(
            '<p class="meta">This article is due for review: some details may have changed.</p>'
        )
    for name, heading in ARTICLE_SECTIONS:
        text = sections.get(name, "").strip()
        if not text or text == "Not stated in the source.":
            continue
        html = markdown.render(text, links, article_link)
        css = ' class="escalate"' if name == "Escalate" else ""
        parts.append(
            f'<section{css} aria-labelledby="s-{name.lower()}"><h2 id="s-{name.lower()}">'
            f"{escape(heading)}</h2>{html}</section>"
        )
    parts.append(
        '</article><nav class="back" aria-label="More help"><a href="/articles">'
        "← All help articles</a></nav>"
    )
    return HTMLResponse(
        _page(
            title,
            _description(links.clean(sections.get("Symptoms", ""))),
            str(request.url),
            "".join(parts),
        ),
        headers=PAGE_HEADERS,
    )


@router.get("/articles", tags=["customers"], response_class=HTMLResponse)
async def articles(request: Request, copilot: CopilotDep, settings: SettingsDep) -> Any:
    """Every customer article, by product area: where an article page's "back" link goes."""
    areas: dict[str, list[str]] = {}
    for entry in copilot.catalog:
        if entry.audience == "customer":
            url = escape(settings.article_url.format(article_id=entry.id))
            item = f'<li><a href="{url}">{escape(entry.title)}</a></li>'
            areas.setdefault(entry.product_area or "general", []).append(item)
    body = "<h1>Help articles</h1>" + "".join(
        f"<h2>{escape(area.replace('_', ' ').capitalize())}</h2><ul>{''.join(items)}</ul>"
        for area, items in sorted(areas.items())
    )
    return HTMLResponse(
        _page("Help articles", "Every help article, by topic.", str(request.url), body),
        headers=PAGE_HEADERS,
    )


def _static(name: str, media: str) -> Callable[[], Response]:
    # /widget.js is the widget followed by the add-ons built on its `_hooks` (proactive.js),
    # each when present: still one script tag for the customer's site.
    parts = WIDGET_BUNDLE if name == "widget.js" else [name]
    content = b"\n".join((WIDGET / p).read_bytes() for p in parts if (WIDGET / p).is_file())
    headers = dict(PAGE_HEADERS) if media == "text/html" else {"X-Content-Type-Options": "nosniff"}
    if name == "widget.js":
        # Embedded on customers' sites: any origin may load the script itself.
        headers["Access-Control-Allow-Origin"] = "*"
        headers["Cache-Control"] = "public, max-age=300"

    def serve() -> Response:
        return Response(content, media_type=media, headers=headers)

    return serve


for _name, _media in WIDGET_FILES.items():
    router.add_api_route(
        f"/{_name.removesuffix('.html')}" if _name.endswith(".html") else f"/{_name}",
        _static(_name, _media),
        methods=["GET"],
        include_in_schema=False,
    )
