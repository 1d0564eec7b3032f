"""The HTTP request bodies (pydantic: validation stays at the edge), and the reply body the chat
endpoints send: the reply JSON of copilot/contract.py plus what only HTTP has."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from copilot.contract import reply_json
from copilot.errors import InvalidInput
from copilot.record import customer
from copilot.record.conversations import ChatResult
from copilot.types import Contact, CustomerContext


def _iso_day(value: object) -> object:
    # Pydantic would also take "0" (a Unix time): a day is asked for, so only a day is taken.
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date like 2026-11-24")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_day)]


# Context values for the SLA rules (docs/console.md); other names are dropped rather than refused,
# so a host page sending more than the rules read keeps working.
ATTRIBUTE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")


def _email(value: str) -> str:
    if not value:
        return value
    try:
        return customer.check_email(value, "email")
    except InvalidInput as exc:  # pydantic names the field; the message says what is wrong
        raise ValueError(str(exc).removeprefix("email: ")) from None


# Declared as an email (the spec's `format`), checked by email-validator, returned normalised.
Email = Annotated[
    str, Field(max_length=320, json_schema_extra={"format": "email"}), AfterValidator(_email)
]


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


class ChatContext(Context):
    # From `SupportCopilot.identify()`: stored as the conversation's contact fields (agents
    # only), never with the context nor in chat text.
    user_id: str = Field(default="", max_length=200)
    name: str = Field(default="", max_length=200)
    email: Email = ""

    def contact(self) -> Contact | None:
        return Contact(self.email, self.name, self.user_id) or None


# Conversation ids are UUIDs (str(uuid4())): anything else is a 422 before any lookup or limit
# state is touched, and the spec says so.
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


class ChatRequest(BaseModel):
    message: str = Field(min_length=1)
    conversation_id: str | None = Field(default=None, max_length=36, pattern=UUID_PATTERN)
    conversation_token: str | None = Field(default=None, max_length=100)
    context: ChatContext = ChatContext()
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


class PickRequest(BaseModel):
    """The customer picked one of a suggest reply's articles."""

    article_id: str = Field(min_length=1, max_length=200)
    turn_id: TurnId | None = Field(default=None, description="the suggest reply; default: latest")


class ContactRequest(BaseModel):
    """How to reach the customer (kept as contact fields, shown to agents only)."""

    email: Email = Field(min_length=3)
    name: str = Field(default="", max_length=200)
    consent: Literal[True] = Field(description="the customer agreed to be contacted this way")


class Suggestion(BaseModel):
    article_id: str
    title: str
    url: str


class FeedbackResponse(BaseModel):
    ok: bool = True
    suggestions: list[Suggestion] = Field(
        default_factory=list, description="after a thumbs-down: other articles to try"
    )


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


def suggestion(article_id: str, title: str, article_url: str) -> dict[str, str]:
    return {
        "article_id": article_id,
        "title": title,
        "url": article_url.format(article_id=article_id),
    }


def reply_body(result: ChatResult, article_url: str) -> dict[str, Any]:
    """The reply as CONTRACT.md specifies it, with the customer's view of a handoff (id, status
    "waiting" or "claimed", what happens next) in place of the packet, plus the new
    conversation's token (once) and the turn id that feedback and picks refer to."""
    body = reply_json(
        result.reply,
        result.conversation_id,
        handoff_id=result.handoff_id,
        article_url=article_url,
    )
    body["handoff"] = customer.view(result.handoff_id, result.handoff_status)
    if result.token:
        body["conversation_token"] = result.token
    body["turn_id"] = result.turn_id
    return body


class CustomerHandoff(BaseModel):
    id: str
    status: Literal["waiting", "claimed"] = Field(
        description="waiting: no agent yet, the bot keeps answering; claimed: an agent has it"
    )
    next: str


class CitationBody(BaseModel):
    article_id: str
    title: str
    section: str
    url: str


class ReplyBody(BaseModel):
    """The reply JSON (CONTRACT.md): `type` "suggest" replaced "clarify" (deprecated, never
    sent); `suggestions` holds 1-3 articles to pick for "suggest", [] otherwise."""

    type: Literal["answer", "suggest", "handoff"]
    text: str
    confidence: float
    signals: dict[str, float]
    citations: list[CitationBody]
    suggestions: list[Suggestion]
    handoff: CustomerHandoff | None = Field(
        description="the open handoff as the customer sees it; null when none (or resolved)"
    )
    conversation_id: str | None
    composed_by: str
    turn_id: int
    conversation_token: str | None = Field(
        default=None, description="only in the reply that created the conversation"
    )


class TranscriptTurn(BaseModel):
    id: int
    turn_id: int
    role: Literal["user", "assistant", "agent"]
    text: str
    type: str | None = Field(description="assistant turns: answer, suggest, handoff (clarify)")
    citations: list[dict[str, Any]]
    suggestions: list[dict[str, Any]]
    while_waiting: bool = Field(description="a bot reply sent while a handoff waited")
    created_at: str


class TranscriptBody(BaseModel):
    """A conversation read back (a return visit resumes it)."""

    conversation_id: str
    state: str
    context: dict[str, Any]
    turns: list[TranscriptTurn]
    handoff: CustomerHandoff | None
    contact_known: bool
    contact: dict[str, Any] | None = Field(
        default=None, description="agents only: email, name, user_id, source, consent_at"
    )
    next_after: int | None = None
