"""The article catalogue of one index generation: each article's metadata and its sections as
indexed, rebuilt from the stored chunks. Retrieval, answers, drafts and article pages read it."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from copilot.index.store import StoredChunk


@dataclass(frozen=True)
class CatalogEntry:
    id: str
    title: str
    audience: str
    product_area: str
    stale: bool
    owner: str


class Catalog:
    """Articles by id, and the text of each section in reading order."""

    def __init__(self, chunks: Sequence[StoredChunk]) -> None:
        self._entries: dict[str, CatalogEntry] = {}
        self._sections: dict[str, dict[str, str]] = defaultdict(dict)
        # Chunk ids are "<article>#<n>" in reading order: sections are rebuilt in that order.
        for chunk in sorted(chunks, key=lambda c: _chunk_order(c.id)):
            meta = chunk.meta
            aid = str(meta["article_id"])
            section = str(meta.get("section", ""))
            previous = self._sections[aid].get(section)
            self._sections[aid][section] = f"{previous} {chunk.body}" if previous else chunk.body
            if aid not in self._entries:
                self._entries[aid] = CatalogEntry(
                    aid,
                    str(meta.get("title", "")),
                    str(meta.get("audience", "customer")),
                    str(meta.get("product_area", "")),
                    bool(meta.get("stale", False)),
                    str(meta.get("owner", "")),
                )
        self._ids = sorted(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._entries

    def __iter__(self) -> Iterator[CatalogEntry]:
        return (self._entries[a] for a in self._ids)

    @property
    def ids(self) -> list[str]:
        """Every article id, sorted."""
        return self._ids

    def get(self, article_id: str) -> CatalogEntry | None:
        return self._entries.get(article_id)

    def __getitem__(self, article_id: str) -> CatalogEntry:
        return self._entries[article_id]

    def sections(self, article_id: str) -> dict[str, str]:
        """Section name -> text, as indexed; empty for an unknown article."""
        return dict(self._sections.get(article_id, {}))

    def visible(self, article_id: str, audience: str) -> bool:
        """Whether a reader of `audience` may see the article (customers see customer ones)."""
        entry = self._entries.get(article_id)
        return entry is not None and (audience == "internal" or entry.audience == "customer")


def _chunk_order(chunk_id: str) -> tuple[str, int]:
    article, _, n = chunk_id.rpartition("#")
    return (article, int(n)) if n.isdigit() else (chunk_id, 0)
