"""A chat turn as server-sent events: `decision` as soon as it is made, `delta` for each checked
sentence of an LLM answer, then `final` (the reply JSON) or `error` (its status, as api/errors.py
maps it)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from api.errors import describe
from api.prometheus import Metrics
from api.schemas import reply_body
from copilot.service import Copilot
from copilot.types import Confidence, Contact, CustomerContext, Hit, ReplyType

SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["decision", "delta", "final", "error"]},
        "data": {"type": "string", "description": "JSON"},
    },
}


def sse(event: str, data: Any) -> bytes:
    """One event; `json.dumps` escapes newlines, so the data is always one line."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


async def chat_events(
    copilot: Copilot,
    message: str,
    conversation_id: str | None,
    token: str | None,
    context: CustomerContext | None,
    metrics: Metrics,
    article_url: str,
    contact: Contact | None = None,
) -> AsyncIterator[bytes]:
    """The turn runs in a worker thread; its callbacks feed a queue that this generator drains."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def on_decision(kind: ReplyType, confidence: Confidence, hits: tuple[Hit, ...]) -> None:
        candidates = [{"article_id": h.article_id, "title": h.title} for h in hits[:3]]
        data = {"type": kind, "confidence": confidence.value, "articles": candidates}
        loop.call_soon_threadsafe(queue.put_nowait, ("decision", data))

    def on_delta(sentence: str) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, ("delta", {"text": sentence}))

    work = loop.run_in_executor(
        None,
        lambda: copilot.conversations.chat(
            message,
            conversation_id,
            token,
            context,
            on_delta=on_delta,
            on_decision=on_decision,
            contact=contact,
        ),
    )
    while True:
        getter: asyncio.Future[tuple[str, Any]] = asyncio.ensure_future(queue.get())
        waiting: set[asyncio.Future[Any]] = {getter, work}
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            yield sse(*getter.result())
            continue
        getter.cancel()
        break
    while not queue.empty():
        yield sse(*queue.get_nowait())
    try:
        result = work.result()
    except Exception as exc:  # the headers are sent: the error travels as an event
        status, body = describe(exc)
        yield sse("error", {"status": status, **body})
        return
    metrics.reply(result.reply)
    yield sse("final", reply_body(result, article_url))
