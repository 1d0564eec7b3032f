"""An agent's draft reply to a ticket: internal articles allowed, always a text to start from,
and what the agent should check before sending."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from copilot.answer.agent import Agent
from copilot.answer.compose import extractive_answer
from copilot.types import Citation, CustomerContext, ReplyType, Turn


@dataclass(frozen=True)
class Draft:
    text: str
    citations: tuple[Citation, ...]
    confidence: float
    decision: ReplyType
    checks: tuple[str, ...]


def draft_reply(
    agent: Agent, ticket: str, history: Sequence[Turn] = (), context: CustomerContext | None = None
) -> Draft:
    reply = agent.reply(ticket, history, "internal", context)
    catalog = agent.retriever.catalog
    checks = []
    text, citations = reply.text, reply.citations
    if reply.type != "answer" and reply.hits:
        top = reply.hits[0]
        text, citations = extractive_answer(top, catalog.sections(top.article_id))
        checks.append(
            f"Low confidence ({reply.confidence.value:.2f}): make sure “{top.title}” is what the "
            "customer is asking about."
        )
    elif not reply.hits:
        text, citations = "", ()
        checks.append(
            "Nothing in the knowledge base matches this ticket: write the reply yourself."
        )
    for c in citations:
        art = catalog.get(c.article_id)
        if art is not None and art.audience == "internal":
            checks.append(f"“{c.title}” is internal: do not paste its text to the customer.")
        if art is not None and art.stale:
            checks.append(f"“{c.title}” is due for review: check the steps still hold.")
        verify = catalog.sections(c.article_id).get("Verify", "")
        if verify and verify != "Not stated in the source.":
            checks.append(f"Ask the customer to confirm: {verify}")
    return Draft(text, citations, reply.confidence.value, reply.type, tuple(checks))
