"""The pages a browser opens: customer articles (where the widget's source links go), and the
help widget, its demo page and the agent console, served from api/widget/."""

from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from api.deps import CopilotDep
from copilot.errors import NotFound

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
# Our pages run only our own scripts: a payload that slips into text still cannot execute.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' "
    "'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
ARTICLE_SECTIONS = ("Symptoms", "Cause", "Fix", "Verify")  # Escalate is for agents


@router.get("/articles/{article_id}", tags=["customers"], response_class=HTMLResponse)
async def article(article_id: str, copilot: CopilotDep) -> Any:
    """A customer article as a plain page: where the widget's source links go."""
    catalog = copilot.catalog
    entry = catalog.get(article_id)
    if entry is None or entry.audience != "customer":
        raise NotFound(f"article {article_id} not found")
    sections = catalog.sections(article_id)
    body = "".join(
        f"<h2>{escape(name)}</h2><p>{escape(sections[name])}</p>"
        for name in ARTICLE_SECTIONS
        if sections.get(name)
    )
    return HTMLResponse(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>'
        f"{escape(entry.title)}</title></head><body><h1>{escape(entry.title)}</h1>{body}"
        "</body></html>",
        headers=PAGE_HEADERS,
    )


def _static(name: str, media: str) -> Callable[[], Response]:
    content = (WIDGET / name).read_bytes()
    if name == "widget.js":  # proactive help (docs/proactive.md) rides on the widget's hooks
        content += b"\n" + (WIDGET / "proactive.js").read_bytes()
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
