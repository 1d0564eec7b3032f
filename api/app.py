"""The HTTP API (`copilot serve`). Thin on purpose: the library does the work; this module maps
HTTP to it, and owns what only HTTP has: keys, limits, CORS, streaming and Prometheus metrics.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from html import escape
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from pydantic import BaseModel, BeforeValidator, Field
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.limits import BodyLimit, RateLimiter, RedisRateLimiter
from api.prometheus import Metrics
from copilot.record import db, handoffs
from copilot.answer.agent import Agent, reply_json
from copilot.answer.compose import extractive_answer
from copilot.record.conversations import ChatResult, Conversations
from copilot.errors import ConfigError, CopilotError, NotFound, Unavailable
from copilot.errors import Conflict
from copilot.settings import Settings, load_settings
from copilot.index.store import OpenIndex
from copilot.types import Confidence, CustomerContext, Hit, ReplyType, Turn

log = logging.getLogger("copilot.api")
REOPEN_SECONDS = 10  # how often a service without an index tries to open it again
DATABASE_DOWN = "the conversation store is unavailable or busy; nothing was saved, try again"


def _iso_day(value: object) -> object:
    # Pydantic would also take "0" (a Unix time): a day is asked for, so only a day is taken.
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date like 2026-11-24")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_day)]
SSE_EVENT = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["decision", "delta", "final", "error"]},
        "data": {"type": "string", "description": "JSON"},
    },
}


class Context(BaseModel):
    page: str = Field(default="", max_length=2000)
    workspace: str = Field(default="", max_length=200)
    plan: str = Field(default="", max_length=100)
    role: str = Field(default="", max_length=100)
    locale: str = Field(default="", max_length=35)

    def customer(self) -> CustomerContext:
        return CustomerContext(self.page, self.workspace, self.plan, self.role)


class ChatRequest(BaseModel):
    message: str = Field(min_length=1)
    conversation_id: str | None = Field(default=None, max_length=36)
    conversation_token: str | None = Field(default=None, max_length=100)
    context: Context = Context()
    stream: bool = False


class VerdictFeedback(BaseModel):
    kind: Literal["helpful", "unhelpful", "wrong_answer"]
    comment: str = Field(default="", max_length=2000)
    turn_id: int | None = None


class RatingFeedback(BaseModel):
    kind: Literal["rating"]
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)
    turn_id: int | None = None


FeedbackRequest = Annotated[VerdictFeedback | RatingFeedback, Field(discriminator="kind")]


class Message(BaseModel):
    role: Literal["user", "assistant", "agent"] = "user"
    content: str = Field(max_length=20_000)


class DraftRequest(BaseModel):
    subject: str = Field(default="", max_length=500)
    body: str = Field(min_length=1, max_length=20_000)
    messages: list[Message] = Field(default_factory=list, max_length=50)
    context: Context = Context()


class ClaimRequest(BaseModel):
    agent: str = Field(min_length=1, max_length=128)


class AgentMessage(BaseModel):
    agent: str = Field(min_length=1, max_length=128)
    text: str = Field(min_length=1, max_length=20_000)


@dataclass
class Service:
    """Everything a request needs, built once at start-up."""

    settings: Settings
    engine: Engine
    conversations: Conversations
    index: OpenIndex | None = None  # closed at shutdown when we opened it
    ready: bool = False
    reindexing: threading.Lock = field(default_factory=threading.Lock)

    @property
    def agent(self) -> Agent | None:
        """None while the index cannot be opened (`conversations.problem` says why)."""
        return self.conversations.agent

    def need_agent(self) -> Agent:
        if self.agent is None:
            raise Unavailable(f"the assistant is not ready: {self.conversations.problem}")
        return self.agent

    def use(self, agent: Agent, index: OpenIndex | None) -> None:
        old, self.index = self.index, index
        self.conversations.agent, self.conversations.problem = agent, ""
        if old is not None:
            old.close()


def _service(request: Request) -> Service:
    svc: Service = request.app.state.service
    return svc


def _key_scope(settings: Settings, authorization: str | None) -> tuple[str, str]:
    """(key name, scope) for a bearer key; 401 when missing or unknown."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise HTTPException(401, "an API key is required", {"WWW-Authenticate": "Bearer"})
    digest = hashlib.sha256(authorization[7:].strip().encode()).hexdigest()
    found = None
    for key in settings.api_keys:  # constant time per key, and every key is compared
        if hmac.compare_digest(digest, key.sha256):
            found = key
    if found is None:
        raise HTTPException(401, "unknown API key", {"WWW-Authenticate": "Bearer"})
    return found.name, found.scope


