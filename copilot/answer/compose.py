"""Composing the reply text. Without an LLM the answer is extractive: the best article's own Fix
steps and Verify, quoted, with its citation. Nothing is invented, so nothing can be wrong that the
article does not already say."""

from __future__ import annotations

import re

from copilot.answer.retrieve import tokenize
from copilot.types import Citation, Hit

MAX_STEPS = 8
STALE_NOTE = "Note: this article is due for review, so some details may have changed."
STEP = re.compile(r"(?:^|\s)(\d+)[.)]\s+")


def steps(fix: str) -> list[str]:
    """Numbered steps of a Fix section (the index keeps sections as running text)."""
    parts = STEP.split(" " + fix)
    if len(parts) < 3:
        return [fix.strip()] if fix.strip() else []
    return [parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)][:MAX_STEPS]


def extractive_answer(hit: Hit, sections: dict[str, str]) -> tuple[str, tuple[Citation, ...]]:
    fix = sections.get("Fix", "")
    verify = sections.get("Verify", "").strip()
    lines = [f"From **{hit.title}**:"]
    numbered = steps(fix)
    if len(numbered) > 1:
        lines += [f"{i}. {s}" for i, s in enumerate(numbered, 1)]
    elif numbered:
        lines.append(numbered[0])
    if verify and verify != "Not stated in the source.":
        lines.append(f"To check it worked: {verify}")
    if hit.stale:
        lines.append(STALE_NOTE)
    cites = (Citation(hit.article_id, hit.title, "Fix"),)
    return "\n".join(lines), cites


def passage_answer(
    hit: Hit, sections: dict[str, str], question: str
) -> tuple[str, tuple[Citation, ...]]:
    """A follow-up on the article just answered: the part of it that speaks to the question
    (the Fix step, or the section, sharing the most of its words), not the same answer again;
    the best chunk when no word is shared."""
    words = {w for w in tokenize(question) if len(w) >= 4}

    def shared(text: str) -> int:
        found = set(tokenize(text))
        return sum(
            any(f.startswith(w) or w.startswith(f) for f in found if len(f) >= 4) for w in words
        )

    units = []  # (where, text)
    for name, text in sections.items():
        if name == "Fix" and len(numbered := steps(text)) > 1:
            units += [(f"Fix, step {i}", step) for i, step in enumerate(numbered, 1)]
        elif name != "Escalate":
            units.append((name, text))
    # On a tie the steps win, then Verify: they say what to do.
    order = {"Verify": 1, "Cause": 2, "Symptoms": 3}
    best = max(units, key=lambda u: (shared(u[1]), -order.get(u[0], 0)), default=None)
    if best is not None and shared(best[1]):
        where, body = best
    else:
        body = hit.text.split("\n", 1)[1] if hit.text.startswith(hit.title + "\n") else hit.text
        where = hit.section
    lines = [
        f"From **{hit.title}** ({where}):" if where else f"From **{hit.title}**:",
        body.strip(),
    ]
    if hit.stale:
        lines.append(STALE_NOTE)
    section = where.split(",")[0]
    return "\n".join(lines), (Citation(hit.article_id, hit.title, section),)


SUGGEST_TEXT = "I'm not sure which of these fits — pick one, or I can get a person."


HANDOFF_TEXT = {
    "low_confidence": "I'm not sure I have the right answer for this, so I'm passing you to a "
    "person on our support team. They'll see this conversation.",
    "no_results": "I couldn't find anything in our help articles about this. I'm passing you to "
    "a person on our support team; they'll see this conversation.",
    "customer_asked": "Sure, I'm passing you to a person on our support team. They'll see this "
    "conversation, so you won't need to repeat yourself.",
    "llm_failure": "Something went wrong on my side, so I'm passing you to a person on our "
    "support team. They'll see this conversation.",
    "unavailable": "The assistant is unavailable right now, so I'm passing your question to a "
    "person on our support team. They'll see this conversation.",
    "repeated_unhelpful": "Sorry that didn't help. I'm passing you to a person on our support "
    "team; they'll see what we already tried.",
}
