"""`copilot index`: embed the KB into the vector store, incrementally and crash-safely.

Content hashes decide what to embed: unchanged articles are carried over, changed ones replaced,
removed ones deleted. Only articles that cannot be used safely are left out (unparseable, no id
or title, hidden instructions, active HTML, an ambiguous id or audience), each named in the report
and the manifest; `strict` makes any lint error fatal. One writer at
a time (a lock file in the data folder); readers keep using the previous generation meanwhile.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from copilot.errors import ConfigError, EmbedderMismatch, IndexLocked, LintFailed
from copilot.index.chroma import open_store
from copilot.index.chunk import ChunkPolicy, chunk_article
from copilot.index.embed import Embedder
from copilot.index.store import ArticleEntry, Generation, IndexStore, Manifest
from copilot.kb.lint import RULES, Linter, LintOptions, lint_files
from copilot.kb.parse import article_files, load_files, load_releases, staleness
from copilot.settings import Settings
from copilot.types import Article, Chunk

Progress = Callable[[int, int], None]  # (chunks embedded so far, total)
EMBED_BATCH = 512


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # path -> why it was left out
    chunks_embedded: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    wrote: bool = False  # a new generation replaced the index (else it was already current)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def summary(self) -> str:
        left_out = f", {len(self.skipped)} left out (unsafe)" if self.skipped else ""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{self.unchanged} unchanged{left_out} ({self.chunks_embedded} chunks embedded) "
            f"in {self.seconds:.1f}s"
        )


@contextmanager
def writer_lock(data_dir: Path, timeout: float = 2.0) -> Iterator[None]:
    """One writer per data folder; a second one fails in seconds, naming the lock and its holder."""
    from filelock import FileLock, Timeout

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "index.lock"
    holder = data_dir / "index.lock.pid"
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        pid = holder.read_text().strip() if holder.exists() else "unknown"
        raise IndexLocked(
            f"another `copilot index` (pid {pid}) is writing this index and holds {path}: "
            "wait for it to finish"
        ) from None
    try:
        holder.write_text(str(os.getpid()))
        yield
    finally:
        lock.release()


@dataclass(frozen=True)
class KBSnapshot:
    """The articles fit to index (with their content key), and the ones lint rejected."""

    articles: dict[str, tuple[Article, str, bool]]  # id -> (article, key, stale)
    skipped: dict[str, str]  # path -> why it was left out
    errors: dict[str, str]  # path -> its first lint error (indexed or not; for --strict)


def snapshot(
    kb_dir: Path,
    today: date,
    default_days: int,
    chunker: str,
    lint: Linter = lint_files,
    link_hosts: Sequence[str] = (),
) -> KBSnapshot:
    """Every article in the KB folder that can be used safely. Lint errors for the docs owner
    (a missing section, a broken link) do not keep an article out; only what makes it unsafe or
    unusable does (rules with `blocks_index`, no id or title), and each one is named."""
    if not kb_dir.is_dir():
        raise ConfigError(f"KB folder {kb_dir} does not exist: set COPILOT_KB_DIR or pass --kb")
    files = load_files(article_files(kb_dir))
    releases, _ = load_releases(kb_dir)
    options = LintOptions(
        today=today, default_review_days=default_days, link_hosts=tuple(link_hosts)
    )
    skipped: dict[str, str] = {}
    errors: dict[str, str] = {}
    for finding in lint(files, releases, options):
        where = f"{finding.path}:{finding.line}: {finding.code} {finding.message}"
        if finding.severity == "error":
            errors.setdefault(finding.path, where)
        if RULES[finding.code].blocks_index:
            skipped.setdefault(finding.path, where)
    articles: dict[str, tuple[Article, str, bool]] = {}
    for f in files:
        where = str(f.path)
        if where in skipped:
            continue
        if f.article is None or not f.article.id or not f.article.title:
            first = f.findings[0] if f.findings else None
            why = f"{first.code} {first.message}" if first else "KB002 no id or title"
            skipped[where] = f"{where}:{first.line if first else 1}: {why}"
            continue
        stale = staleness(f.article, today, releases, default_days).stale
        key = hashlib.sha256(f"{f.hash}|{stale}|{chunker}".encode()).hexdigest()[:32]
        articles[f.article.id] = (f.article, key, stale)
    return KBSnapshot(articles, dict(sorted(skipped.items())), errors)


def build_index(
    settings: Settings,
    embedder: Embedder,
    *,
    full: bool = False,
    strict: bool = False,
    today: date | None = None,
    policy: ChunkPolicy | None = None,
    progress: Progress | None = None,
    lint: Linter = lint_files,
) -> IndexReport:
    started = time.perf_counter()
    policy = policy or ChunkPolicy()
    days = settings.review_every_days
    snap = snapshot(
        settings.kb_dir, today or date.today(), days, policy.key, lint, settings.link_hosts
    )
    if strict and snap.errors:
        raise LintFailed(
            f"{len(snap.errors)} article(s) have lint errors (--strict): "
            + "; ".join(list(snap.errors.values())[:3])
        )
    report = IndexReport(skipped=snap.skipped)
    with writer_lock(settings.data_dir):
        store = open_store(settings.index_dir, settings.chroma_url)
        try:
            _update(store, snap, report, embedder, full, policy, progress)
        finally:
            store.close()
    report.seconds = time.perf_counter() - started
    return report


def _update(
    store: IndexStore,
    snap: KBSnapshot,
    report: IndexReport,
    embedder: Embedder,
    full: bool,
    policy: ChunkPolicy,
    progress: Progress | None,
) -> None:
    """Plan against the current generation, then write a new one if anything changed."""
    current = store.current()
    old = current.manifest if current and not full else None
    if old is not None and old.embedder != embedder.name:
        raise EmbedderMismatch(
            f'the index was built with embedder "{old.embedder}" but settings name '
            f'"{embedder.name}": run `copilot index --full` to rebuild it'
        )
    old_articles = old.articles if old else {}
    report.removed = sorted(set(old_articles) - set(snap.articles))
    for article_id, (_, key, _) in sorted(snap.articles.items()):
        if article_id not in old_articles:
            report.added.append(article_id)
        elif old_articles[article_id].key != key:
            report.updated.append(article_id)
        else:
            report.unchanged += 1
    if old is not None and not report.changed and old.skipped == snap.skipped:
        return  # nothing to write (a change in what lint skipped is a change too)
    base = current if old is not None else None
    # One writer thread does all the store work, in order: open the draft (a folder copy and the
    # chromadb/llama-index imports, ~3 s) and then add each batch, while this thread chunks and
    # embeds. Measured: that hides the store's fixed cost behind the first batches' encoding.
    # An empty batch loads the encoder's libraries (numpy, torch) before the writer imports the
    # store's: two threads importing one package at once can meet its circular imports
    # half-initialised (an ImportError from numpy seen in CI).
    embedder.embed([])

    with ThreadPoolExecutor(max_workers=1) as writer:
        opened = writer.submit(_open_draft, store, base, report.removed + report.updated)
        try:
            manifest = _embed_and_add(writer, opened, snap, report, old, embedder, policy, progress)
            draft = opened.result()[0]
        except BaseException:
            if opened.done() and opened.exception() is None:
                store.discard(opened.result()[0])
            raise
    try:
        store.commit(draft, manifest)
        report.wrote = True
    except BaseException:
        store.discard(draft)
        raise


def _open_draft(
    store: IndexStore, base: Generation | None, stale_articles: list[str]
) -> tuple[Generation, Any]:
    from llama_index.vector_stores.chroma import ChromaVectorStore

    draft = store.begin(base)
    vectors = ChromaVectorStore(chroma_collection=draft.collection)
    for article_id in stale_articles:  # removed or changed: their old chunks go first
        vectors.delete(ref_doc_id=article_id)
    return draft, vectors


def _embed_and_add(
    writer: ThreadPoolExecutor,
    opened: Future[tuple[Generation, Any]],
    snap: KBSnapshot,
    report: IndexReport,
    old: Manifest | None,
    embedder: Embedder,
    policy: ChunkPolicy,
    progress: Progress | None,
) -> Manifest:
    chunks: list[Chunk] = []
    for article_id in report.added + report.updated:
        article, key, stale = snap.articles[article_id]
        chunks.extend(
            chunk_article(
                article,
                stale=stale,
                content_hash=key,
                policy=policy,
                count_tokens=embedder.count_tokens,
            )
        )
    # Similar lengths in a batch pad less: sentence-transformers sorts within one encode() call,
    # so without this each batch of 512 would pad to its longest chunk.
    chunks.sort(key=lambda c: len(c.text))
    dim = old.dim if old else 0
    pending: list[Future[Any]] = []
    for start in range(0, len(chunks), EMBED_BATCH):
        part = chunks[start : start + EMBED_BATCH]
        t0 = time.perf_counter()
        vectors = embedder.embed([c.text for c in part])
        report.embed_seconds += time.perf_counter() - t0
        dim = len(vectors[0])
        pending.append(writer.submit(_add, opened, part, vectors))
        if len(pending) > 1:
            pending.pop(0).result()  # at most one batch waits to be stored: bounded memory
        report.chunks_embedded += len(part)
        if progress:
            progress(report.chunks_embedded, len(chunks))
    for p in pending:
        p.result()
    opened.result()  # surfaces a failure to open the draft even when nothing was embedded

    counts: dict[str, int] = {}
    for c in chunks:
        counts[c.article_id] = counts.get(c.article_id, 0) + 1
    manifest = Manifest(
        embedder=embedder.name,
        dim=dim,
        chunker=policy.key,
        built_at=time.time(),
        skipped=dict(snap.skipped),
    )
    for article_id, (article, key, _) in snap.articles.items():
        if article_id in counts:
            entry = ArticleEntry(
                key, counts[article_id], str(article.path), article.title, article.audience
            )
        else:
            assert old is not None
            entry = old.articles[article_id]
        manifest.articles[article_id] = entry
    return manifest


def _add(
    opened: Future[tuple[Generation, Any]], chunks: Sequence[Chunk], vectors: list[list[float]]
) -> None:
    # Nodes are built here, in the writer thread, so llama-index is imported by one thread only:
    # two threads importing it at once can hit its circular imports half-initialised (seen with
    # the fast ONNX encoder, which reaches this point before the draft has opened).
    opened.result()[1].add(_nodes(chunks, vectors))


def _nodes(chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> list[Any]:
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    nodes = []
    for chunk, vector in zip(chunks, vectors, strict=True):
        node = TextNode(
            id_=chunk.id,
            text=chunk.text,
            embedding=list(vector),
            metadata={
                "article_id": chunk.article_id,
                "title": chunk.title,
                "section": chunk.section,
                "audience": chunk.audience,
                "product_area": chunk.product_area,
                "owner": chunk.owner,
                "last_reviewed": chunk.last_reviewed,
                "stale": chunk.stale,
                "content_hash": chunk.content_hash,
            },
        )
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=chunk.article_id)
        nodes.append(node)
    return nodes
