"""What an index is, whatever holds it: the manifest of a build, the chunks as stored, and the
two protocols a vector-store backend implements (`VectorIndex` to read, `IndexStore` to write
generations). Chroma, embedded or as a server, is the default backend (copilot/index/chroma.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np


@dataclass
class ArticleEntry:
    key: str  # content hash + staleness + chunker: a different key means re-embed
    chunks: int
    path: str
    title: str
    audience: str


@dataclass
class Manifest:
    embedder: str
    dim: int
    chunker: str
    articles: dict[str, ArticleEntry] = field(default_factory=dict)
    built_at: float = 0.0
    # Articles in the KB folder left out of this build: path -> "path:line: CODE message".
    # Every place that reports on the KB shows them (nothing is dropped silently).
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def chunk_count(self) -> int:
        return sum(e.chunks for e in self.articles.values())

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        raw = json.loads(text)
        raw["articles"] = {k: ArticleEntry(**v) for k, v in raw["articles"].items()}
        return cls(**raw)


@dataclass
class Generation:
    """One complete (or, while being written, draft) version of the index."""

    name: str
    manifest: Manifest | None
    collection: Any  # a chromadb Collection
    path: Path | None = None  # the folder, for embedded Chroma
    client: Any = None  # closed before the folder is verified or swapped in


@dataclass(frozen=True)
class StoredChunk:
    """One chunk as stored: the text embedded (title line, then the body) and its metadata."""

    id: str
    text: str
    meta: dict[str, Any]

    @property
    def body(self) -> str:
        """The chunk without the title line every chunk carries for the embedder."""
        return self.text.split("\n", 1)[1] if "\n" in self.text else self.text


@dataclass(frozen=True)
class ChunkTable:
    """Every chunk of a generation, with their vectors when asked for (row i is chunk i)."""

    chunks: list[StoredChunk]
    vectors: np.ndarray | None


class VectorIndex(Protocol):
    """The read side of a vector store: what retrieval needs. Chroma (embedded or server) is
    `OpenIndex` below; another backend (pgvector, Qdrant, OpenSearch) implements these
    (docs/architecture.md)."""

    manifest: Manifest

    def table(self, *, vectors: bool) -> ChunkTable: ...

    def nearest(
        self, vector: Sequence[float], n: int, *, customer_only: bool
    ) -> list[tuple[StoredChunk, float]]:
        """The `n` chunks closest to `vector`, with their cosine similarity, best first."""
        ...

    def close(self) -> None: ...


class IndexStore(Protocol):
    def current(self) -> Generation | None: ...

    def open(self, generation: Generation) -> VectorIndex: ...

    def begin(self, base: Generation | None) -> Generation: ...

    def commit(self, draft: Generation, manifest: Manifest) -> None: ...

    def discard(self, draft: Generation) -> None: ...

    def close(self) -> None: ...


def write_atomic(path: Path, text: str) -> None:
    """Replace a file so readers see the old or the new content, never half of it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
