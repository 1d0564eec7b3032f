"""The retrieval agent: one question in, one reply out (answer, suggest, or hand off).

question + history -> standalone query -> ranking -> confidence -> decision -> reply
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from fnmatch import fnmatch
from typing import Literal

from copilot.answer.compose import (
    HANDOFF_TEXT,
    STALE_NOTE,
    SUGGEST_TEXT,
    extractive_answer,
    passage_answer,
)
from copilot.answer.confidence import ConfidenceModel
from copilot.answer.grounding import (
    Checker,
    Prompts,
    Unsupported,
    answer_messages,
    checked_sentences,
    condense_messages,
    join_sentences,
    source_text,
)
from copilot.answer.judge import Judge, Verdict
from copilot.answer.llm import ChatModel
from copilot.answer.retrieve import Ranking, Retriever, standalone_query
from copilot.errors import LLMError
from copilot.safety.guard import Leaks, LinkPolicy
from copilot.types import (
    Citation,
    Confidence,
    CustomerContext,
    Handoff,
    HandoffReason,
    Hit,
    Reply,
    ReplyType,
    Turn,
)

WANTS_HUMAN = re.compile(
    r"\b(?:talk|speak|chat)\s+(?:to|with)\s+(?:a\s+)?(?:human|person|someone|agent|support)\b"
    r"|\b(?:human|real person|live agent|representative)\b(?:\s+please)?\s*[.!?]*$",
    re.I,
)
# A customer telling us the last answer did not work.
UNHELPFUL = re.compile(
    r"\b(?:did\s*n[o']?t|does\s*n[o']?t|do\s*n[o']?t|not|never|still\s+(?:does\s*n[o']?t|not))"
    r"\s+(?:help|work|working|fix|solve)"
    r"|\bstill\s+(?:broken|failing|the same|happening|stuck|getting|seeing|get|see)\b"
    r"|\bno luck\b|\bsame (?:error|problem|issue)\b|\bwrong answer\b|\bnot helpful\b",
    re.I,
)
CLARIFY_MARGIN = 0.35  # fused-score gap under which the top two articles count as "close"
MAX_SUGGESTIONS = 3  # articles a "suggest" reply offers
UNHELPFUL_LIMIT = 2  # answers in a row the customer said did not help, before a person steps in
LLM_SOURCES = 3  # articles given to the LLM as numbered sources

DeltaSink = Callable[[str], None]
DecisionSink = Callable[[ReplyType, Confidence, tuple[Hit, ...]], None]


class Agent:
    """Stateless over conversations: history comes in with each question."""

    def __init__(
        self,
        retriever: Retriever,
        model: ConfidenceModel,
        *,
        llm: ChatModel | None = None,
        prompts: Prompts | None = None,
        llm_fallback: Literal["extractive", "handoff"] = "extractive",
        page_areas: dict[str, str] | None = None,
        links: LinkPolicy | None = None,
        judge: Judge | None = None,
        low_confidence: Literal["suggest", "handoff"] = "suggest",
    ) -> None:
        self.retriever, self.model, self.llm, self.judge = retriever, model, llm, judge
        self.low_confidence = low_confidence
        self.prompts = prompts or (Prompts.load() if llm else None)
        self.llm_fallback = llm_fallback
        self.page_areas = page_areas or {}
        self.links = links or LinkPolicy([])

    def reply(
        self,
        question: str,
        history: Sequence[Turn] = (),
        audience: Literal["customer", "internal"] = "customer",
        context: CustomerContext | None = None,
        on_delta: DeltaSink | None = None,
        on_decision: DecisionSink | None = None,
    ) -> Reply:
        """`on_decision` hears the decision as soon as it is made, before any text is composed;
        `on_delta` receives the answer sentence by sentence as the LLM writes it, each only after
        it passed the citation and support checks. The returned Reply is the final word."""
        decided = False

        def decide(kind: ReplyType, confidence: Confidence, hits: tuple[Hit, ...]) -> None:
            nonlocal decided
            decided = True
            if on_decision is not None:  # titles reach the customer first: cleaned like replies
                on_decision(
                    kind,
                    confidence,
                    tuple(replace(h, title=self.links.clean(h.title)) for h in hits),
                )

        reply = self._reply(question, history, audience, context, on_delta, decide)
        if not decided:
            decide(reply.type, reply.confidence, reply.hits)
        clean = self.links.clean
        citations = tuple(replace(c, title=clean(c.title)) for c in reply.citations)
        return replace(reply, text=clean(reply.text), citations=citations)

    def _reply(
        self,
        question: str,
        history: Sequence[Turn],
        audience: Literal["customer", "internal"],
        context: CustomerContext | None,
        on_delta: DeltaSink | None,
        decide: DecisionSink,
    ) -> Reply:
        context = context or CustomerContext()
        transcript = (*history, Turn("user", question))
        query = self._standalone(question, history)
        area = area_for_page(context.page, self.page_areas)
        in_play = article_in_play(history)
        ranking = self.retriever.rank(
            query, audience, prefer_area=area, alone=question, in_play=in_play or None
        )
        confidence = self.model.confidence(ranking.signals)
        if WANTS_HUMAN.search(question):
            return self._handoff("customer_asked", confidence, ranking, transcript, context)
        if unhelpful_streak(transcript) >= UNHELPFUL_LIMIT:
            return self._handoff("repeated_unhelpful", confidence, ranking, transcript, context)
        if not ranking.hits:
            return self._handoff("no_results", confidence, ranking, transcript, context)
        top = ranking.hits[0]
        if (
            in_play
            and top.article_id == in_play
            and confidence.value >= self.model.clarify_threshold
            and not UNHELPFUL.search(question)
            and self.retriever.covers(question, in_play, audience)
        ):
            # A follow-up on the article just answered, which covers it: the passage that does,
            # not the same answer again (and not a handoff for a question the customer's own
            # article answers).
            decide("answer", confidence, tuple(ranking.hits))
            if self.llm is not None:  # the LLM reads the history and the article's sections
                return self._answer(question, history, ranking, confidence, context, on_delta)
            sections = self.retriever.catalog.sections(top.article_id)
            text, cites = passage_answer(top, sections, question)
            return Reply("answer", text, confidence, cites, None, tuple(ranking.hits))
        if confidence.value >= self.model.answer_threshold:
            verdict = self._second_opinion(question, history, ranking)
            if verdict.choice == 1 or not verdict.usable:
                decide("answer", confidence, tuple(ranking.hits))
                reply = self._answer(question, history, ranking, confidence, context, on_delta)
                return replace(reply, fault="; ".join(f for f in (reply.fault, verdict.fault) if f))
            # The judge read the passages and disagrees with the top one: suggest, never answer.
            picked = verdict.choice
            hits = list(ranking.hits)
            if picked is not None:
                hits.insert(0, hits.pop(picked - 1))
            signals = {**confidence.signals, "judge_choice": float(picked or 0)}
            confidence = replace(confidence, signals=signals)
            if len(hits) > 1 or self.low_confidence == "suggest":
                return self._suggest(confidence, hits, audience)
            return self._handoff("low_confidence", confidence, ranking, transcript, context)
        # Between the relevance floor and the answer threshold: the right article is usually
        # among the first three (hit@3 on the labelled sets, docs/retrieval.md), so the customer
        # picks; below the floor nothing relevant was found and a person takes it.
        if confidence.value >= self.model.clarify_threshold:
            second = ranking.hits[1] if len(ranking.hits) > 1 else None
            if self.low_confidence == "suggest":
                return self._suggest(confidence, list(ranking.hits), audience)
            if second is not None and top.score - second.score < CLARIFY_MARGIN:
                return self._suggest(confidence, [top, second], audience)
        return self._handoff("low_confidence", confidence, ranking, transcript, context)

    def _suggest(
        self, confidence: Confidence, hits: list[Hit], audience: Literal["customer", "internal"]
    ) -> Reply:
        """Up to MAX_SUGGESTIONS articles to pick from, best first (customer articles only when
        a customer asks)."""
        shown = [h for h in hits if audience == "internal" or h.audience == "customer"]
        offered = tuple(
            Citation(h.article_id, self.links.clean(h.title), h.section)
            for h in shown[:MAX_SUGGESTIONS]
        )
        return Reply(
            "suggest", SUGGEST_TEXT, confidence, (), None, tuple(hits), suggestions=offered
        )

    def _second_opinion(self, question: str, history: Sequence[Turn], ranking: Ranking) -> Verdict:
        """The judge's verdict when there is a judge; "agrees" (passage 1) when there is none."""
        if self.judge is None:
            return Verdict(1)
        return self.judge.judge(question, history, ranking.hits, self.retriever.catalog)

    def _standalone(self, question: str, history: Sequence[Turn]) -> str:
        if self.llm is None or self.prompts is None or not history:
            return standalone_query(question, [(t.role, t.content) for t in history])
        try:
            rewritten = "".join(self.llm.stream(condense_messages(self.prompts, question, history)))
        except LLMError:
            rewritten = ""
        # A rewrite that is empty or rambles is worse than the measured heuristic.
        if not rewritten.strip() or len(rewritten) > 4 * len(question) + 200:
            return standalone_query(question, [(t.role, t.content) for t in history])
        return rewritten.strip()

    def _answer(
        self,
        question: str,
        history: Sequence[Turn],
        ranking: Ranking,
        confidence: Confidence,
        context: CustomerContext,
        on_delta: DeltaSink | None,
    ) -> Reply:
        transcript = (*history, Turn("user", question))
        hits = tuple(ranking.hits)
        top = hits[0]
        catalog = self.retriever.catalog
        text, cites = extractive_answer(top, catalog.sections(top.article_id))
        if self.llm is None or self.prompts is None:
            return Reply("answer", text, confidence, cites, None, hits)
        fallback = Reply("answer", text, confidence, cites, None, hits, "extractive_fallback")
        sources = [(h, source_text(catalog.sections(h.article_id))) for h in hits[:LLM_SOURCES]]
        said = [question, *(t.content for t in history)]
        leaks = Leaks([*(s for _, s in sources), *said], self.prompts.system)
        checker = Checker([s for _, s in sources], self.links, leaks)
        messages = answer_messages(self.prompts, question, history, sources)
        sentences: list[str] = []
        try:
            for sentence in checked_sentences(self.llm.stream(messages), checker):
                sentences.append(sentence)
                if on_delta is not None:
                    on_delta(sentence)
        except (LLMError, Unsupported) as exc:
            if isinstance(exc, Unsupported) and exc.refusal:
                return self._handoff("low_confidence", confidence, ranking, transcript, context)
            # An answer that failed the checks is as unusable as no answer.
            fault = f"llm: {exc}" if isinstance(exc, LLMError) else f"llm answer rejected: {exc}"
            if self.llm_fallback == "handoff":
                reply = self._handoff("llm_failure", confidence, ranking, transcript, context)
                return replace(reply, fault=fault)
            return replace(fallback, fault=fault)
        cited = [sources[n - 1][0] for n in checker.cited]
        answer = join_sentences(sentences)
        if any(h.stale for h in cited):
            answer += "\n" + STALE_NOTE
        llm_cites = tuple(Citation(h.article_id, h.title, h.section) for h in cited)
        return Reply("answer", answer, confidence, llm_cites, None, hits, "llm")

    def _handoff(
        self,
        reason: HandoffReason,
        confidence: Confidence,
        ranking: Ranking,
        transcript: Sequence[Turn],
        context: CustomerContext,
    ) -> Reply:
        top = ranking.hits[0] if ranking.hits else None
        escalate = (
            self.retriever.catalog.sections(top.article_id).get("Escalate", "") if top else ""
        )
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


def article_in_play(history: Sequence[Turn]) -> str:
    """The article the latest reply answered from ("" when the latest reply was no answer)."""
    last = next((t for t in reversed(history) if t.role == "assistant"), None)
    return last.article if last is not None else ""


def area_for_page(page: str, page_areas: dict[str, str]) -> str | None:
    """The product area of the page the customer is on, by the first matching URL glob."""
    if not page:
        return None
    return next((area for glob, area in page_areas.items() if fnmatch(page, glob)), None)


def unhelpful_streak(transcript: Sequence[Turn]) -> int:
    """How many of the assistant's latest replies in a row the customer said did not help: by
    feedback on the reply, or by the next message saying so ("that didn't work")."""
    streak = 0
    for i in range(len(transcript) - 1, -1, -1):
        turn = transcript[i]
        if turn.role != "assistant":
            continue
        following = next((t for t in transcript[i + 1 :] if t.role == "user"), None)
        said = following is not None and UNHELPFUL.search(following.content) is not None
        if turn.feedback == "unhelpful" or (said and turn.feedback != "helpful"):
            streak += 1
        else:
            break
    return streak
