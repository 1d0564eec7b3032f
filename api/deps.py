"""What routes depend on, as `Annotated` aliases: the `Copilot` service, the settings, the metrics,
API keys by scope, the customer's conversation token, a conversation id (a UUID, checked before
any lookup), and the rate limits."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import Depends, Header, HTTPException, Path, Request

from api.limits import RateLimiter, RedisRateLimiter
from api.prometheus import Metrics
from api.schemas import UUID_PATTERN
from copilot.service import Copilot
from copilot.settings import Settings


def _copilot(request: Request) -> Copilot:
    copilot: Copilot = request.app.state.copilot
    return copilot


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def key_scope(settings: Settings, authorization: str | None) -> tuple[str, str]:
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
    """A dependency that admits keys of `scope` (an admin key also passes as an agent key)."""

    def check(request: Request, authorization: Annotated[str | None, Header()] = None) -> str:
        name, has = key_scope(_settings(request), authorization)
        if scope == "admin" and has != "admin":
            raise HTTPException(403, "this endpoint needs an admin key")
        return name

    return check


def is_agent(request: Request, authorization: str | None) -> bool:
    """Whether an optional key was given (and it must then be valid): agents read any
    conversation without its token."""
    if not authorization:
        return False
    key_scope(_settings(request), authorization)
    return True


def limit(request: Request, key: str, per_minute: int) -> None:
    """Count one request against `key`; 429 with Retry-After once over `per_minute`."""
    limiter: RateLimiter | RedisRateLimiter = request.app.state.limiter
    wait = limiter.hit(key, per_minute)
    if wait:
        raise HTTPException(429, "too many requests", {"Retry-After": str(wait)})


def client_limit(request: Request, group: str) -> None:
    """The per-client-address limit of an endpoint group. The address is the socket's peer, or,
    only from a proxy listed in `trusted_proxies`, the one it forwarded (`copilot serve`)."""
    client = request.client.host if request.client else "?"
    limit(request, f"client:{group}:{client}", _settings(request).rate_limit_per_minute)


def public_conversation(
    request: Request,
    conversation_id: Annotated[str, Path(pattern=UUID_PATTERN, max_length=36)],
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """The dependency of every `/v1/conversations/{id}` route: the id is a UUID (else 422), and
    without an API key (agents are not limited by address) the client's limit applies. A key that
    is given must be valid (else 401), so a made-up one does not skip the limit."""
    if authorization and is_agent(request, authorization):
        return
    client_limit(request, "conversations")


CopilotDep = Annotated[Copilot, Depends(_copilot)]
SettingsDep = Annotated[Settings, Depends(_settings)]
MetricsDep = Annotated[Metrics, Depends(_metrics)]
AgentKey = Annotated[str, Depends(require("agent"))]
AdminKey = Annotated[str, Depends(require("admin"))]
TokenHeader = Annotated[str | None, Header(alias="X-Conversation-Token")]
AuthHeader = Annotated[str | None, Header()]
