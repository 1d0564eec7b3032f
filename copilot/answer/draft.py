"""An agent's draft reply to a ticket, written like a reply: a greeting (with the customer's name
when known), one sentence on the cause, the numbered steps, how to check it worked, a sign-off.

The customer text comes only from articles customers may read (with an LLM: the same checked,
cited answer the widget gets, sentence by sentence, inside the same frame). Internal procedures
the ticket matches are handed to the agent as `guidance`, never put in the customer text. What the
ticket asks that no source supports is listed in `not_covered` ("reissue three past invoices"):
each request sentence of the ticket is checked for support in the sources, the way answer
sentences are checked against what they cite (copilot/answer/grounding.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from copilot.answer.agent import Agent
from copilot.answer.catalog import Catalog
from copilot.answer.compose import STALE_NOTE, steps
from copilot.answer.grounding import SENTENCE_END
from copilot.answer.retrieve import tokenize
from copilot.errors import InvalidInput
from copilot.types import Citation, CustomerContext, Hit, ReplyType, Turn

GUIDANCE_FROM = 3  # internal articles among this many of the best hits become guidance
MIN_SUPPORT = 0.6  # share of a request's content words found in the sources to count as covered
NOT_STATED = "Not stated in the source."
# A sentence of the ticket that asks for something, or says what is wrong (the customer wants it
# fixed), rather than telling the story.
REQUEST = re.compile(
    r"\?|\b(?:please|pls|can you|could you|would you|i need|we need|i want|we want|i'd like|"
    r"we'd like|help me|how (?:do|can|to)|is it possible|need to|want to|let me know|"
    r"can'?t|cannot|unable to|does\s*n[o']?t|is\s*n[o']?t|won'?t|fails?|broken)\b",
    re.I,
)
EMPHASIS = re.compile(r"\*\*(.+?)\*\*|__(.+?)__|`([^`]+)`")
HOLDING = "I'm looking into this for you and will come back to you shortly."
FILLER = re.compile(
    r"^(?:hi|hello|hey|dear)\b[^,.!?\n]{0,30}[,!.]\s*|^(?:thanks|thank you|cheers|regards)\b.*$",
    re.I,
)


@dataclass(frozen=True)
class Guidance:
    """An internal procedure for the agent: what to do, never to paste to the customer."""

    article_id: str
    title: str
    steps: tuple[str, ...]
    escalate: str = ""


@dataclass(frozen=True)
class Draft:
    text: str
    citations: tuple[Citation, ...]
    confidence: float
    decision: ReplyType
    checks: tuple[str, ...]
    guidance: tuple[Guidance, ...] = ()
    not_covered: tuple[str, ...] = ()


def plain(text: str) -> str:
    """Markdown emphasis out: a reply is pasted into mail and help-desk tools as text."""
    return re.sub(
        r"\*\*(.+?)\*\*|__(.+?)__|`([^`]+)`", lambda m: next(g for g in m.groups() if g), text
    )


def first_sentence(text: str) -> str:
    text = text.strip()
    if not text or text == NOT_STATED:
        return ""
    return SENTENCE_END.split(text, maxsplit=1)[0].strip()


def requests(ticket: str) -> list[str]:
    """The sentences of a ticket that ask for something, greetings and sign-offs left out."""
    out = []
    for sentence in SENTENCE_END.split(ticket):
        sentence = FILLER.sub("", sentence.strip()).strip()
        if len(tokenize(sentence)) >= 2 and REQUEST.search(sentence):
            out.append(sentence)
    return out


LEAD_IN = re.compile(
    r"^(?:(?:and|also|so|but),?\s+)?(?:(?:could|can|would|will)\s+you\s+)?(?:please\s+)?(?:also\s+)?"
    r"(?:(?:i|we)\s+(?:need|want|would like|'d like)\s+(?:you\s+)?(?:to\s+)?)?(?:please\s+)?",
    re.I,
)


def gist(request: str) -> str:
    """ "Also, could you please reissue three past invoices?" -> "reissue three past invoices"."""
    short = LEAD_IN.sub("", request.strip().rstrip("?.! ")).strip()
    return short or request.strip()


def _stems(text: str) -> set[str]:
    return {t[:5] for t in tokenize(text)}  # the 5-letter stems grounding.py checks with


def not_covered(ticket: str, sources: Sequence[str]) -> list[str]:
    """Request sentences too few of whose content words appear in any one source."""
    known = [_stems(s) for s in sources]
    missing = []
    for sentence in requests(ticket):
        words = _stems(sentence)
        best = max((len(words & k) / len(words) for k in known), default=0.0)
        if best < MIN_SUPPORT:
            missing.append(gist(sentence))
    return missing


def _body(hit: Hit, sections: dict[str, str]) -> list[str]:
    lines = []
    if cause := first_sentence(sections.get("Cause", "")):
        lines.append(f"From what you describe, this is the likely cause: {plain(cause)}")
    numbered = steps(sections.get("Fix", ""))
    if numbered:
        lines.append("Here's how to sort it out:")
        lines += [f"{i}. {plain(s)}" for i, s in enumerate(numbered, 1)]
    verify = sections.get("Verify", "").strip()
    if verify and verify != NOT_STATED:
        lines.append(f"To check it worked: {plain(verify)}")
    if hit.stale:
        lines.append(STALE_NOTE)
    return lines


def off_the_point(ticket: str, catalog: Catalog, hit: Hit) -> bool:
    """The best customer article covers none of what the ticket asks (a ticket asking to reissue
    invoices, and the article on downloading them): its steps would answer another question."""
    asked = requests(ticket)
    return bool(asked) and len(not_covered(ticket, [_source(catalog, hit.article_id)])) == len(
        asked
    )


def article_text(catalog: Catalog, article_id: str) -> str:
    """An article as reply text an agent inserts: cause, steps, how to check (plain text).
    Internal articles are refused: their procedures are the agent's, not the customer's."""
    entry = catalog[article_id]
    if entry.audience == "internal":
        raise InvalidInput(f"article {article_id} is internal: follow it, do not send it")
    sections = catalog.sections(article_id)
    return "\n".join(
        _body(Hit(entry.id, entry.title, 0, 0, 0, "", "", "", "", entry.stale), sections)
    )


def _source(catalog: Catalog, article_id: str) -> str:
    return " ".join(catalog.sections(article_id).values())


def draft_reply(
    agent: Agent,
    ticket: str,
    history: Sequence[Turn] = (),
    context: CustomerContext | None = None,
    name: str = "",
    agent_name: str = "",
) -> Draft:
    catalog = agent.retriever.catalog
    reply = agent.reply(ticket, history, "customer", context)
    internal = agent.retriever.rank(ticket, "internal").hits[:GUIDANCE_FROM]
    guidance = tuple(
        Guidance(
            h.article_id,
            h.title,
            tuple(plain(s) for s in steps(catalog.sections(h.article_id).get("Fix", ""))),
            plain(catalog.sections(h.article_id).get("Escalate", "")),
        )
        for h in internal
        if h.audience == "internal"
    )
    checks: list[str] = []
    body: list[str]
    citations: tuple[Citation, ...] = ()
    customer_hits = [h for h in reply.hits if h.audience != "internal"]
    if reply.type == "answer" and reply.composed_by == "llm":
        body, citations = [reply.text], reply.citations
    elif customer_hits and not off_the_point(ticket, catalog, customer_hits[0]):
        top = customer_hits[0]
        body = _body(top, catalog.sections(top.article_id))
        citations = (Citation(top.article_id, top.title, "Fix"),)
        if reply.type != "answer":
            checks.append(
                f"Low confidence ({reply.confidence.value:.2f}): make sure “{top.title}” is what "
                "the customer is asking about."
            )
    else:
        body = [HOLDING]
        checks.append(
            "No customer article answers what this ticket asks: write the steps yourself"
            + (" (see the internal guidance)." if guidance else ".")
        )
    for g in guidance:
        checks.append(f"“{g.title}” is internal: follow it, do not paste its text to the customer.")
    for c in citations:
        art = catalog.get(c.article_id)
        if art is not None and art.stale:
            checks.append(f"“{c.title}” is due for review: check the steps still hold.")
    sources = [_source(catalog, c.article_id) for c in citations]
    sources += [_source(catalog, g.article_id) for g in guidance]
    missing = tuple(not_covered(ticket, sources))
    if missing:
        checks.append("Not covered by the sources: " + "; ".join(missing))
    greeting = f"Hi {name.strip()}," if name.strip() else "Hi there,"
    sign_off = "If anything is still not right, just reply here and we'll take it from there."
    closing = "Best regards," + (f"\n{agent_name}" if agent_name else "")
    text = "\n\n".join(
        [greeting, "Thanks for getting in touch.", "\n".join(body), sign_off, closing]
    )
    citations += tuple(Citation(g.article_id, g.title, "Fix") for g in guidance)
    return Draft(
        text, citations, reply.confidence.value, reply.type, tuple(checks), guidance, missing
    )
