"""The baselines every eval run measures beside the copilot, on the same KB and embedder: BM25
over whole articles, and a plain llama-index `VectorStoreIndex` with its default node parser."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from copilot.answer.retrieve import tokenize
from copilot.types import Question

Ranker = Callable[[Question], list[str]]  # question -> distinct article ids, best first


def article_texts(kb_dir: Path) -> dict[str, str]:
    """Each article file's whole text by id (front matter included), for the baselines."""
    from copilot.kb.parse import article_files, load_files

    return {
        f.article.id: f.data.decode("utf-8", "replace")
        for f in load_files(article_files(kb_dir))
        if f.article and f.article.id
    }


def bm25_baseline(kb_dir: Path) -> Ranker:
    """BM25Okapi over each article's whole text, lowercase [a-z0-9]+ tokens minus stopwords."""
    from rank_bm25 import BM25Okapi

    texts = article_texts(kb_dir)
    ids = sorted(texts)
    bm25 = BM25Okapi([tokenize(texts[a]) for a in ids])

    def rank(q: Question) -> list[str]:
        tokens = tokenize(q.question)
        if not tokens:
            return []
        scores = bm25.get_scores(tokens)
        order = sorted(range(len(ids)), key=lambda i: -scores[i])
        return [ids[i] for i in order[:10] if scores[i] > 0]

    return rank


def llama_index_baseline(kb_dir: Path, model_path: Path) -> Ranker:
    """A plain VectorStoreIndex: one Document per article file, llama-index's default node parser
    (`SentenceSplitter()`), same embedder. Everything is passed in, never set on the global
    `Settings`: a baseline must not change how the rest of the process uses llama-index."""
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    callbacks = CallbackManager()
    embed_model = HuggingFaceEmbedding(model_name=str(model_path), callback_manager=callbacks)
    docs = [
        Document(text=text, doc_id=aid, metadata={"article_id": aid})
        for aid, text in sorted(article_texts(kb_dir).items())
    ]
    index = VectorStoreIndex.from_documents(
        docs,
        transformations=[SentenceSplitter(callback_manager=callbacks)],
        embed_model=embed_model,
        callback_manager=callbacks,
    )
    retriever = index.as_retriever(similarity_top_k=20, embed_model=embed_model)

    def rank(q: Question) -> list[str]:
        nodes = retriever.retrieve(q.question)
        return list(dict.fromkeys(str(n.node.metadata["article_id"]) for n in nodes))[:10]

    return rank
