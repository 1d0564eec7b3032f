"""Errors to HTTP, in one place: the tree of copilot/errors.py by type (the caller's fault 4xx, a
part that is down 503 with Retry-After, anything else a 500 logged with a request id), validation
and HTTP errors, and the error responses every operation documents in the OpenAPI spec."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from copilot.errors import (
    Conflict,
    CopilotError,
    Expired,
    InvalidInput,
    NotFound,
    Unavailable,
    UserError,
)

log = logging.getLogger("copilot.api")
RETRY_AFTER = "5"  # seconds, for a part that is down or busy
STATUS: tuple[tuple[type[CopilotError], int], ...] = (  # most specific first
    (NotFound, 404),
    (Conflict, 409),
    (Expired, 401),
    (InvalidInput, 422),
    (UserError, 400),
    (Unavailable, 503),
)
ERRORS = {
    "400": "The body is not valid JSON.",
    "401": "An API key is required, or the one given is unknown; for a conversation: its token "
    "expired (start a new conversation).",
    "403": "The API key's scope does not allow this.",
    "404": "Not found (for a conversation: or the token does not match).",
    "409": "The handoff is not in a state that allows this.",
    "413": "The body or the message is too large.",
    "429": "Too many requests: wait the Retry-After seconds.",
    "503": "A part the service needs is down or busy: retry after Retry-After seconds.",
}
ERROR_BODY = {"schema": {"type": "object", "properties": {"error": {"type": "string"}}}}


def status_for(exc: BaseException) -> int:
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 500)


def describe(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """(status, body) for an error. A 500 is a bug: it is logged here with the request id its
    body carries, and the body says nothing more (never a stack trace)."""
    status = status_for(exc)
    if isinstance(exc, Expired):  # the widget starts a new conversation on this code
        return status, {"error": str(exc), "code": "conversation_expired"}
    if status != 500:
        return status, {"error": str(exc)}
    request_id = uuid.uuid4().hex
    log.error("internal error, request %s", request_id, exc_info=exc)
    return 500, {"error": "internal error", "request_id": request_id}


async def _error(_: Request, exc: Exception) -> JSONResponse:
    status, body = describe(exc)
    return JSONResponse(body, status, {"Retry-After": RETRY_AFTER} if status == 503 else None)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # Without the input: it may be a megabyte, or hold what JSON cannot encode back.
    errors = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in exc.errors()]
    return JSONResponse({"detail": errors}, 422)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)


def install(app: FastAPI) -> None:
    """The handlers, and the error responses added to every operation of the spec."""
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(CopilotError, _error)
    app.add_exception_handler(Exception, _error)  # bugs: Starlette answers these last
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
