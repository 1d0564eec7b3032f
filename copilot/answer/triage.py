"""Triage before the queue: a message the copilot would hand off, but that no support agent
should get — off-topic for the KB ("weather in Paris", "write me a python script"), abuse with
nothing to help with, or only a prompt-injection attempt — ends with a polite out-of-scope reply
instead of a ticket. It is counted and listed ("not for us" in the console), so nothing is hidden.

Only the first handoff decision of a turn is screened, and never when the customer asked for a
person or said an answer did not help: a person asked for is a person given.

Off-topic is read from retrieval itself: the best chunk's cosine similarity. On the sample KB,
off-topic questions score 0.00-0.27 and real questions the bot could not answer 0.44-0.82
(tests/test_triage.py keeps both sides), so OFF_TOPIC_COSINE sits in the gap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Literal

from copilot.answer.agent import WANTS_HUMAN, Agent, DecisionSink, DeltaSink, unhelpful_streak
from copilot.types import Confidence, CustomerContext, Hit, Reply, ReplyType, Turn

Kind = Literal["off_topic", "abusive", "injection"]
OFF_TOPIC_COSINE = 0.35
INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.\n]{0,40}\b(?:instructions?|prompts?|rules)\b"
    r"|\bsystem\s+prompt\b|\byou\s+are\s+now\b|\bdeveloper\s+mode\b|\bjailbreak|\bDAN\b"
    r"|\b(?:reveal|print|show|repeat)\s+(?:me\s+)?(?:your|the)\s+(?:hidden\s+)?"
    r"(?:prompt|instructions)\b|<\s*/?\s*(?:system|assistant|instructions?)\s*>",
    re.I,
)
ABUSE = re.compile(
    r"\b(?:fuck\w*|shit\w*|idiot\w*|moron\w*|bitch\w*|asshole\w*|bastard\w*|retard\w*|"
    r"screw\s+you|go\s+to\s+hell|shut\s+up|piece\s+of\s+(?:shit|crap))\b",
    re.I,
)
OUT_OF_SCOPE = {
    "off_topic": (
        "Sorry, I can only help with questions about our product, and this one is outside what "
        "our support team covers. If you have a question about your account or using the "
        "product, ask away."
    ),
    "abusive": (
        "I'm here to help with questions about our product. If something isn't working, tell me "
        "what you were trying to do and I'll do my best to help."
    ),
    "injection": (
        "I can only help with questions about our product. What would you like to know about "
        "your account or using the product?"
    ),
}
TRIAGED = "triage:"  # the prefix of `composed_by` on an out-of-scope reply


def classify(message: str, hits: Sequence[Hit], history: Sequence[Turn] = ()) -> Kind | None:
    """Why this handed-off message is not for the support queue, or None when it is."""
    if WANTS_HUMAN.search(message) or unhelpful_streak((*history, Turn("user", message))):
        return None
    relevant = bool(hits) and hits[0].dense >= OFF_TOPIC_COSINE
    if INJECTION.search(message):
        # An injection wrapped around a real question is still a real question.
        stripped = INJECTION.sub(" ", message)
        return None if relevant and len(stripped.split()) >= 4 else "injection"
    if relevant:
        return None
    return "abusive" if ABUSE.search(message) else "off_topic"


def kind_of(reply: Reply) -> str | None:
    """The triage verdict recorded on a reply, if triage replied."""
    by = reply.composed_by
    return by.removeprefix(TRIAGED) if by.startswith(TRIAGED) else None


def screened(
    message: str,
    history: Sequence[Turn],
    run: Callable[[DecisionSink | None], Reply],
    on_decision: DecisionSink | None,
) -> Reply:
    """Run the agent (`run` takes the decision sink to pass on) with a handoff screened: a
    message that is not for us gets the out-of-scope reply, as a "suggest" without suggestions,
    and a streamed client hears that decision instead of the handoff."""
    verdict: list[Kind | None] = []

    def sink(kind: ReplyType, confidence: Confidence, hits: tuple[Hit, ...]) -> None:
        if kind == "handoff" and not verdict:
            verdict.append(classify(message, hits, history))
        if verdict and verdict[0]:
            kind, hits = "suggest", ()
        if on_decision is not None:
            on_decision(kind, confidence, hits)

    reply = run(sink)
    if reply.type != "handoff" or reply.handoff is None:
        return reply
    kind = verdict[0] if verdict else classify(message, reply.hits, history)
    if kind is None:
        return reply
    return Reply(
        "suggest",
        OUT_OF_SCOPE[kind],
        reply.confidence,
        composed_by=TRIAGED + kind,
        fault=reply.fault,
    )


def agent_reply(
    agent: Agent,
    screen: bool,
    message: str,
    history: Sequence[Turn],
    audience: Literal["customer", "internal"],
    context: CustomerContext,
    on_delta: DeltaSink | None,
    on_decision: DecisionSink | None,
) -> Reply:
    """`agent.reply`, screened by triage when `screen`."""
    if not screen:
        return agent.reply(message, history, audience, context, on_delta, on_decision)
    return screened(
        message,
        history,
        lambda sink: agent.reply(message, history, audience, context, on_delta, sink),
        on_decision,
    )
