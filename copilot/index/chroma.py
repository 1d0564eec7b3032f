"""Chroma behind the index protocols: where the index lives, and how a new version of it replaces
the old one without a reader ever seeing half of it.

Embedded Chroma (default): each build is a *generation*, a fresh folder under `<data>/index/`. The
writer copies the current generation, applies its changes there, opens the result in a child
process (chromadb can segfault on a half-written folder, so never in the writer's own process),
and only then replaces the `CURRENT` pointer file atomically. A writer killed at any moment leaves
`CURRENT` naming the last good generation.

Chroma server (`COPILOT_CHROMA_URL`): each generation is a collection; the pointer and the
manifest are one record in a small `copilot-meta` collection, replaced in one upsert.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from copilot.errors import ConfigError, IndexMissing, IndexProblem
from copilot.index.store import (
    ChunkTable,
    Generation,
    Manifest,
    StoredChunk,
    write_atomic,
)

COLLECTION = "copilot-chunks"
META_COLLECTION = "copilot-meta"
POINTER = "CURRENT"
COMPLETE = "COMPLETE"
MANIFEST = "manifest.json"


@dataclass
class OpenIndex:
    """The current Chroma generation, opened for reading. Close it (or use `with`) when done."""

    manifest: Manifest
    collection: Any  # a chromadb Collection: only this class and the writer touch it
    client: Any

    def table(self, *, vectors: bool) -> ChunkTable:
        include = ["documents", "metadatas"] + (["embeddings"] if vectors else [])
        got = self.collection.get(include=include)
        chunks = [
            StoredChunk(i, d, dict(m))
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]
        if not vectors:
            return ChunkTable(chunks, None)
        rows = got["embeddings"] if chunks else []
        import numpy as np  # here, not at import: `copilot index` loads it with the encoder first

        return ChunkTable(chunks, np.asarray(rows, dtype=np.float32).reshape(len(chunks), -1))

    def nearest(
        self, vector: Sequence[float], n: int, *, customer_only: bool
    ) -> list[tuple[StoredChunk, float]]:
        res = self.collection.query(
            query_embeddings=[list(vector)],
            n_results=max(min(n, self.manifest.chunk_count), 1),
            where={"audience": "customer"} if customer_only else None,
            include=["documents", "metadatas", "distances"],
        )
        return [
            (StoredChunk(i, d, dict(m)), 1.0 - float(dist))  # cosine space: distance = 1 - cos
            for i, d, m, dist in zip(
                res["ids"][0],
                res["documents"][0],
                res["metadatas"][0],
                res["distances"][0],
                strict=True,
            )
        ]

    def close(self) -> None:
        _close(self.client)

    def __enter__(self) -> OpenIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def chroma_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def _new_collection(client: Any, name: str) -> Any:
    # embedding_function=None: we always pass our own vectors (chromadb's default downloads a model)
    return client.get_or_create_collection(
        name, embedding_function=None, metadata={"hnsw:space": "cosine"}
    )


class LocalStore:
    """Generations as folders under `root`, with an atomically replaced pointer file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _pointer(self) -> str | None:
        try:
            return (self.root / POINTER).read_text().strip() or None
        except FileNotFoundError:
            return None

    def current(self) -> Generation | None:
        name = self._pointer()
        if name is None:
            return None
        path = self.root / name
        try:
            manifest = Manifest.from_json((path / MANIFEST).read_text())
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise IndexProblem(
                f"the index at {path} is unreadable ({exc}): run `copilot index --full`"
            ) from None
        return Generation(name, manifest, None, path)

    def open(self, generation: Generation) -> OpenIndex:
        import chromadb

        assert generation.path is not None and generation.manifest is not None
        client = chromadb.PersistentClient(path=str(generation.path), settings=chroma_settings())
        collection = client.get_collection(COLLECTION, embedding_function=None)
        return OpenIndex(generation.manifest, collection, client)

    def close(self) -> None:
        pass

    def begin(self, base: Generation | None) -> Generation:
        import chromadb

        self.root.mkdir(parents=True, exist_ok=True)
        # Readers may still hold the generation that was current before this one: keep it too.
        current = self._pointer()
        self._collect_garbage({current or "", self._newest_complete_other(current) or ""})
        name = f"gen-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        path = self.root / name
        if base is not None and base.path is not None:
            shutil.copytree(base.path, path, ignore=shutil.ignore_patterns(COMPLETE, MANIFEST))
        else:
            path.mkdir()
        client = chromadb.PersistentClient(path=str(path), settings=chroma_settings())
        return Generation(name, None, _new_collection(client, COLLECTION), path, client)

    def commit(self, draft: Generation, manifest: Manifest) -> None:
        assert draft.path is not None
        (draft.path / MANIFEST).write_text(manifest.to_json())
        draft.collection = None  # the writer stops touching the folder before it is verified
        _close(draft.client)
        verify_in_child(draft.path, manifest.chunk_count)
        write_atomic(draft.path / COMPLETE, "ok\n")
        previous = self._pointer()
        write_atomic(self.root / POINTER, draft.name + "\n")
        self._collect_garbage({draft.name, previous or ""})

    def discard(self, draft: Generation) -> None:
        _close(draft.client)
        if draft.path is not None:
            shutil.rmtree(draft.path, ignore_errors=True)

    def _collect_garbage(self, keep: set[str]) -> None:
        """Remove every generation folder not in `keep` (drafts a killed writer left included)."""
        for path in self.root.glob("gen-*"):
            if path.is_dir() and path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)

    def _newest_complete_other(self, current: str | None) -> str | None:
        done = sorted(p.name for p in self.root.glob("gen-*") if (p / COMPLETE).exists())
        others = [name for name in done if name != current]
        return others[-1] if others else None


