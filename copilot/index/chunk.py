"""Structure-aware chunking: each chunk is one section's text (or a window of it) with the article
title in front, sized to what the embedder reads. Measured against alternatives in
`bench/chunking_study.py` (results in docs/retrieval.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from copilot.kb.parse import HTML_COMMENT, INVISIBLE
from copilot.types import Article, Chunk

SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")

CHUNKER_VERSION = "2"  # bump when chunk text changes: every article is then re-embedded


@dataclass(frozen=True)
class ChunkPolicy:
    max_tokens: int = 200  # of section text per window; the title comes on top
    question_chunk: bool = False  # title + Symptoms again as its own chunk: measured, no gain
    whole_article: bool = False  # one chunk of the whole article (cut by the embedder)

    @property
    def key(self) -> str:
        q, w = int(self.question_chunk), int(self.whole_article)
        return f"v{CHUNKER_VERSION}-t{self.max_tokens}-q{q}-w{w}"


def clean(text: str) -> str:
    """What the embedder and the model may see: no hidden comments, no invisible characters."""
    text = HTML_COMMENT.sub(" ", text)
    text = INVISIBLE.sub("", text)
    return re.sub(r"[ \t]+", " ", text).strip()


def windows(text: str, max_tokens: int, count: Callable[[str], int]) -> list[str]:
    """Split text at sentence ends into windows of at most `max_tokens` tokens."""
    if count(text) <= max_tokens:
        return [text] if text else []
    pieces: list[str] = []
    for sentence in (s.strip() for s in SENTENCE_END.split(text)):
        if not sentence:
            continue
        if count(sentence) <= max_tokens:
            pieces.append(sentence)
            continue
        words, buf = sentence.split(), list[str]()
        for w in words:
            if buf and count(" ".join([*buf, w])) > max_tokens:
                pieces.append(" ".join(buf))
                buf = []
            buf.append(w)
        if buf:
            pieces.append(" ".join(buf))
    out: list[str] = []
    current: list[str] = []
    size = 0
    for piece in pieces:
        n = count(piece)
        if current and size + n > max_tokens:
            out.append(" ".join(current))
            current, size = [], 0
        current.append(piece)
        size += n + 1
    if current:
        out.append(" ".join(current))
    return out


def chunk_article(
    article: Article,
    *,
    stale: bool,
    content_hash: str,
    count_tokens: Callable[[str], int],
    policy: ChunkPolicy | None = None,
) -> list[Chunk]:
    policy = policy or ChunkPolicy()
    title = clean(article.title)

    def make(i: int, section: str, text: str) -> Chunk:
        return Chunk(
            id=f"{article.id}#{i}",
            article_id=article.id,
            section=section,
            text=text,
            title=title,
            audience=article.audience,
            product_area=article.product_area,
            owner=article.owner,
            last_reviewed=article.last_reviewed.isoformat() if article.last_reviewed else "",
            stale=stale,
            content_hash=content_hash,
        )

    chunks: list[Chunk] = []
    if policy.whole_article:
        body = "\n".join(f"{s.name}: {clean(s.text)}" for s in article.sections)
        chunks.append(make(0, "Article", f"{title}\n{body}"))
        return chunks
    symptoms = article.section("Symptoms")
    if policy.question_chunk and symptoms:
        first = windows(clean(symptoms.text), policy.max_tokens, count_tokens)
        chunks.append(
            make(len(chunks), "Question", f"{title}\n{first[0] if first else ''}".strip())
        )
    for section in article.sections:
        for window in windows(clean(section.text), policy.max_tokens, count_tokens):
            chunks.append(make(len(chunks), section.name, f"{title}\n{window}"))
    if not chunks:
        chunks.append(make(0, "Title", title))
    return chunks
