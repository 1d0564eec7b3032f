"""Retrieval evidence of the five labelled KBs, ranked once by the product's `Retriever` and
cached, for the leave-one-dataset-out benchmarks (bench/lodo_study.py, bench/label_curve.py,
bench/fit_shipped_model.py).

Per KB the cache keeps, from `Retriever.rank` and the probe builders of
`copilot/answer/calibrate.py`:
- every eval question as the agent asks it (`standalone_query`, audience customer): its signals,
  top article, and whether the agent hands off whatever the confidence (asks for a person, or
  said twice that answers did not help);
- the left-out probes (`left_out_probes`) and the threshold probes (`probes`), as calibration
  asks them (audience internal, the probe's article excluded when left out).

The indexes are the product's, one data folder per set ($LODO_DATA_ROOT/st-<set>, default /tmp):

  S=../shared/eval; export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
  .venv/bin/python -m copilot.cli index --no-calibrate --kb $S/stackfaq/kb \\
      --data-dir /tmp/st-stackfaq       # likewise mtrag-govt, mtrag-fiqa, mtrag-clapnq
  .venv/bin/python -m copilot.cli index --no-calibrate --kb kb_articles --data-dir /tmp/st-flowbench
  .venv/bin/python -m bench.lodo_data [SET...]   # fills $LODO_CACHE (default /tmp/lodo-cache-main)

A cache is rebuilt when its index generation changes. Nothing here needs ../shared at import.
"""

from __future__ import annotations

import os
import pickle
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from copilot.answer.agent import UNHELPFUL_LIMIT, WANTS_HUMAN, unhelpful_streak
from copilot.answer.calibrate import Probe, left_out_probes, probes
from copilot.answer.confidence import SIGNALS
from copilot.answer.retrieve import Retriever, standalone_query
from copilot.evals.dataset import load_dataset
from copilot.types import Question, Turn

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "eval"
SETS = {
    "stackfaq": (SHARED / "stackfaq" / "kb", SHARED / "stackfaq" / "questions.jsonl"),
    "mtrag-govt": (SHARED / "mtrag-govt" / "kb", SHARED / "mtrag-govt" / "questions.jsonl"),
    "mtrag-fiqa": (SHARED / "mtrag-fiqa" / "kb", SHARED / "mtrag-fiqa" / "questions.jsonl"),
    "mtrag-clapnq": (SHARED / "mtrag-clapnq" / "kb", SHARED / "mtrag-clapnq" / "questions.jsonl"),
    "flowbench": (ROOT / "kb_articles", ROOT / "eval" / "flowbench" / "questions.jsonl"),
}
DATA_ROOT = Path(os.environ.get("LODO_DATA_ROOT", "/tmp"))
CACHE = Path(os.environ.get("LODO_CACHE", "/tmp/lodo-cache-main"))
CACHE_VERSION = 1  # bump when what is cached changes


def missing() -> str | None:
    """Why the benchmarks cannot run here (None when they can)."""
    if not SHARED.is_dir():
        return f"skipped: {SHARED} is absent (the labelled eval sets live there)"
    for name, (kb, questions) in SETS.items():
        for path in (kb, questions):
            if not path.exists():
                return f"skipped: {path} ({name}) is absent"
    return None


def skip_if_missing() -> None:
    """Print why and exit 0 when the eval sets are not here."""
    why = missing()
    if why:
        print(why)
        sys.exit(0)


def data_dir(name: str) -> Path:
    return DATA_ROOT / f"st-{name}"


@contextmanager
def opened(name: str) -> Iterator[Retriever]:
    """The product's Retriever over the set's current index generation."""
    from copilot.errors import IndexMissing
    from copilot.index.chroma import open_current
    from copilot.index.embed import load_embedder
    from copilot.settings import load_settings

    kb, _ = SETS[name]
    settings = load_settings(kb_dir=kb, data_dir=data_dir(name))
    try:
        index = open_current(settings.index_dir, None)
    except IndexMissing:
        sys.exit(
            f"no index for {name} at {settings.index_dir}: run `.venv/bin/python -m copilot.cli "
            f"index --no-calibrate --kb {kb} --data-dir {data_dir(name)}` (bench/lodo_data.py)"
        )
    try:
        embedder = load_embedder(settings)
        if index.manifest.embedder != embedder.name:
            sys.exit(f"{name}: index embedder {index.manifest.embedder} != {embedder.name}")
        yield Retriever(index, embedder)
    finally:
        index.close()


