"""Composing the reply text. Without an LLM the answer is extractive: the best article's own Fix
steps and Verify, quoted, with its citation. Nothing is invented, so nothing can be wrong that the
article does not already say."""

from __future__ import annotations

import re

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
