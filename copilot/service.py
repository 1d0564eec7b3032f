"""The composition root: one `Copilot`, built from `Settings`, wires the embedder, the index, the
catalogue, the agent, the conversation store, handoffs, webhooks, drafting, reports and
reindex-and-swap. The CLI and the HTTP API only translate argv or HTTP into its calls."""

from __future__ import annotations

import logging
import threading
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text

from copilot.answer.agent import Agent
from copilot.answer.calibrate import certify_labels, ensure_calibrated, params_path, with_labels
from copilot.answer.catalog import Catalog
from copilot.answer.certify import Certificate
from copilot.answer.confidence import ConfidenceModel
from copilot.answer.draft import Draft, draft_reply
from copilot.answer.grounding import Prompts
from copilot.answer.judge import Judge, load_template
from copilot.answer.llm import open_llm
from copilot.answer.retrieve import Retriever
from copilot.errors import (
    ConfigError,
    Conflict,
    EmbedderMismatch,
    NotFound,
    Unavailable,
)
from copilot.index.build import IndexReport, build_index
from copilot.index.chroma import OpenIndex, open_current, open_store
from copilot.index.embed import Embedder, load_embedder
from copilot.proactive.nudges import Batch, Outcome, Proactive
from copilot.record import db, drafts
from copilot.record.conversations import Conversations
from copilot.record.handoffs import Handoffs
from copilot.safety.guard import LinkPolicy
from copilot.settings import Settings
from copilot.types import CustomerContext, Label, Turn

if TYPE_CHECKING:
    from copilot.kb.lint import LintResult
    from copilot.record.gaps import Gap
    from copilot.record.outbox import OutboxWorker

log = logging.getLogger(__name__)


def open_agent(
    settings: Settings, *, recalibrate: bool = False, embedder: Embedder | None = None
) -> tuple[Agent, OpenIndex]:
    """Open the current index with its embedder (pass one already loaded to reuse its model),
    its calibration and the LLM if one is configured. Close the index when done."""
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
        llm = open_llm(settings)
        agent = Agent(
            retriever,
            model,
            llm=llm,
            prompts=Prompts.load(settings.prompts_dir) if llm else None,
            llm_fallback=settings.llm_fallback,
            page_areas=settings.page_areas,
            links=LinkPolicy(settings.link_hosts),
            low_confidence=settings.low_confidence,
            judge=Judge(llm, load_template(settings.prompts_dir))
            if llm and settings.llm_judge
            else None,
        )
        return agent, index
    except BaseException:
        index.close()
        raise


def calibrate(
    settings: Settings,
    *,
    labels_file: Path | None = None,
    embedder: Embedder | None = None,
    force: bool = True,
) -> tuple[ConfidenceModel, Certificate | None]:
    """Calibrate this KB: the shipped model adapted by the KB's probes, then the labels in the
    store (with those in `labels_file` added first) asked to certify a threshold. Written to the
    data folder, where the agent reads it. Without `force`, a calibration already done for the
    current index is kept (no certificate is returned then)."""
    from copilot.evals.dataset import load_dataset
    from copilot.record import labels

    agent, index = open_agent(settings, recalibrate=force, embedder=embedder)
    if "labels" in agent.model.notes and labels_file is None and not force:
        index.close()
        return agent.model, None
    try:
        engine = db.connect(settings.database_url, settings.data_dir)
        try:
            if labels_file is not None:
                given = load_dataset(labels_file)
                labels.add(engine, [Label.from_question(q, author=str(labels_file)) for q in given])
            stored = labels.all_labels(engine)
        finally:
            engine.dispose()
        cert = certify_labels(agent.retriever, agent.model, stored)
        model = with_labels(agent.model, cert, "from the label store")
        model.notes["index_built_at"] = index.manifest.built_at
        model.save(params_path(settings.data_dir))
        return model, cert
    finally:
        index.close()


