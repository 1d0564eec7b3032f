"""Retrieval of the five labelled KBs, ranked once by the product's `Retriever` and cached, for
the leave-one-dataset-out benchmarks (bench/lodo_study.py, bench/label_curve.py,
bench/fit_shipped_model.py).

Per KB the cache keeps the catalogue and every `Retriever.rank` result the benchmarks ask for:
- each eval question as the agent asks it (`standalone_query`, audience customer), and whether
  the agent hands it off whatever the confidence (asks for a person, or said twice in a row that
  answers did not help);
- the left-out probes and threshold probes of `copilot/answer/calibrate.py`, as `calibrate()`
  asks them (audience internal, the probe's article excluded when left out).
`Cached` serves them through the retriever API that `calibrate()` and `certify_labels()` use
(`.catalog`, `.rank`), so those product functions run unchanged and cost no embedding; `check()`
compares the cache with the live Retriever on a sample.

The indexes are the product's, one data folder per set ($LODO_DATA_ROOT/st-<set>, default /tmp):

  S=../shared/eval; export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
  .venv/bin/python -m copilot.cli index --no-calibrate --kb $S/stackfaq/kb \\
      --data-dir /tmp/st-stackfaq       # likewise mtrag-govt, mtrag-fiqa, mtrag-clapnq
  .venv/bin/python -m copilot.cli index --no-calibrate --kb kb_articles --data-dir /tmp/st-flowbench
  .venv/bin/python -m bench.lodo_data [SET...]   # fills $LODO_CACHE (default /tmp/lodo-cache-main)

Writes only the cache (one pickle per set, rebuilt when the set's index generation, the retrieval
code or the probes change) and prints the live check. Without ../shared/eval it prints why and
exits 0.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import random
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal, cast

import numpy as np

from copilot.answer.agent import UNHELPFUL_LIMIT, WANTS_HUMAN, unhelpful_streak
from copilot.answer.calibrate import Probe, left_out_probes, probes
from copilot.answer.catalog import Catalog
from copilot.answer.confidence import SIGNALS
from copilot.answer.retrieve import Ranking, Retriever, standalone_query
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
CACHE_VERSION = 3  # bump when what is cached changes
Key = tuple[str, str, frozenset[str], str | None]  # (query, audience, excluded, alone)


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


class Cached:
    """The retriever API `calibrate()` and `certify_labels()` use, served from cached rankings
    of the product's Retriever (a query never ranked raises KeyError)."""

    def __init__(self, catalog: Catalog, rankings: dict[Key, Ranking]) -> None:
        self.catalog, self.rankings = catalog, rankings

    def rank(
        self,
        query: str,
        audience: Literal["customer", "internal"] = "customer",
        k: int = 5,
        exclude: frozenset[str] = frozenset(),
        prefer_area: str | None = None,
        alone: str | None = None,
    ) -> Ranking:
        assert k == 5 and prefer_area is None, "only the default ranking is cached"
        return self.rankings[(query, audience, exclude, alone)]


def _row(signals: dict[str, float]) -> list[float]:
    return [signals[s] for s in SIGNALS]


def asked(retriever: Retriever, batch: Sequence[Probe]) -> tuple[np.ndarray, np.ndarray]:
    """(signals, right) per probe that retrieved anything, as `calibrate()` asks them."""
    rows, right = [], []
    for p in batch:
        exclude = frozenset({p.article_id}) if p.left_out else frozenset()
        ranking = retriever.rank(p.query, "internal", exclude=exclude)
        if ranking.hits:
            rows.append(_row(ranking.signals))
            right.append(not p.left_out and ranking.hits[0].article_id == p.article_id)
    return np.array(rows, dtype=float).reshape(-1, len(SIGNALS)), np.array(right, dtype=bool)


def question_key(query: str, question: Question) -> Key:
    """A question as the agent (and `certify_labels`) ranks it: the standalone query, mixed with
    the question asked alone."""
    return (query, "customer", frozenset(), question.question)


def _keys(catalog: Catalog, questions: Sequence[Question], queries: Sequence[str]) -> list[Key]:
    keys = [question_key(q, question) for q, question in zip(queries, questions, strict=True)]
    for p in [*probes(catalog), *left_out_probes(catalog)]:
        excluded = frozenset({p.article_id}) if p.left_out else frozenset()
        keys.append((p.query, "internal", excluded, None))
    return list(dict.fromkeys(keys))