@dataclass
class KbData:
    """One KB's cached evidence. Rows of `x` follow SIGNALS."""

    name: str
    built_at: float
    articles: int
    questions: list[Question]
    q_x: np.ndarray  # (questions, SIGNALS); zeros when nothing was retrieved
    q_has: np.ndarray  # retrieved anything
    q_top: list[str | None]
    q_forced: np.ndarray  # the agent hands off whatever the confidence
    lo_x: np.ndarray  # left-out probes that retrieved anything
    thr_x: np.ndarray  # threshold probes that retrieved anything
    thr_right: np.ndarray  # kept in and ranked first
    seconds: float  # to rank everything

    @property
    def q_right(self) -> np.ndarray:
        """Per question: the top article is an expected one (an answer would be right)."""
        return np.array(
            [q.answerable and top in q.expected for q, top in zip(self.questions, self.q_top)]
        )

    @property
    def answerable(self) -> np.ndarray:
        return np.array([q.answerable for q in self.questions])


def _row(signals: dict[str, float]) -> list[float]:
    return [signals[s] for s in SIGNALS]


def asked(retriever: Retriever, batch: Sequence[Probe]) -> tuple[np.ndarray, np.ndarray]:
    """(signals, right) per probe that retrieved anything, as calibration asks them."""
    rows, right = [], []
    for p in batch:
        exclude = frozenset({p.article_id}) if p.left_out else frozenset()
        ranking = retriever.rank(p.query, "internal", exclude=exclude)
        if ranking.hits:
            rows.append(_row(ranking.signals))
            right.append(not p.left_out and ranking.hits[0].article_id == p.article_id)
    return np.array(rows, dtype=float).reshape(-1, len(SIGNALS)), np.array(right, dtype=bool)


def build(name: str, retriever: Retriever) -> KbData:
    start = time.perf_counter()
    questions = load_dataset(SETS[name][1])
    q_x, q_has, q_top, forced = [], [], [], []
    for q in questions:
        ranking = retriever.rank(standalone_query(q.question, q.history), "customer")
        q_x.append(_row(ranking.signals))
        q_has.append(bool(ranking.hits))
        q_top.append(ranking.hits[0].article_id if ranking.hits else None)
        history = [Turn("assistant" if r == "assistant" else "user", c) for r, c in q.history]
        transcript = (*history, Turn("user", q.question))
        forced.append(
            bool(WANTS_HUMAN.search(q.question)) or unhelpful_streak(transcript) >= UNHELPFUL_LIMIT
        )
    lo_x, _ = asked(retriever, left_out_probes(retriever.catalog))
    thr_x, thr_right = asked(retriever, probes(retriever.catalog))
    return KbData(
        name=name,
        built_at=retriever.index.manifest.built_at,
        articles=len(retriever.catalog),
        questions=questions,
        q_x=np.array(q_x, dtype=float),
        q_has=np.array(q_has),
        q_top=q_top,
        q_forced=np.array(forced),
        lo_x=lo_x,
        thr_x=thr_x,
        thr_right=thr_right,
        seconds=time.perf_counter() - start,
    )


def _current_built_at(name: str) -> float | None:
    from copilot.index.chroma import open_store

    generation = open_store(data_dir(name) / "index", None).current()
    return generation.manifest.built_at if generation and generation.manifest else None


@cache
def load(name: str) -> KbData:
    """The set's evidence, from the cache when it matches the current index generation."""
    path = CACHE / f"{name}.pkl"
    built = _current_built_at(name)
    if path.is_file():
        with path.open("rb") as fh:
            version, fields = pickle.load(fh)
        if version == CACHE_VERSION and fields["built_at"] == built:
            return KbData(**fields)
    with opened(name) as retriever:
        data = build(name, retriever)
    CACHE.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:  # plain fields: readable whichever module pickled them
        pickle.dump((CACHE_VERSION, vars(data)), fh)
    print(f"cached {name}: {len(data.questions)} questions, {len(data.lo_x)} left-out and "
          f"{len(data.thr_x)} threshold probes ranked in {data.seconds:.1f}s -> {path}")
    return data


def main() -> None:
    skip_if_missing()
    for name in sys.argv[1:] or list(SETS):
        load(name)


if __name__ == "__main__":
    main()
