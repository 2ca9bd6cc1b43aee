"""The parsed-document and persisted-query caches stay within their bounds, by entries and by
bytes, whatever anonymous callers send: documents are kept by normal form, only once they
validated, and a query text longer than DIAMONDS_MAX_QUERY_BYTES is refused before parsing."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse, print_ast

from graph.apq import PersistedQueries, query_hash
from graph.documents import AST_BYTES_PER_CHAR, DocumentCache, DocumentStore


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> DocumentStore:
    """A fresh store of 4 MiB accounted behind the schema's DocumentCache."""
    fresh = DocumentStore(max_entries=10_000, max_bytes=4 * 1024 * 1024)
    monkeypatch.setattr(DocumentCache, "store", fresh)
    return fresh


def test_the_store_forgets_the_least_recently_used_past_its_byte_bound() -> None:
    store = DocumentStore(max_entries=100, max_bytes=10 * 30 * AST_BYTES_PER_CHAR)
    for k in range(50):
        text = f"{{ a{k:04}: giftCatalog {{ id }} }}"
        normal = print_ast(parse(text))
        store.keep(normal, (), parse(text), text)
        assert store.accounted_bytes <= store.max_bytes
    assert 0 < len(store) < 50
    assert store.find(print_ast(parse("{ a0049: giftCatalog { id } }")), ()) is not None
    assert store.find(print_ast(parse("{ a0000: giftCatalog { id } }")), ()) is None
    assert store.find("{ a0049: giftCatalog { id } }", ()) is not None


async def test_distinct_large_anonymous_requests_keep_the_cache_within_its_byte_bound(
    api: Any, store: DocumentStore
) -> None:
    for k in range(1_000):  # comment-padded: one normal form, no text kept as a key
        padded = f"#{k}" + "a" * 90_000 + "\n{ giftCatalog { id } }"
        response = await api.post("/graphql", json={"query": padded})
        assert response.status == 200
        assert (await response.json())["data"] == {"giftCatalog": []}
    assert len(store) == 1
    for k in range(1_000):  # distinct documents, each with a long alias
        distinct = f"{{ a{k:04}{'x' * 8_000}: giftCatalog {{ id }} }}"
        response = await api.post("/graphql", json={"query": distinct})
        assert response.status == 200
        assert store.accounted_bytes <= store.max_bytes
    assert store.accounted_bytes > store.max_bytes // 2
    assert len(store) < 1_000


async def test_only_documents_that_validated_are_kept(api: Any, store: DocumentStore) -> None:
    for k in range(20):
        response = await api.post("/graphql", json={"query": f"{{ noSuchField{k} }}"})
        assert (await response.json())["errors"]
        response = await api.post("/graphql", json={"query": f"{{ giftCatalog {{ id }} #{k}"})
        assert (await response.json())["errors"]
    assert len(store) == 0
    assert store.accounted_bytes == 0


async def test_the_same_document_with_other_comments_and_blanks_shares_one_entry(
    api: Any, store: DocumentStore
) -> None:
    for text in ("{ giftCatalog { id } }", "{giftCatalog{id}}", "# hi\n{ giftCatalog {\n id } }"):
        response = await api.post("/graphql", json={"query": text})
        assert (await response.json())["data"] == {"giftCatalog": []}
    normal = print_ast(parse("{ giftCatalog { id } }"))
    kept = store.documents()
    assert normal in kept
    assert len({id(document) for document in kept.values()}) == 1


async def test_a_query_text_over_the_cap_is_a_413_and_is_not_parsed(
    api: Any, store: DocumentStore
) -> None:
    padded = "#" + "a" * 100_001 + "\n{ giftCatalog { id } }"
    response = await api.post("/graphql", json={"query": padded})
    assert response.status == 413
    body = await response.json()
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_LARGE"
    assert "at most 100000" in body["errors"][0]["message"]
    persisted = await api.post(
        "/graphql",
        json={
            "query": padded,
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": query_hash(padded)}},
        },
    )
    assert persisted.status == 413
    assert len(store) == 0


def test_persisted_queries_are_bounded_by_bytes() -> None:
    queries = PersistedQueries(capacity=10_000, max_bytes=1_000_000)
    for k in range(500):
        text = f"#{k}" + "a" * 50_000 + "\n{ giftCatalog { id } }"
        ext = {"persistedQuery": {"version": 1, "sha256Hash": query_hash(text)}}
        assert queries.resolve(text, ext) == text
        queries.remember(text)
        assert queries.accounted_bytes <= queries.max_bytes
    assert 0 < len(queries) <= 20
