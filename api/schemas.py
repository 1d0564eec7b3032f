"""The HTTP request bodies (pydantic: validation stays at the edge), and the reply body the chat
endpoints send: the reply JSON of copilot/contract.py plus what only HTTP has."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field

from copilot.contract import reply_json
from copilot.record.conversations import ChatResult
from copilot.types import CustomerContext


def _iso_day(value: object) -> object:
    # Pydantic would also take "0" (a Unix time): a day is asked for, so only a day is taken.
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date like 2026-11-24")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_day)]


# Context values for the SLA rules (docs/console.md); other names are dropped rather than refused,
# so a host page sending more than the rules read keeps working.
ATTRIBUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


class Context(BaseModel):
    page: str = Field(default="", max_length=2000)
    workspace: str = Field(default="", max_length=200)
    plan: str = Field(default="", max_length=100)
    role: str = Field(default="", max_length=100)
    locale: str = Field(default="", max_length=35)
    # What the host page knows about the account, read by the SLA rules (docs/console.md).
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        max_length=20,
        description='e.g. {"health_score": 35, "renewal_date": "2026-12-20"}: names of letters, '
        "digits and _ (up to 40), values text, numbers or true/false; others are ignored",
    )

    def customer(self) -> CustomerContext:
        values = {
            k: str(v)[:200]
            for k, v in self.attributes.items()
            if ATTRIBUTE_NAME.fullmatch(k) and isinstance(v, str | int | float | bool)
        }
        return CustomerContext(self.page, self.workspace, self.plan, self.role, values)


# Conversation ids are UUIDs (str(uuid4())): anything else is a 422 before any lookup or limit
# state is touched, and the spec says so.
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class ChatRequest(BaseModel):
    message: str = Field(min_length=1)
    conversation_id: str | None = Field(default=None, max_length=36, pattern=UUID_PATTERN)
    conversation_token: str | None = Field(default=None, max_length=100)
    context: Context = Context()
    stream: bool = False


# A database row id: bounded so an absurd number is a 422, not an overflow in the database.
TurnId = Annotated[int, Field(ge=1, le=2**53)]


class VerdictFeedback(BaseModel):
    kind: Literal["helpful", "unhelpful", "wrong_answer"]
    comment: str = Field(default="", max_length=2000)
    turn_id: TurnId | None = None


class RatingFeedback(BaseModel):
    kind: Literal["rating"]
    rating: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)
    turn_id: TurnId | None = None


FeedbackRequest = Annotated[VerdictFeedback | RatingFeedback, Field(discriminator="kind")]


class LabelRequest(BaseModel):
    """An agent's verdict on the question a reply answered: the article that answers it, or
    null for "not in the KB"."""

    turn_id: TurnId | None = Field(default=None, description="the reply; default: the latest")
    article_id: str | None = Field(min_length=1, max_length=200)


class Message(BaseModel):
    role: Literal["user", "assistant", "agent"] = "user"
    content: str = Field(max_length=20_000)


class DraftRequest(BaseModel):
    subject: str = Field(default="", max_length=500)
    body: str = Field(min_length=1, max_length=20_000)
    messages: list[Message] = Field(default_factory=list, max_length=50)
    context: Context = Context()
    customer_name: str = Field(default="", max_length=100, description="greets the customer")


class AgentMessage(BaseModel):
    """An agent's message to the customer. The agent is the API key's; a link customers may not
    be shown is refused (422, naming the links) until the message is sent with
    `confirm_links: true`."""

    text: str = Field(min_length=1, max_length=20_000)
    confirm_links: bool = False


WAITING = "waiting for a person"
NEXT_STEP = (
    "A person from our support team will reply in this conversation; anything you add here "
    "reaches them too."
)


def customer_handoff(handoff_id: str | None) -> dict[str, Any] | None:
    """What a customer is told about a handoff: its reference and what happens next. Never the
    packet (scores, transcript, reason codes): agents read that from /v1/handoffs."""
    return {"id": handoff_id, "status": WAITING, "next": NEXT_STEP} if handoff_id else None


def reply_body(result: ChatResult, article_url: str) -> dict[str, Any]:
    """The reply as CONTRACT.md specifies it, with the customer's view of a handoff in place of
    the packet, plus the new conversation's token (once) and the turn id that feedback refers to."""
    body = reply_json(
        result.reply,
        result.conversation_id,
        handoff_id=result.handoff_id,
        article_url=article_url,
    )
    if body["handoff"] is not None:
        body["handoff"] = customer_handoff(result.handoff_id)
    if result.token:
        body["conversation_token"] = result.token
    body["turn_id"] = result.turn_id
    return body
