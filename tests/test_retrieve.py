from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest

from copilot.answer.retrieve import Retriever, standalone_query
from copilot.index.build import build_index
from copilot.index.chroma import open_current
from copilot.index.embed import SentenceTransformerEmbedder, minilm_path
from copilot.settings import Settings
from tests.conftest import FIXTURES

CLEAN = (FIXTURES / "lint" / "clean" / "clean-article.md").read_text()
ARTICLES = {
    "export-csv": ("customer", 'Exporting to CSV shows "Export failed: file too large".'),
    "login-sso": ("customer", "Single sign-on keeps returning to the login page."),
    "refund-procedure": ("internal", "Agent procedure for refunds of duplicate card charges."),
}


@pytest.fixture(scope="module")
def retriever(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Retriever]:
    root = tmp_path_factory.mktemp("retrieve")
    kb = root / "kb"
    kb.mkdir()
    for aid, (audience, symptom) in ARTICLES.items():
        text = CLEAN.replace("clean-article", aid).replace('The page says "Error".', symptom)
        if audience == "internal":
            text = text.replace("product_area: sso\n", "product_area: sso\naudience: internal\n")
        (kb / f"{aid}.md").write_text(text)
    embedder = SentenceTransformerEmbedder(minilm_path(), "minilm")
    settings = Settings(kb_dir=kb, data_dir=root / "data")
    build_index(settings, embedder, today=date(2026, 11, 24))
    with open_current(settings.index_dir, None) as index:
        yield Retriever(index, embedder)


def test_finds_the_right_article_with_evidence(retriever: Retriever) -> None:
    hits = retriever.search("CSV export says the file is too large")
    assert hits[0].article_id == "export-csv"
    assert hits[0].dense > hits[-1].dense or len(hits) == 1
    assert hits[0].keyword > 0 and "CSV" in hits[0].text


def test_customers_never_get_internal_articles(retriever: Retriever) -> None:
    query = "agent procedure for refunds of duplicate card charges"
    assert all(h.audience == "customer" for h in retriever.search(query, "customer", k=10))
    assert "refund-procedure" not in {h.article_id for h in retriever.search(query, k=10)}
    assert retriever.search(query, "internal")[0].article_id == "refund-procedure"


def test_empty_query_finds_nothing(retriever: Retriever) -> None:
    assert retriever.search("   ") == []


def test_follow_up_carries_the_previous_customer_turn() -> None:
    history = [
        ("user", "SSO keeps looping"),
        ("assistant", "Try the ACS URL."),
        ("user", "I use Okta"),
    ]
    assert standalone_query("and on mobile?", history) == "I use Okta\nand on mobile?"
    assert standalone_query("hello") == "hello"


def test_a_follow_up_is_ranked_with_its_context_and_alone(retriever: Retriever) -> None:
    """A self-contained follow-up leans on itself; an elliptic one on the context it follows."""
    context = "Exporting to CSV fails, the file is too large"
    drift = standalone_query(
        "single sign-on keeps returning to the login page", [("user", context)]
    )
    with_context = retriever.rank(drift).hits
    mixed = retriever.rank(drift, alone="single sign-on keeps returning to the login page").hits
    assert mixed[0].article_id == "login-sso"
    assert [h.article_id for h in with_context] != [h.article_id for h in mixed]
    elliptic = standalone_query("and on mobile?", [("user", context)])
    assert retriever.rank(elliptic, alone="and on mobile?").hits[0].article_id == "export-csv"