class ServerStore:
    """Generations as collections on a Chroma server; one meta record points at the current one."""

    def __init__(self, url: str) -> None:
        import chromadb

        parsed = urlparse(url)
        if not parsed.hostname:
            raise ConfigError(f'COPILOT_CHROMA_URL="{url}" is not a URL like http://127.0.0.1:8001')
        self.client = chromadb.HttpClient(
            host=parsed.hostname,
            port=parsed.port or 8000,
            ssl=parsed.scheme == "https",
            settings=chroma_settings(),
        )
        self.meta = self.client.get_or_create_collection(META_COLLECTION, embedding_function=None)

    def current(self) -> Generation | None:
        got: Any = self.meta.get(ids=["pointer"], include=["documents"])
        if not got["ids"]:
            return None
        record = json.loads(got["documents"][0])
        name = record["current"]
        collection = self.client.get_collection(name, embedding_function=None)
        return Generation(name, Manifest.from_json(record["manifest"]), collection)

    def open(self, generation: Generation) -> OpenIndex:
        assert generation.manifest is not None
        return OpenIndex(generation.manifest, generation.collection, None)

    def close(self) -> None:
        _close(self.client)

    def begin(self, base: Generation | None) -> Generation:
        name = f"copilot-gen-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        collection = _new_collection(self.client, name)
        if base is not None and base.collection is not None:
            offset = 0
            while True:
                page = base.collection.get(
                    limit=5000, offset=offset, include=["embeddings", "documents", "metadatas"]
                )
                if not page["ids"]:
                    break
                collection.add(
                    ids=page["ids"],
                    embeddings=page["embeddings"],
                    documents=page["documents"],
                    metadatas=page["metadatas"],
                )
                offset += len(page["ids"])
        return Generation(name, None, collection)

    def commit(self, draft: Generation, manifest: Manifest) -> None:
        if draft.collection.count() != manifest.chunk_count:
            raise IndexProblem(
                f"collection {draft.name} holds {draft.collection.count()} chunks, expected "
                f"{manifest.chunk_count}: run `copilot index` again"
            )
        previous = self.current()
        record = json.dumps({"current": draft.name, "manifest": manifest.to_json()})
        # dim-1 placeholder vector: the meta collection stores documents, never searched.
        placeholder: Any = [[0.0]]
        self.meta.upsert(ids=["pointer"], documents=[record], embeddings=placeholder)
        keep = {draft.name, previous.name if previous else ""}
        for col in self.client.list_collections():
            name = col if isinstance(col, str) else col.name
            if name.startswith("copilot-gen-") and name not in keep:
                self.client.delete_collection(name)

    def discard(self, draft: Generation) -> None:
        self.client.delete_collection(draft.name)


def open_store(index_dir: Path, chroma_url: str | None) -> LocalStore | ServerStore:
    return ServerStore(chroma_url) if chroma_url else LocalStore(index_dir)


def open_current(index_dir: Path, chroma_url: str | None) -> OpenIndex:
    """The current generation, opened for reading."""
    store = open_store(index_dir, chroma_url)
    generation = store.current()
    if generation is None or generation.manifest is None:
        store.close()
        where = chroma_url or index_dir
        raise IndexMissing(f"no index at {where}: run `copilot index`")
    opened = store.open(generation)
    if opened.client is None:
        opened.client = getattr(store, "client", None)
    return opened


def _close(client: Any) -> None:
    """Close a chromadb client: its folder (or HTTP session) is released for other processes."""
    if client is None:
        return
    # chromadb 1.5.9's HTTP client (and its internal admin client) keep their httpx sessions
    # open after close(): close them too, or every reader leaks a socket.
    sessions = [
        getattr(getattr(owner, "_server", None), "_session", None)
        for owner in (client, getattr(client, "_admin_client", None))
    ]
    client.close()
    for session in sessions:
        if session is not None:
            session.close()


def verify_in_child(path: Path, expected: int, timeout: float = 120.0) -> None:
    """Open the generation in a separate process: count its chunks and run one query."""
    proc = subprocess.run(
        [sys.executable, "-m", "copilot.index.chroma", str(path), str(expected)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
        raise IndexProblem(
            f"the new index at {path} failed its check ({detail}); the previous index is still "
            "in use: run `copilot index` again"
        )


def _check(path: Path, expected: int) -> None:
    import chromadb

    client = chromadb.PersistentClient(path=str(path), settings=chroma_settings())
    collection: Any = client.get_collection(COLLECTION, embedding_function=None)
    count = collection.count()
    if count != expected:
        sys.exit(f"holds {count} chunks, expected {expected}")
    if count:
        sample = collection.get(limit=1, include=["embeddings"])
        hits = collection.query(query_embeddings=[list(sample["embeddings"][0])], n_results=1)
        if not hits["ids"] or not hits["ids"][0]:
            sys.exit("a query returned nothing")


if __name__ == "__main__":
    _check(Path(sys.argv[1]), int(sys.argv[2]))