@dataclass
class KbData:
    """One KB's cached retrieval, and the arrays the benchmarks read (rows follow SIGNALS)."""

    name: str
    built_at: float
    catalog: Catalog
    questions: list[Question]
    queries: list[str]  # as the agent asks each question
    forced: np.ndarray  # per question: the agent hands off whatever the confidence
    rankings: dict[Key, Ranking]
    seconds: float  # to rank everything live
    q_x: np.ndarray = field(init=False)  # questions' signals (zeros when nothing retrieved)
    q_has: np.ndarray = field(init=False)
    q_right: np.ndarray = field(init=False)  # answerable and the top article is expected
    lo_x: np.ndarray = field(init=False)  # left-out probes that retrieved anything
    thr_x: np.ndarray = field(init=False)  # threshold probes that retrieved anything
    thr_right: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        ranked = [
            self.rankings[question_key(q, question)]
            for q, question in zip(self.queries, self.questions, strict=True)
        ]
        self.q_x = np.array([_row(r.signals) for r in ranked], dtype=float)
        self.q_has = np.array([bool(r.hits) for r in ranked])
        self.q_right = np.array(
            [
                q.answerable and bool(r.hits) and r.hits[0].article_id in q.expected
                for q, r in zip(self.questions, ranked, strict=True)
            ]
        )
        self.lo_x, _ = asked(self.retriever, left_out_probes(self.catalog))
        self.thr_x, self.thr_right = asked(self.retriever, probes(self.catalog))

    @property
    def retriever(self) -> Retriever:
        """The cached rankings behind the Retriever API (for calibrate / certify_labels)."""
        return cast(Retriever, Cached(self.catalog, self.rankings))

    @property
    def answerable(self) -> np.ndarray:
        return np.array([q.answerable for q in self.questions])


def build(name: str, retriever: Retriever) -> KbData:
    start = time.perf_counter()
    questions = load_dataset(SETS[name][1])
    queries = [standalone_query(q.question, q.history) for q in questions]
    forced = []
    for q in questions:
        history = [Turn("assistant" if r == "assistant" else "user", c) for r, c in q.history]
        transcript = (*history, Turn("user", q.question))
        forced.append(
            bool(WANTS_HUMAN.search(q.question)) or unhelpful_streak(transcript) >= UNHELPFUL_LIMIT
        )
    rankings = {key: _rank(retriever, key) for key in _keys(retriever.catalog, questions, queries)}
    return KbData(
        name,
        retriever.index.manifest.built_at,
        retriever.catalog,
        questions,
        queries,
        np.array(forced),
        rankings,
        time.perf_counter() - start,
    )


def _rank(retriever: Retriever, key: Key) -> Ranking:
    query, audience, exclude, alone = key
    return retriever.rank(
        query, cast(Literal["customer", "internal"], audience), exclude=exclude, alone=alone
    )


def fingerprint() -> str:
    """Of the code the rankings come from (retrieve.py and confidence.py): a change re-ranks.
    A change to the probes is caught by `load`, which finds their rankings missing."""
    import copilot.answer.confidence as confidence_module
    import copilot.answer.retrieve as retrieve_module

    text = "".join(Path(str(m.__file__)).read_text() for m in (retrieve_module, confidence_module))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _current_built_at(name: str) -> float | None:
    from copilot.index.chroma import open_store

    generation = open_store(data_dir(name) / "index", None).current()
    return generation.manifest.built_at if generation and generation.manifest else None


INIT_FIELDS = ("name", "built_at", "catalog", "questions", "queries", "forced", "rankings")


@cache
def load(name: str) -> KbData:
    """The set's retrieval, from the cache when it matches the current index generation."""
    path = CACHE / f"{name}.pkl"
    built = _current_built_at(name)
    if path.is_file():
        with path.open("rb") as fh:
            version, fields = pickle.load(fh)
        fresh = version == CACHE_VERSION and fields.pop("code", None) == fingerprint()
        if fresh and fields["built_at"] == built:
            needed = _keys(fields["catalog"], fields["questions"], fields["queries"])
            if all(k in fields["rankings"] for k in needed):
                return KbData(**fields)
    with opened(name) as retriever:
        data = build(name, retriever)
    CACHE.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:  # plain fields: readable whichever module pickled them
        fields = {k: getattr(data, k) for k in (*INIT_FIELDS, "seconds")}
        pickle.dump((CACHE_VERSION, {**fields, "code": fingerprint()}), fh)
    print(
        f"cached {name}: {len(data.questions)} questions, {len(data.lo_x)} left-out and "
        f"{len(data.thr_x)} threshold probes ({len(data.rankings)} rankings) in "
        f"{data.seconds:.1f}s -> {path}"
    )
    return data


def check(name: str, sample: int = 60) -> tuple[int, float]:
    """(ranking mismatches, largest signal difference) between the cache and the live
    Retriever on `sample` random cached rankings: half follow-ups (a question with history, the
    only ones the alone-mix changes) when there are that many, the rest anything."""
    data = load(name)
    rng = random.Random(0)
    followups = sorted((k for k in data.rankings if k[3] is not None and k[3] != k[0]), key=str)
    keys = rng.sample(followups, min(sample // 2, len(followups)))
    rest = sorted((k for k in data.rankings if k not in set(keys)), key=str)
    keys += rng.sample(rest, min(sample - len(keys), len(rest)))
    mismatched, worst = 0, 0.0
    with opened(name) as retriever:
        for key in keys:
            live, cached = _rank(retriever, key), data.rankings[key]
            mismatched += [h.article_id for h in live.hits] != [h.article_id for h in cached.hits]
            diff = np.abs(np.array(_row(live.signals)) - np.array(_row(cached.signals)))
            worst = max(worst, float(diff.max()))
    print(
        f"{name}: cache vs live Retriever on {len(keys)} queries: {mismatched} ranking "
        f"mismatches, max signal difference {worst:.1e}"
    )
    return mismatched, worst


def main() -> None:
    skip_if_missing()
    for name in sys.argv[1:] or list(SETS):
        load(name)
        check(name)


if __name__ == "__main__":
    main()
