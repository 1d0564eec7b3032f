"""The core objects, small and frozen: what the pipeline passes from stage to stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

Severity = Literal["error", "warning"]
Audience = Literal["customer", "internal"]

REQUIRED_SECTIONS = ("Symptoms", "Cause", "Fix", "Verify", "Escalate")


@dataclass(frozen=True)
class Section:
    """One `## Heading` of an article and the text under it."""

    name: str
    text: str
    line: int  # 1-based line of the heading in the file


@dataclass(frozen=True)
class Article:
    """One KB article as parsed. Fields the file lacks are empty; the linter reports them."""

    path: Path
    id: str
    title: str
    owner: str
    last_reviewed: date | None
    review_every_days: int | None
    product_area: str
    tags: tuple[str, ...]
    audience: str
    h1: str
    sections: tuple[Section, ...]
    body: str  # markdown after the front matter
    body_line: int  # 1-based file line where `body` starts
    meta: dict[str, object] = field(compare=False, repr=False)
    field_lines: dict[str, int] = field(compare=False, repr=False)
    h1_line: int = 0

    def section(self, name: str) -> Section | None:
        for s in self.sections:
            if s.name.lower() == name.lower():
                return s
        return None

    def line_of(self, field_name: str) -> int:
        """Line of a front-matter field, or of the front matter's opening when absent."""
        return self.field_lines.get(field_name, 1)


@dataclass(frozen=True)
class Release:
    """A product release from `releases.yaml`: the areas whose UI it changed."""

    version: str
    date: date
    areas: tuple[str, ...]


@dataclass(frozen=True)
class Finding:
    """One lint finding, located in a file."""

    path: str
    line: int
    column: int
    code: str
    severity: Severity
    message: str
    article_id: str | None = None


@dataclass(frozen=True)
class Chunk:
    """A piece of an article sized for the embedder, with the metadata retrieval filters on."""

    id: str
    article_id: str
    section: str
    text: str
    title: str
    audience: str
    product_area: str
    owner: str
    last_reviewed: str
    stale: bool
    content_hash: str  # of the whole article: chunks are replaced article by article


@dataclass(frozen=True)
class Hit:
    """One retrieved article: its fused score and the evidence behind it."""

    article_id: str
    title: str
    score: float  # fused, comparable only within one query
    dense: float  # cosine of the best chunk
    keyword: float  # BM25 of the article
    section: str  # section of the best chunk
    text: str  # the best chunk
    audience: str
    product_area: str
    stale: bool


# "clarify" (before 0.9: two close articles in bold) became "suggest": up to 3 articles to pick.
ReplyType = Literal["answer", "suggest", "handoff"]
HandoffReason = Literal[
    "low_confidence",
    "no_results",
    "customer_asked",
    "llm_failure",
    "repeated_unhelpful",
    "unavailable",  # the index, vector store or embedder could not be used
]


@dataclass(frozen=True)
class Citation:
    article_id: str
    title: str
    section: str
    url: str = ""


@dataclass(frozen=True)
class Confidence:
    """A probability that the answer is right, and the signals it was computed from."""

    value: float
    signals: dict[str, float] = field(compare=False)


@dataclass(frozen=True)
class CustomerContext:
    page: str = ""
    workspace: str = ""
    plan: str = ""
    role: str = ""
    # Values the host page sends for the SLA rules (docs/console.md): health_score, renewal_date…
    attributes: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Contact:
    """How to reach the customer, given on purpose (the widget's form, or `identify()` on the
    host page): kept as contact fields, shown to agents only, never chat text."""

    email: str = ""
    name: str = ""
    user_id: str = ""

    def __bool__(self) -> bool:
        return bool(self.email or self.name or self.user_id)


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant", "agent"]
    content: str
    feedback: Literal["helpful", "unhelpful"] | None = None  # the customer's verdict on a reply
    article: str = ""  # an answer: the article it came from (the article in play after it)


@dataclass(frozen=True)
class Handoff:
    """Everything the human needs: why, how sure the bot was, the conversation, what was tried."""

    reason: HandoffReason
    confidence: float
    transcript: tuple[Turn, ...]
    context: CustomerContext
    articles_tried: tuple[tuple[str, float], ...]  # (article id, confidence-scale score)
    suggested_next_step: str  # the best article's Escalate section
    product_area: str = ""


@dataclass(frozen=True)
class Reply:
    type: ReplyType
    text: str
    confidence: Confidence
    citations: tuple[Citation, ...] = ()
    handoff: Handoff | None = None
    hits: tuple[Hit, ...] = ()
    # "extractive", "llm", or "extractive_fallback" when the LLM failed or was not supported
    composed_by: str = "extractive"
    fault: str = ""  # what failed on the way (LLM, vector store), kept with the stored turn
    # "suggest": the articles offered to pick from (customer articles only; url filled at the edge)
    suggestions: tuple[Citation, ...] = ()


@dataclass(frozen=True)
class Question:
    """One eval dataset question (KB_FORMAT.md): what was asked and which articles answer it."""

    id: str
    question: str
    answerable: bool
    expected: tuple[str, ...]
    reference_answer: str | None = None
    history: tuple[tuple[str, str], ...] = ()
    source: str = ""
    line: int = 0
    conversation: str = ""  # optional `conversation_id`: turns of one conversation share it


LabelVerdict = Literal["answers", "not_in_kb", "not_this"]


@dataclass(frozen=True)
class Label:
    """A person's verdict on a question: these articles answer it ("answers"), the KB does not
    ("not_in_kb"), or this article does not ("not_this": a customer's thumbs-down on an answer).
    Labels certify the answer threshold (copilot/answer/certify.py)."""

    question: str
    verdict: LabelVerdict
    articles: tuple[str, ...] = ()
    history: tuple[tuple[str, str], ...] = ()
    source: str = ""  # docs_owner, agent or customer
    author: str = ""  # the file, the agent's key name, or the conversation

    @classmethod
    def from_question(cls, q: Question, source: str = "docs_owner", author: str = "") -> Label:
        verdict: LabelVerdict = "answers" if q.answerable else "not_in_kb"
        return cls(q.question, verdict, q.expected, q.history, source, author)