def require(scope: Literal["agent", "admin"]) -> Callable[..., str]:
    def check(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
        name, has = _key_scope(request.app.state.service.settings, authorization)
        if scope == "admin" and has != "admin":
            raise HTTPException(403, "this endpoint needs an admin key")
        return name

    return check


Svc = Annotated[Service, Depends(_service)]
AgentKey = Annotated[str, Depends(require("agent"))]
AdminKey = Annotated[str, Depends(require("admin"))]
TokenHeader = Annotated[str | None, Header(alias="X-Conversation-Token")]
AuthHeader = Annotated[str | None, Header()]


def _optional_agent(request: Request, authorization: str | None) -> bool:
    if not authorization:
        return False
    _key_scope(request.app.state.service.settings, authorization)
    return True


def _reply_body(result: ChatResult, article_url: str = "/articles/{article_id}") -> dict[str, Any]:
    body = reply_json(result.reply, result.conversation_id)
    for citation in body["citations"]:  # type: ignore[attr-defined]
        citation["url"] = citation["url"] or article_url.format(article_id=citation["article_id"])
    if isinstance(body["handoff"], dict):
        body["handoff"]["id"] = result.handoff_id
    if result.reply.type == "handoff" and body["handoff"] is None and result.handoff_id:
        body["handoff"] = {"id": result.handoff_id, "with_human": True}
    if result.token:
        body["conversation_token"] = result.token
    body["turn_id"] = result.turn_id
    return body


def _sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def create_app(
    settings: Settings | None = None, *, agent: Agent | None = None, engine: Engine | None = None
) -> FastAPI:
    """The app. Tests pass an opened agent (and engine) to skip loading the model again."""
    settings = settings or load_settings()
    metrics = Metrics()

    async def open_service(service: Service) -> bool:
        from copilot.answer.agent import open_agent

        try:
            the_agent, index = await run_in_threadpool(open_agent, settings)
            await run_in_threadpool(the_agent.retriever.embedder.embed, ["warm up"])
        except Exception as exc:  # the service runs degraded; /readyz says why
            service.conversations.problem = f"{type(exc).__name__}: {exc}"
            log.error("cannot open the index (retrying every %s s): %s", REOPEN_SECONDS, exc)
            return False
        service.use(the_agent, index)
        return True

    async def keep_reopening(service: Service) -> None:
        await asyncio.sleep(REOPEN_SECONDS)
        while not await open_service(service):
            await asyncio.sleep(REOPEN_SECONDS)
        log.info("the index is open: the assistant is back")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        the_engine = engine or db.connect(settings.database_url, settings.data_dir)
        store = Conversations(the_engine, None, settings.webhook_url)
        service = Service(settings, the_engine, store)
        app.state.service = service
        reopening = None
        if agent is not None:
            service.use(agent, None)
            await run_in_threadpool(agent.retriever.embedder.embed, ["warm up"])
        elif not await open_service(service):
            reopening = asyncio.create_task(keep_reopening(service))
        worker = None
        if settings.webhook_url:
            if not settings.webhook_secret:
                raise ConfigError("COPILOT_WEBHOOK_URL needs COPILOT_WEBHOOK_SECRET to sign with")
            from copilot.record.outbox import OutboxWorker

            worker = OutboxWorker(the_engine, settings.webhook_secret)
            worker.start()
        service.ready = True
        try:
            yield
        finally:
            service.ready = False
            if reopening is not None:
                reopening.cancel()
            if worker is not None:
                worker.stop()
            if service.index is not None:
                service.index.close()
            if engine is None:
                the_engine.dispose()

    app = FastAPI(
        title="Support Copilot API",
        version="1",
        lifespan=lifespan,
        description="Grounded answers from your knowledge base, and clean handoffs to humans.",
    )
    app.state.metrics = metrics
    limiter: RateLimiter | RedisRateLimiter = (
        RedisRateLimiter(settings.redis_url) if settings.redis_url else RateLimiter()
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(  # outside the body limit: a 413 still carries the CORS headers
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["Content-Type", "Authorization", "X-Conversation-Token"],
    )

    app.add_middleware(metrics.middleware)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # Without the input: it may be a megabyte, or hold what JSON cannot encode back.
        errors = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in exc.errors()]
        return JSONResponse({"detail": errors}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 404)

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 409)

    @app.exception_handler(Unavailable)
    async def unavailable(_: Request, exc: Unavailable) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 503, {"Retry-After": "5"})

    @app.exception_handler(DBAPIError)
    async def database_down(_: Request, exc: DBAPIError) -> JSONResponse:
        log.error("database error: %s", exc.orig)
        return JSONResponse({"error": DATABASE_DOWN}, 503, {"Retry-After": "5"})

    @app.exception_handler(CopilotError)
    async def copilot_error(_: Request, exc: CopilotError) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, 400)

    @app.exception_handler(Exception)
    async def internal(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "internal error"}, 500)  # never a stack trace

    def limit(key: str, per_minute: int) -> None:
        wait = limiter.hit(key, per_minute)
        if wait:
            raise HTTPException(429, "too many requests", {"Retry-After": str(wait)})

    @app.post(
        "/v1/chat",
        tags=["customers"],
        summary="A customer's message; the reply",
        responses={200: {"content": {"text/event-stream": {"schema": SSE_EVENT}}}},
    )
    async def chat(
        body: ChatRequest,
        request: Request,
        svc: Svc,
        x_conversation_token: TokenHeader = None,
        accept: AuthHeader = None,
    ) -> Any:
        limit(
            f"client:{request.client.host if request.client else '?'}",
            settings.rate_limit_per_minute,
        )
        if body.conversation_id:
            limit(f"conversation:{body.conversation_id}", settings.conversation_rate_per_minute)
        if len(body.message) > settings.max_message_chars:
            raise HTTPException(413, f"message longer than {settings.max_message_chars} characters")
        token = body.conversation_token or x_conversation_token
        context = body.context.customer() if body.context != Context() else None
        if not (body.stream or (accept and "text/event-stream" in accept)):
            result = await run_in_threadpool(
                svc.conversations.chat, body.message, body.conversation_id, token, context
            )
            metrics.reply(result.reply)
            return _reply_body(result, settings.article_url)
        return StreamingResponse(
            _stream(svc, body.message, body.conversation_id, token, context, metrics),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.get("/v1/conversations/{conversation_id}", tags=["customers"])
    async def conversation(
        conversation_id: str,
        request: Request,
        svc: Svc,
        x_conversation_token: TokenHeader = None,
        authorization: AuthHeader = None,
    ) -> Any:
        trusted = _optional_agent(request, authorization)
        return await run_in_threadpool(
            svc.conversations.transcript, conversation_id, x_conversation_token, trusted
        )

    @app.post("/v1/conversations/{conversation_id}/feedback", tags=["customers"])
    async def feedback(
        conversation_id: str,
        body: FeedbackRequest,
        request: Request,
        svc: Svc,
        x_conversation_token: TokenHeader = None,
    ) -> Any:
        limit(f"conversation:{conversation_id}", settings.conversation_rate_per_minute)
        await run_in_threadpool(
            lambda: svc.conversations.feedback(
                conversation_id,
                body.kind,
                token=x_conversation_token,
                turn_id=body.turn_id,
                rating=body.rating if isinstance(body, RatingFeedback) else None,
                comment=body.comment,
            )
        )
        return {"ok": True}

    @app.post("/v1/conversations/{conversation_id}/handoff", tags=["customers"])
    async def ask_for_human(
        conversation_id: str,
        svc: Svc,
        x_conversation_token: TokenHeader = None,
    ) -> Any:
        limit(f"conversation:{conversation_id}", settings.conversation_rate_per_minute)
        result = await run_in_threadpool(
            svc.conversations.request_handoff, conversation_id, x_conversation_token
        )
        metrics.reply(result.reply)
        return _reply_body(result, settings.article_url)

    @app.post("/v1/drafts", tags=["agents"], summary="A draft reply to a ticket")
    async def draft(body: DraftRequest, svc: Svc, _: AgentKey) -> Any:
        return await run_in_threadpool(_draft, svc, body)

    @app.get("/v1/handoffs", tags=["agents"])
    async def handoff_queue(
        svc: Svc,
        _: AgentKey,
        status: str | None = None,
    ) -> Any:
        return await run_in_threadpool(handoffs.queue, svc.engine, status)

    @app.get("/v1/handoffs/{handoff_id}", tags=["agents"])
    async def handoff(handoff_id: str, svc: Svc, _: AgentKey) -> Any:
        return await run_in_threadpool(handoffs.get, svc.engine, handoff_id)

    @app.post("/v1/handoffs/{handoff_id}/claim", tags=["agents"])
    async def claim(
        handoff_id: str,
        body: ClaimRequest,
        svc: Svc,
        _: AgentKey,
    ) -> Any:
        return await run_in_threadpool(
            handoffs.transition, svc.engine, handoff_id, "claim", body.agent
        )

    @app.post("/v1/handoffs/{handoff_id}/release", tags=["agents"])
    async def release(handoff_id: str, svc: Svc, _: AgentKey) -> Any:
        return await run_in_threadpool(handoffs.transition, svc.engine, handoff_id, "release")

    @app.post("/v1/handoffs/{handoff_id}/resolve", tags=["agents"])
    async def resolve(
        handoff_id: str,
        body: ClaimRequest,
        svc: Svc,
        _: AgentKey,
    ) -> Any:
        return await run_in_threadpool(
            handoffs.transition, svc.engine, handoff_id, "resolve", body.agent
        )

    @app.post("/v1/handoffs/{handoff_id}/messages", tags=["agents"])
    async def agent_message(
        handoff_id: str,
        body: AgentMessage,
        svc: Svc,
        _: AgentKey,
    ) -> Any:
        return await run_in_threadpool(
            handoffs.agent_message, svc.engine, handoff_id, body.agent, body.text
        )

    @app.get("/v1/metrics", tags=["agents"], summary="`copilot report` as JSON")
    async def report_json(
        svc: Svc,
        _: AgentKey,
        since: IsoDate | None = None,
    ) -> Any:
        from copilot.record.report import report

        return await run_in_threadpool(report, svc.engine, since)

    @app.post("/v1/admin/reindex", tags=["admin"])
    async def reindex(svc: Svc, _: AdminKey) -> Any:
        return await run_in_threadpool(_reindex, svc)

    @app.get("/v1/admin/lint", tags=["admin"])
    async def lint(svc: Svc, _: AdminKey) -> Any:
        from copilot.kb.lint import LintOptions, lint_paths

        options = LintOptions(date.today(), settings.review_every_days)
        result = await run_in_threadpool(lint_paths, [settings.kb_dir], options)
        return {
            "errors": result.errors,
            "warnings": result.warnings,
            "findings": [asdict(f) for f in result.findings],
        }

    @app.get("/v1/gaps", tags=["agents"], summary="Unanswered questions, clustered")
    async def gaps(svc: Svc, _: AgentKey, top: int = 10) -> Any:
        from copilot.record.gaps import cluster, gap_questions

        def run() -> list[dict[str, Any]]:
            found = cluster(gap_questions(svc.engine), svc.need_agent().retriever.embedder)
            return [
                {"size": g.size, "product_area": g.product_area, "examples": g.questions[:3]}
                for g in found[: max(1, min(top, 50))]
            ]

        return await run_in_threadpool(run)

    @app.get("/articles/{article_id}", tags=["customers"], response_class=HTMLResponse)
    async def article(article_id: str, svc: Svc) -> Any:
        """A customer article as a plain page: where the widget's source links go."""
        retriever = svc.need_agent().retriever
        art = retriever.articles.get(article_id)
        if art is None or art.audience != "customer":
            raise NotFound(f"article {article_id} not found")
        sections = retriever.sections[article_id]
        body = "".join(
            f"<h2>{escape(name)}</h2><p>{escape(sections[name])}</p>"
            for name in ("Symptoms", "Cause", "Fix", "Verify")
            if sections.get(name)
        )
        return HTMLResponse(
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>'
            f"{escape(art.title)}</title></head><body><h1>{escape(art.title)}</h1>{body}"
            "</body></html>",
            headers=PAGE_HEADERS,
        )

    for name, media in WIDGET_FILES.items():
        app.add_api_route(
            f"/{name.removesuffix('.html')}" if name.endswith(".html") else f"/{name}",
            _static(name, media),
            methods=["GET"],
            include_in_schema=False,
        )

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> Any:
        return {"status": "alive"}

    @app.get("/readyz", tags=["operations"])
    async def readyz(request: Request) -> Any:
        svc: Service | None = getattr(request.app.state, "service", None)
        checks: dict[str, Any] = {"index": False, "embedder": False, "database": False}
        problems = []
        if svc is not None and svc.ready:
            checks["index"] = checks["embedder"] = svc.agent is not None
            if svc.agent is None:
                problems.append(svc.conversations.problem)
            try:
                await run_in_threadpool(_ping, svc.engine)
                checks["database"] = True
            except Exception as exc:  # any failure means not ready; the body says which part
                problems.append(f"database: {type(exc).__name__}")
        ok = all(checks.values())
        body = {"status": "ready" if ok else "not ready", **checks}
        if problems:
            body["problems"] = problems
        return JSONResponse(body, 200 if ok else 503)

    spec = app.openapi

    def openapi() -> dict[str, Any]:
        """The spec FastAPI derives, plus the errors every operation can answer with."""
        schema = spec()
        for operations in schema["paths"].values():
            for operation in operations.values():
                for code, why in ERRORS.items():
                    operation["responses"].setdefault(
                        code, {"description": why, "content": {"application/json": ERROR_BODY}}
                    )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    async def prometheus() -> Any:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    return app


ERRORS = {
    "400": "The body is not valid JSON.",
    "401": "An API key is required, or the one given is unknown.",
    "403": "The API key's scope does not allow this.",
    "404": "Not found (for a conversation: or the token does not match).",
    "409": "The handoff is not in a state that allows this.",
    "413": "The body or the message is too large.",
    "429": "Too many requests: wait the Retry-After seconds.",
    "503": "A part the service needs is down or busy: retry after Retry-After seconds.",
}
ERROR_BODY = {"schema": {"type": "object", "properties": {"error": {"type": "string"}}}}
WIDGET = Path(__file__).parent / "widget"
WIDGET_FILES = {
    "widget.js": "text/javascript",
    "demo.html": "text/html",
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


def _static(name: str, media: str) -> Callable[[], Response]:
    content = (WIDGET / name).read_bytes()
    headers = dict(PAGE_HEADERS) if media == "text/html" else {"X-Content-Type-Options": "nosniff"}
    if name == "widget.js":
        # Embedded on customers' sites: any origin may load the script itself.
        headers["Access-Control-Allow-Origin"] = "*"
        headers["Cache-Control"] = "public, max-age=300"

    def serve() -> Response:
        return Response(content, media_type=media, headers=headers)

    return serve


def _ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


async def _stream(
    svc: Service,
    message: str,
    conversation_id: str | None,
    token: str | None,
    context: CustomerContext | None,
    metrics: Metrics,
) -> AsyncIterator[bytes]:
    """Server-sent events: `decision` (type, confidence, candidate articles) as soon as it is
    made, `delta` for each checked sentence of an LLM answer, then `final` (the reply JSON, the
    text to keep) or `error`."""
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
        lambda: svc.conversations.chat(
            message, conversation_id, token, context, on_delta=on_delta, on_decision=on_decision
        ),
    )
    while True:
        getter: asyncio.Future[tuple[str, Any]] = asyncio.ensure_future(queue.get())
        waiting: set[asyncio.Future[Any]] = {getter, work}
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            yield _sse(*getter.result())
            continue
        getter.cancel()
        break
    while not queue.empty():
        yield _sse(*queue.get_nowait())
    try:
        result = work.result()
    except NotFound as exc:
        yield _sse("error", {"status": 404, "error": str(exc)})
        return
    except DBAPIError:
        yield _sse("error", {"status": 503, "error": DATABASE_DOWN})
        return
    except Exception:
        yield _sse("error", {"status": 500, "error": "internal error"})
        return
    metrics.reply(result.reply)
    yield _sse("final", _reply_body(result, svc.settings.article_url))


def _draft(svc: Service, body: DraftRequest) -> dict[str, Any]:
    """An agent's draft: internal articles allowed, always a text to start from, and what to
    check before sending."""
    question = f"{body.subject}\n{body.body}".strip()
    history = [Turn(m.role, m.content) for m in body.messages]
    agent = svc.need_agent()
    try:
        reply = agent.reply(question, history, "internal", body.context.customer())
    except Exception as exc:  # e.g. the vector store went away: the agent can retry, say so
        log.exception("drafting failed")
        raise Unavailable(f"the assistant could not draft: {type(exc).__name__}") from exc
    checks = []
    text, citations = reply.text, reply.citations
    if reply.type != "answer" and reply.hits:
        top = reply.hits[0]
        text, citations = extractive_answer(top, agent.retriever.sections[top.article_id])
        checks.append(
            f"Low confidence ({reply.confidence.value:.2f}): make sure “{top.title}” is what the "
            "customer is asking about."
        )
    elif not reply.hits:
        text, citations = "", ()
        checks.append(
            "Nothing in the knowledge base matches this ticket: write the reply yourself."
        )
    articles = agent.retriever.articles
    for c in citations:
        art = articles.get(c.article_id)
        if art is not None and art.audience == "internal":
            checks.append(f"“{c.title}” is internal: do not paste its text to the customer.")
        if art is not None and art.stale:
            checks.append(f"“{c.title}” is due for review: check the steps still hold.")
        verify = agent.retriever.sections.get(c.article_id, {}).get("Verify", "")
        if verify and verify != "Not stated in the source.":
            checks.append(f"Ask the customer to confirm: {verify}")
    draft = {
        "id": str(uuid.uuid4()),
        "text": text,
        "citations": [asdict(c) for c in citations],
        "confidence": reply.confidence.value,
        "decision": reply.type,
        "checks": checks,
    }
    with svc.engine.begin() as conn:
        conn.execute(
            db.drafts.insert().values(id=draft["id"], ticket=body.model_dump(), reply=draft)
        )
    return draft


def _reindex(svc: Service) -> dict[str, Any]:
    """Index the KB again and swap the agent over; requests keep the old one until then."""
    from copilot.answer.agent import open_agent
    from copilot.index.build import build_index

    if not svc.reindexing.acquire(blocking=False):
        raise Conflict("a reindex is already running")
    try:
        embedder = svc.agent.retriever.embedder if svc.agent else None
        if embedder is None:
            from copilot.index.embed import load_embedder

            embedder = load_embedder(svc.settings)
        report = build_index(svc.settings, embedder)
        svc.use(*open_agent(svc.settings, embedder=embedder))
        return asdict(report)
    finally:
        svc.reindexing.release()
