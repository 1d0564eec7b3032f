"""With an LLM: a second opinion on retrieval before an answer goes out. The LLM reads the top
passages and names the one that answers the question, or none, as JSON. The agent answers only when
the judge agrees with its top article; a judge that fails or talks nonsense is ignored (and the
fault recorded), so a broken judge can never make the copilot answer more."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from copilot.answer.catalog import Catalog
from copilot.answer.grounding import DEFAULT_PROMPTS, customer_text, quote, source_text
from copilot.answer.llm import ChatModel
from copilot.errors import LLMError
from copilot.types import Hit, Turn

PASSAGES = 3  # the top articles the judge reads
JSON_OBJECT = re.compile(r"\{[^{}]*\}")
PLACEHOLDER = re.compile(r"\{(history|question|passages)\}")


@dataclass(frozen=True)
class Verdict:
    """The judge's pick among the passages it read: 1-based, None for "none answers"; `fault`
    says why there is no usable verdict (then the decision ignores the judge)."""

    choice: int | None = None
    fault: str = ""

    @property
    def usable(self) -> bool:
        return not self.fault


class Judge:
    def __init__(self, llm: ChatModel, template: str | None = None) -> None:
        self.llm = llm
        self.template = template or load_template()

    def judge(
        self, question: str, history: Sequence[Turn], hits: Sequence[Hit], catalog: Catalog
    ) -> Verdict:
        shown = list(hits[:PASSAGES])
        if not shown:
            return Verdict(fault="judge: no passages")
        passages = "\n".join(
            f'<passage n="{n}">\n{quote(h.title)}\n{_source(catalog, h)}\n</passage>'
            for n, h in enumerate(shown, 1)
        )
        fill = {
            "history": _history(history),
            "question": customer_text(question),
            "passages": passages,
        }
        # One pass: a customer who writes "{passages}" gets it back as text, not filled in.
        prompt = PLACEHOLDER.sub(lambda m: fill[m.group(1)], self.template)
        try:
            raw = "".join(self.llm.stream([{"role": "user", "content": prompt}]))
        except LLMError as exc:
            return Verdict(fault=f"judge: {exc}")
        return parse(raw, len(shown))


def parse(raw: str, passages: int) -> Verdict:
    """The verdict in a reply: the first JSON object with an "answer" of a passage number or
    "none". Anything else is a fault, never a guess."""
    for match in JSON_OBJECT.finditer(raw):
        try:
            obj = json.loads(match.group())
        except ValueError:
            continue
        if not isinstance(obj, dict) or "answer" not in obj:
            continue
        answer = obj["answer"]
        if isinstance(answer, str) and answer.strip().lower() == "none":
            return Verdict(None)
        if isinstance(answer, str) and answer.strip().isdigit():
            answer = int(answer)
        if isinstance(answer, int) and not isinstance(answer, bool) and 1 <= answer <= passages:
            return Verdict(answer)
        return Verdict(fault=f"judge: answer {str(answer)[:40]!r} is not a passage number")
    return Verdict(fault=f"judge: no JSON verdict in {raw[:80]!r}")


def load_template(folder: Path | None = None) -> str:
    """The judge's prompt from a custom prompts folder when it has one, else the shipped one."""
    path = (folder or DEFAULT_PROMPTS) / "judge.md"
    return (path if path.is_file() else DEFAULT_PROMPTS / "judge.md").read_text(encoding="utf-8")


def _source(catalog: Catalog, hit: Hit) -> str:
    return quote(source_text(catalog.sections(hit.article_id)))


def _history(history: Sequence[Turn]) -> str:
    return "\n".join(f"{t.role}: {customer_text(t.content)}" for t in history[-4:])
