"""Grounded answers from the LLM: the prompt (KB and customer text quoted as data, sources
numbered) and the checks on what comes back (every citation names a source that was given, every
sentence is supported by the text it cites). Sentences are checked as they stream, so a customer
only ever sees text that passed."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from copilot.answer.retrieve import tokenize
from copilot.safety.guard import Leaks, LinkPolicy
from copilot.safety.redact import redact
from copilot.types import Hit, Turn

DEFAULT_PROMPTS = Path(__file__).resolve().parent / "prompts"
REFUSAL = "NOT_IN_SOURCES"
CITATION = re.compile(r"\[(\d+)\]")
# A sentence ends at . ! ? or : and a space, but "1. Open Settings" is a step number, not an end.
SENTENCE_END = re.compile(r"(?<=[^\d\s][.!?:])\s+|\n+")
SOURCE_SECTIONS = ("Symptoms", "Cause", "Fix", "Verify")
MIN_SUPPORT = 0.5  # share of a sentence's content words found in the sources it cites
MIN_WORDS = 3  # shorter sentences ("Here's how:") carry no claim to check


class Unsupported(Exception):
    """A verdict on an answer, not an error: the agent falls back."""

    def __init__(self, why: str, refusal: bool = False) -> None:
        super().__init__(why)
        self.refusal = refusal  # the model itself said the sources do not answer


@dataclass(frozen=True)
class Prompts:
    system: str
    user: str
    condense: str

    @classmethod
    def load(cls, folder: Path | None = None) -> Prompts:
        folder = folder or DEFAULT_PROMPTS
        return cls(
            *(
                (folder / f"{name}.md").read_text(encoding="utf-8")
                for name in ("answer_system", "answer_user", "condense")
            )
        )


def quote(text: str) -> str:
    """Data may not close our tags: angle brackets become look-alikes the model reads the same."""
    return text.replace("<", "‹").replace(">", "›")


def customer_text(text: str) -> str:
    """What the customer wrote, as the LLM may see it: PII redacted, then quoted."""
    return quote(redact(text))


def source_text(sections: dict[str, str]) -> str:
    return "\n".join(f"{s}: {sections[s]}" for s in SOURCE_SECTIONS if sections.get(s))


def answer_messages(
    prompts: Prompts, question: str, history: Sequence[Turn], sources: Sequence[tuple[Hit, str]]
) -> list[dict[str, str]]:
    numbered = "\n".join(
        f'<source id="{n}" title="{quote(hit.title)}">\n{quote(text)}\n</source>'
        for n, (hit, text) in enumerate(sources, 1)
    )
    user = prompts.user.format(
        sources=numbered, conversation=_conversation(history), question=customer_text(question)
    )
    return [{"role": "system", "content": prompts.system}, {"role": "user", "content": user}]


def condense_messages(
    prompts: Prompts, question: str, history: Sequence[Turn]
) -> list[dict[str, str]]:
    text = prompts.condense.format(
        conversation=_conversation(history), question=customer_text(question)
    )
    return [{"role": "user", "content": text}]


def _conversation(history: Sequence[Turn]) -> str:
    return "\n".join(f"{t.role}: {customer_text(t.content)}" for t in history[-6:]) or "(none)"


def _stems(text: str) -> set[str]:
    # A 5-letter prefix is a crude stemmer that is enough for "configure" / "configured".
    return {t[:5] for t in tokenize(text)}


class Checker:
    """Checks an answer sentence by sentence against the numbered sources: every sentence that
    states something cites a source that was given, and shares most of its words with it."""

    def __init__(
        self,
        sources: Sequence[str],
        links: LinkPolicy | None = None,
        leaks: Leaks | None = None,
    ) -> None:
        self.sources = [_stems(s) for s in sources]
        self.links, self.leaks = links, leaks
        self.cited: list[int] = []  # source numbers in order of first citation

    def check(self, sentence: str) -> None:
        if REFUSAL in sentence:
            raise Unsupported("the LLM found no answer in the sources", refusal=True)
        if self.links is not None and (offsite := self.links.offsite(sentence)):
            raise Unsupported(f"links off-site: {offsite[0][:80]!r}")
        if self.leaks is not None and (why := self.leaks.why(sentence)):
            raise Unsupported(why)
        numbers = [int(n) for n in CITATION.findall(sentence)]
        for n in numbers:
            if not 1 <= n <= len(self.sources):
                raise Unsupported(f"cites source [{n}], which was not given")
            if n not in self.cited:
                self.cited.append(n)
        words = _stems(CITATION.sub(" ", sentence))
        if len(words) < MIN_WORDS:
            return
        if not numbers:
            raise Unsupported(f"cites no source: {sentence.strip()[:80]!r}")
        support = set().union(*(self.sources[n - 1] for n in numbers))
        if len(words & support) / len(words) < MIN_SUPPORT:
            raise Unsupported(f"not supported by its sources: {sentence.strip()[:80]!r}")


def checked_sentences(deltas: Iterator[str], checker: Checker) -> Iterator[str]:
    """Whole sentences from a stream of deltas, each yielded only after it passed the checker.
    Raises Unsupported at the first bad one, and on a refusal."""
    buffer = ""
    for delta in deltas:
        buffer += delta
        parts = SENTENCE_END.split(buffer)
        for sentence in parts[:-1]:
            if sentence.strip():
                checker.check(sentence)
                yield sentence.strip()
        buffer = parts[-1]
    if buffer.strip():
        checker.check(buffer)
        yield buffer.strip()
    if not checker.cited:
        raise Unsupported("the answer cites no source")


def join_sentences(sentences: Sequence[str]) -> str:
    """Numbered steps stay on their own lines; prose runs together."""
    out = ""
    for s in sentences:
        sep = "\n" if re.match(r"\d+[.)]\s|[-*]\s", s) or out.endswith(":") else " "
        out = f"{out}{sep}{s}" if out else s
    return out
