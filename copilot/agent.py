"""The retrieval agent: one question in, one reply out (answer, clarify, or hand off).

question + history -> standalone query -> ranking -> confidence -> decision -> reply
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict
from typing import Literal

from copilot.compose import HANDOFF_TEXT, clarify_text, extractive_answer
from copilot.confidence import ConfidenceModel
from copilot.embed import Embedder
from copilot.errors import EmbedderMismatch
from copilot.retrieve import Ranking, Retriever, standalone_query
from copilot.settings import Settings
from copilot.store import OpenIndex
from copilot.types import Confidence, CustomerContext, Handoff, HandoffReason, Reply, Turn

WANTS_HUMAN = re.compile(
    r"\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:a\s+)?(?:human|person|someone|agent|support)\b"
    r"|\b(?:human|real person|live agent|representative)\b(?:\s+please)?\s*[.!?]*$",
    re.I,
)
CLARIFY_MARGIN = 0.35  # fused-score gap under which the top two articles count as "close"


class Agent:
    """Stateless over conversations: history comes in with each question."""

    def __init__(self, retriever: Retriever, model: ConfidenceModel) -> None:
        self.retriever, self.model = retriever, model

    def reply(
        self,
        question: str,
        history: Sequence[Turn] = (),
        audience: Literal["customer", "internal"] = "customer",
        context: CustomerContext | None = None,
    ) -> Reply:
        context = context or CustomerContext()
        transcript = (*history, Turn("user", question))
        query = standalone_query(question, [(t.role, t.content) for t in history])
        ranking = self.retriever.rank(query, audience)
        confidence = self.model.confidence(ranking.signals)
        if WANTS_HUMAN.search(question):
            return self._handoff("customer_asked", confidence, ranking, transcript, context)
        if not ranking.hits:
            return self._handoff("no_results", confidence, ranking, transcript, context)
        top = ranking.hits[0]
        if confidence.value >= self.model.answer_threshold:
            text, cites = extractive_answer(top, self.retriever.sections[top.article_id])
            return Reply("answer", text, confidence, cites, None, tuple(ranking.hits))
        second = ranking.hits[1] if len(ranking.hits) > 1 else None
        if (
            second is not None
            and confidence.value >= self.model.clarify_threshold
            and top.score - second.score < CLARIFY_MARGIN
        ):
            return Reply(
                "clarify", clarify_text(top, second), confidence, (), None, tuple(ranking.hits)
            )
        return self._handoff("low_confidence", confidence, ranking, transcript, context)

    def _handoff(
        self,
        reason: HandoffReason,
        confidence: Confidence,
        ranking: Ranking,
        transcript: Sequence[Turn],
        context: CustomerContext,
    ) -> Reply:
        top = ranking.hits[0] if ranking.hits else None
        escalate = self.retriever.sections[top.article_id].get("Escalate", "") if top else ""
        packet = Handoff(
            reason=reason,
            confidence=confidence.value,
            transcript=tuple(transcript),
            context=context,
            articles_tried=tuple((h.article_id, round(h.score, 3)) for h in ranking.hits),
            suggested_next_step=escalate,
            product_area=top.product_area if top else "",
        )
        return Reply("handoff", HANDOFF_TEXT[reason], confidence, (), packet, tuple(ranking.hits))


def open_agent(
    settings: Settings, *, recalibrate: bool = False, embedder: Embedder | None = None
) -> tuple[Agent, OpenIndex]:
    """Open the current index with its embedder (pass one already loaded to reuse its model) and
    its calibration. Close the index when done."""
    from copilot.calibrate import ensure_calibrated
    from copilot.embed import load_embedder
    from copilot.store import open_current

    index = open_current(settings.index_dir, settings.chroma_url)
    try:
        embedder = embedder or load_embedder(settings)
        if index.manifest.embedder != embedder.name:
            raise EmbedderMismatch(
                f'the index was built with embedder "{index.manifest.embedder}" but settings name '
                f'"{embedder.name}": run `copilot index --full`'
            )
        retriever = Retriever(index, embedder)
        model = ensure_calibrated(retriever, settings.data_dir, force=recalibrate)
        return Agent(retriever, model), index
    except BaseException:
        index.close()
        raise


def reply_json(reply: Reply, conversation_id: str | None = None) -> dict[str, object]:
    """The reply as CONTRACT.md specifies it."""
    handoff = None
    if reply.handoff is not None:
        handoff = asdict(reply.handoff)
        handoff["id"] = None
    return {
        "type": reply.type,
        "text": reply.text,
        "confidence": reply.confidence.value,
        "signals": reply.confidence.signals,
        "citations": [asdict(c) for c in reply.citations],
        "handoff": handoff,
        "conversation_id": conversation_id,
    }
