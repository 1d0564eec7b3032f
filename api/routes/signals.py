"""Help before the ticket (docs/proactive.md): `POST /v1/signals` takes a batch of host-page
signals from the widget and may answer with one nudge; `/v1/nudges/{id}/...` records what the
customer did with it. Public (the widget calls them), so size- and rate-limited; a nudge is only
reachable with the subject it was shown to."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from api.deps import AgentKey, CopilotDep, MetricsDep, SettingsDep, limit
from api.schemas import UUID_PATTERN
from copilot.proactive.nudges import Batch
from copilot.proactive.rules import Signal, SignalName

router = APIRouter(tags=["customers"])
# A user id from the host page or the widget's anonymous id: no spaces, no control characters.
MAX_EVENTS = 20
SUBJECT = Field(min_length=1, max_length=128, pattern=r"^[!-~]+$")


class SignalProps(BaseModel):
    """The few named strings an event may carry; anything else is refused (422)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    title: str = Field(default="", max_length=200, description="page_view: the page's title")
    code: str = Field(default="", max_length=100, description="error_shown: the error code")
    message: str = Field(default="", max_length=500, description="error_shown: the error text")
    flow: str = Field(default="", max_length=100, description="step_*: the setup flow")
    step: str = Field(default="", max_length=100, description="step_*: the step in it")
    feature: str = Field(default="", max_length=100, description="feature_used: the feature")


class SignalEvent(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: SignalName
    page: str = Field(
        default="", max_length=2000, description="the page URL (query and fragment dropped)"
    )
    props: SignalProps = SignalProps()


class SignalBatch(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    subject: str = SUBJECT
    account: str = Field(default="", max_length=200, description="the workspace or account name")
    account_age_days: int | None = Field(default=None, ge=0, le=36_500)
    tips: bool = Field(default=True, description="false: the customer switched tips off")
    # A fixed bound, in the schema: the widget sends at most this many per batch.
    events: list[SignalEvent] = Field(min_length=1, max_length=MAX_EVENTS)


class NudgeOut(BaseModel):
    id: str
    rule: str
    article_id: str
    title: str
    headline: str
    reason: str
    snooze_hours: float


class SignalsReply(BaseModel):
    accepted: int
    nudge: NudgeOut | None = None


class NudgeSubject(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    subject: str = SUBJECT


class NudgeVerdict(NudgeSubject):
    kind: Literal["helpful", "unhelpful"]


class NudgeArticle(BaseModel):
    article_id: str
    title: str
    text: str
    url: str


NudgeId = Annotated[str, Path(pattern=UUID_PATTERN, max_length=36)]


def _limit(request: Request, group: str, per_minute: int) -> None:
    client = request.client.host if request.client else "?"
    limit(request, f"client:{group}:{client}", per_minute)


@router.post("/v1/signals", summary="Host-page signals; maybe a nudge")
async def post_signals(
    body: SignalBatch,
    request: Request,
    copilot: CopilotDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> SignalsReply:
    _limit(request, "signals", settings.signals_rate_per_minute)
    at = datetime.now(UTC)  # the service stamps its own clock on what it stores
    batch = Batch(
        body.subject,
        tuple(
            Signal(e.name, at, e.page, {k: v for k, v in e.props.model_dump().items() if v})
            for e in body.events
        ),
        body.account,
        body.account_age_days,
        body.tips,
    )
    outcome = await run_in_threadpool(copilot.signals, batch)
    metrics.proactive([e.name for e in body.events], outcome.nudge is not None, outcome.flags)
    nudge = outcome.nudge
    return SignalsReply(
        accepted=len(body.events),
        nudge=NudgeOut(**vars(nudge)) if nudge is not None else None,
    )


@router.post("/v1/nudges/{nudge_id}/open", summary="The nudge's article, as an answer")
async def open_nudge(
    nudge_id: NudgeId,
    body: NudgeSubject,
    request: Request,
    copilot: CopilotDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> NudgeArticle:
    _limit(request, "nudges", settings.rate_limit_per_minute)
    found: dict[str, Any] = await run_in_threadpool(copilot.open_nudge, nudge_id, body.subject)
    metrics.proactive([], False, [], "opened")
    url = settings.article_url.format(article_id=found["article_id"])
    return NudgeArticle(article_id=found["article_id"], title=found["title"], text=found["text"],
                        url=url)  # fmt: skip


@router.post("/v1/nudges/{nudge_id}/feedback", summary="Was the nudge's article helpful?")
async def nudge_feedback(
    nudge_id: NudgeId,
    body: NudgeVerdict,
    request: Request,
    copilot: CopilotDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> dict[str, str]:
    _limit(request, "nudges", settings.rate_limit_per_minute)
    await run_in_threadpool(copilot.nudge_feedback, nudge_id, body.subject, body.kind)
    metrics.proactive([], False, [], body.kind)
    return {"status": "recorded"}


@router.post("/v1/nudges/{nudge_id}/dismiss", summary="The customer closed the nudge")
async def dismiss_nudge(
    nudge_id: NudgeId,
    body: NudgeSubject,
    request: Request,
    copilot: CopilotDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> dict[str, str]:
    _limit(request, "nudges", settings.rate_limit_per_minute)
    await run_in_threadpool(copilot.dismiss_nudge, nudge_id, body.subject)
    metrics.proactive([], False, [], "dismissed")
    return {"status": "recorded"}


class Struggle(BaseModel):
    at: str
    rule: str
    action: Literal["nudge", "flag", "held"] = Field(
        description="flag: a quiet flag rule; held: a nudge rule that fired but showed nothing"
    )
    reason: str
    page: str
    product_area: str
    article_id: str | None


class Struggles(BaseModel):
    account: str
    struggling: bool = Field(description="a rule fired for this account in the period")
    recent: list[Struggle]


@router.get("/v1/struggles", tags=["agents"], summary="Is this account struggling? (agents)")
async def get_struggles(
    copilot: CopilotDep,
    _agent: AgentKey,
    account: Annotated[str, Query(min_length=1, max_length=200)],
    days: Annotated[int, Query(ge=1, le=90)] = 7,
) -> Struggles:
    """The quiet flags (and nudges) the rules raised for a customer's account: the "struggling"
    marker an agent checks when that customer's next conversation arrives."""
    found = await run_in_threadpool(copilot.struggles, account, days)
    return Struggles(account=account, struggling=bool(found), recent=[Struggle(**f) for f in found])
