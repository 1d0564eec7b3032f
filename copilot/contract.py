"""The reply as scripts and the widget read it (CONTRACT.md): one function for the CLI's
`--json` and the HTTP API, so the two cannot drift apart."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from copilot.types import Reply


def reply_json(
    reply: Reply,
    conversation_id: str | None = None,
    *,
    handoff_id: str | None = None,
    article_url: str | None = None,
) -> dict[str, Any]:
    """The reply as CONTRACT.md specifies it. Citations without a URL link to `article_url`
    when one is given (the API's article pages)."""
    handoff: dict[str, Any] | None = None
    if reply.handoff is not None:
        handoff = {**asdict(reply.handoff), "id": handoff_id}
    elif reply.type == "handoff" and handoff_id:
        handoff = {"id": handoff_id, "with_human": True}
    citations = [asdict(c) for c in reply.citations]
    for citation in citations:
        if article_url and not citation["url"]:
            citation["url"] = article_url.format(article_id=citation["article_id"])
    suggestions = [
        {
            "article_id": s.article_id,
            "title": s.title,
            "url": s.url or (article_url.format(article_id=s.article_id) if article_url else ""),
        }
        for s in reply.suggestions
    ]
    return {
        "type": reply.type,
        "text": reply.text,
        "confidence": reply.confidence.value,
        "signals": reply.confidence.signals,
        "citations": citations,
        "suggestions": suggestions,  # "suggest": the articles to pick from; [] otherwise
        "handoff": handoff,
        "conversation_id": conversation_id,
        "composed_by": reply.composed_by,
    }