class Copilot:
    """The service: cheap to build; `start()` opens the index. Without an index it runs degraded
    (every customer message becomes a handoff that says why) until `start()` succeeds."""

    def __init__(
        self, settings: Settings, *, engine: Engine | None = None, agent: Agent | None = None
    ) -> None:
        self.settings = settings
        self._own_engine = engine is None
        self.engine = engine or db.connect(settings.database_url, settings.data_dir)
        self.conversations = Conversations(
            self.engine, None, settings.webhook_url, resume_days=settings.conversation_resume_days
        )
        self.conversations.sla_rules = list(settings.sla_rules)  # the queue: docs/console.md
        self.conversations.not_for_us = settings.not_for_us
        self.handoffs = Handoffs(self.engine, LinkPolicy(settings.link_hosts))
        self.index: OpenIndex | None = None  # closed by close() or the next use()
        self._reindexing = threading.Lock()
        self._outbox: OutboxWorker | None = None
        self.proactive = Proactive(self.engine, settings)  # signals, rules, nudges (issue 19)
        if agent is not None:
            self.use(agent, None)

    @property
    def agent(self) -> Agent | None:
        """None while the index cannot be opened (`problem` says why)."""
        return self.conversations.agent

    @property
    def problem(self) -> str:
        return self.conversations.problem

    @property
    def catalog(self) -> Catalog:
        return self.need_agent().retriever.catalog

    def need_agent(self) -> Agent:
        if self.agent is None:
            raise Unavailable(f"the assistant is not ready: {self.problem}")
        return self.agent

    def start(self) -> bool:
        """Open the index and warm the embedder; False (and `problem` set) when it cannot."""
        try:
            agent, index = open_agent(self.settings)
            agent.retriever.embedder.embed(["warm up"])
        except Exception as exc:  # the service runs degraded; /readyz says why
            self.conversations.problem = f"{type(exc).__name__}: {exc}"
            log.error("cannot open the index: %s", exc)
            return False
        self.use(agent, index)
        return True

    def warm_up(self) -> None:
        """Load the embedder's model now rather than on the first customer's message."""
        if self.agent is not None:
            self.agent.retriever.embedder.embed(["warm up"])

    def start_webhooks(self) -> None:
        """Deliver handoffs to `webhook_url` from a background thread, when one is set."""
        if not self.settings.webhook_url or self._outbox is not None:
            return
        if not self.settings.webhook_secret:
            raise ConfigError("COPILOT_WEBHOOK_URL needs COPILOT_WEBHOOK_SECRET to sign with")
        from copilot.record.outbox import OutboxWorker

        self._outbox = OutboxWorker(self.engine, self.settings.webhook_secret)
        self._outbox.start()

    def stop_webhooks(self) -> None:
        if self._outbox is not None:
            self._outbox.stop()
            self._outbox = None

    def use(self, agent: Agent, index: OpenIndex | None) -> None:
        """Swap in an opened agent; requests already running keep the old one."""
        old, self.index = self.index, index
        self.conversations.agent, self.conversations.problem = agent, ""
        if old is not None:
            old.close()

    def reindex(self) -> IndexReport:
        """Index the KB again and swap the agent over; requests keep the old one until then."""
        if not self._reindexing.acquire(blocking=False):
            raise Conflict("a reindex is already running")
        try:
            embedder = self.agent.retriever.embedder if self.agent else None
            embedder = embedder or load_embedder(self.settings)
            report = build_index(self.settings, embedder)
            if not report.wrote and self.agent is not None:
                return report  # the index in use is current: nothing to swap
            # A new index: calibrated again (the labels certify again), then swapped in.
            calibrate(self.settings, embedder=embedder, force=False)
            self.use(*open_agent(self.settings, embedder=embedder))
            return report
        finally:
            self._reindexing.release()

    def draft(
        self,
        ticket: str,
        history: list[Turn],
        context: CustomerContext | None,
        stored_ticket: dict[str, Any],
        name: str = "",
        agent_name: str = "",
    ) -> tuple[str, Draft]:
        """A draft reply for an agent, stored (redacted) with its ticket: (draft id, draft).
        `name` greets the customer; `agent_name` signs it."""
        agent = self.need_agent()
        try:
            draft = draft_reply(agent, ticket, history, context, name, agent_name)
        except Exception as exc:  # e.g. the vector store went away: the agent can retry
            log.exception("drafting failed")
            raise Unavailable(f"the assistant could not draft: {type(exc).__name__}") from exc
        return drafts.store(self.engine, stored_ticket, draft), draft

    def report(self, since: date | None = None, until: date | None = None) -> dict[str, Any]:
        """`copilot report` as a dict: the metrics from stored conversations, and the articles
        the index left out (a report on the KB that hid them would mislead)."""
        from copilot.record.report import report

        with db.unavailable_when_down():
            result = report(self.engine, since, until)
            result["proactive"] = self._proactive_report(since, until)
        result["skipped_articles"] = self.skipped()
        return result

    def queue_figures(self) -> dict[str, Any]:
        """The queue's figures over every live handoff (Prometheus reads them at scrape time)."""
        from datetime import timedelta

        from copilot.record.report_queue import queue_figures

        with db.unavailable_when_down():
            return queue_figures(self.engine, None, db.now() + timedelta(days=1))

    def label(
        self, conversation_id: str, turn_id: int | None, article_id: str | None, agent: str
    ) -> Label:
        """An agent's one-click verdict: `article_id` answers the question behind the reply, or
        (None) it is not in the KB. Stored for calibration (`copilot calibrate`)."""
        if article_id is not None and article_id not in self.catalog:
            raise NotFound(f"article_id: no article {article_id!r} in the KB")
        return self.conversations.label(conversation_id, turn_id, article_id, agent)

    def widget_config(self) -> dict[str, Any]:
        """The widget's greeting, AI disclosure and three suggested questions: from settings,
        else the most-asked questions that got answers, else the top articles' titles."""
        from copilot.record.picks import most_asked

        questions = list(self.settings.widget_suggested_questions)[:3]
        if len(questions) < 3:
            with db.unavailable_when_down(), self.engine.connect() as conn:
                questions += [q for q in most_asked(conn, 3) if q not in questions]
        if len(questions) < 3 and self.agent is not None:
            catalog = self.agent.retriever.catalog
            titles = [e.title for e in catalog if catalog.visible(e.id, "customer") and e.title]
            questions += [t for t in titles if t not in questions]
        return {
            "greeting": self.settings.widget_greeting,
            "disclosure": self.settings.widget_disclosure,
            "suggested_questions": questions[:3],
        }

    def skipped(self) -> dict[str, str]:
        """The articles the current index left out, path -> why (from its manifest); empty when
        there is no index to ask (readiness says why elsewhere)."""
        if self.agent is not None:
            return dict(self.agent.retriever.index.manifest.skipped)
        try:
            store = open_store(self.settings.index_dir, self.settings.chroma_url)
        except Exception:  # e.g. a Chroma server that cannot be reached
            return {}
        try:
            current = store.current()
            return dict(current.manifest.skipped) if current and current.manifest else {}
        except Exception:
            return {}
        finally:
            store.close()

    def gaps(self, since: date | None = None) -> list[Gap]:
        """Questions the KB could not answer, clustered by meaning, biggest first."""
        from copilot.record.gaps import cluster, gap_questions

        with db.unavailable_when_down():
            questions = gap_questions(self.engine, since)
        return cluster(questions, self.need_agent().retriever.embedder)

    def lint(self, today: date | None = None) -> LintResult:
        """The KB linter over the configured KB folder."""
        from copilot.kb.lint import LintOptions, lint_paths

        options = LintOptions(
            today or date.today(),
            self.settings.review_every_days,
            link_hosts=tuple(self.settings.link_hosts),
        )
        return lint_paths([self.settings.kb_dir], options)

    # --- help before the ticket (docs/proactive.md) ----------------------------------------------
    def signals(self, batch: Batch) -> Outcome:
        """Store a batch of host-page signals and run the nudge rules: at most one nudge back.
        Signals are kept while the index is down; nudges wait for it."""
        with db.unavailable_when_down():
            return self.proactive.receive(batch, self.agent)

    def _proactive_report(self, since: date | None, until: date | None) -> dict[str, Any]:
        from datetime import UTC, datetime, timedelta

        from copilot.proactive.report import proactive_report

        start = datetime.combine(since, datetime.min.time(), UTC) if since else None
        last = until or db.now().date()
        end = datetime.combine(last, datetime.min.time(), UTC) + timedelta(days=1)
        return proactive_report(self.engine, start, end)

    def struggles(self, account: str, days: int) -> list[dict[str, Any]]:
        """What the nudge rules flagged (or nudged) for an account lately, for agents."""
        from datetime import timedelta

        from copilot.proactive.signals import struggles

        with db.unavailable_when_down():
            return struggles(self.engine, account, db.now() - timedelta(days=days))

    def open_nudge(self, nudge_id: str, subject: str) -> dict[str, Any]:
        with db.unavailable_when_down():
            return self.proactive.open(nudge_id, subject, self.need_agent())

    def nudge_feedback(self, nudge_id: str, subject: str, kind: str) -> None:
        with db.unavailable_when_down():
            self.proactive.feedback(nudge_id, subject, kind)

    def dismiss_nudge(self, nudge_id: str, subject: str) -> None:
        with db.unavailable_when_down():
            self.proactive.dismiss(nudge_id, subject)

    def ping(self) -> None:
        """Raise `Unavailable` (naming the error) when the database does not answer."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any failure means not ready; the message says which
            raise Unavailable(f"database: {type(exc).__name__}") from exc

    def close(self) -> None:
        self.stop_webhooks()
        if self.index is not None:
            self.index.close()
            self.index = None
        if self._own_engine:
            self.engine.dispose()
