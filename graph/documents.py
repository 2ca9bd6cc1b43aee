"""Parsed and validated documents kept for reuse, bounded by entries and by bytes: keyed by the
document's normal form (graphql-core's `print_ast`), the parse options and the validation rules.

Comments and blanks make no new entry; the rules are part of the key because production adds one
(`graph.production`), so a document validated under development's rules is validated again.

A query text seen before (a persisted query's text is the very same string every time) is found
with one dictionary lookup; a new text is parsed and printed, and reuses the document of the same
normal form if one is kept; only a document that parsed and validated is kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, parse, print_ast
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

MAX_DOCUMENTS = 10_000
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
AST_BYTES_PER_CHAR = 128
"""What a parsed document costs per character of its normal form, measured with tracemalloc
(about 85 to 110 bytes for the API's queries), rounded up."""
MAX_ALIAS_CHARS = 16 * 1024
"""A query text longer than this is not kept as a key of its own: it is parsed every time (and
its normal form's document still reused), so padded texts cannot crowd the cache."""


@dataclass(frozen=True)
class Kept:
    document: DocumentNode
    cost: int


class DocumentStore:
    """Validated documents by key (their normal form, or a query text seen with it), the least
    recently used forgotten past `max_entries` or `max_bytes` accounted."""

    def __init__(self, max_entries: int = MAX_DOCUMENTS, max_bytes: int = MAX_DOCUMENT_BYTES):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.accounted_bytes = 0
        self._kept: OrderedDict[tuple[str, Any], Kept] = OrderedDict()

    def __len__(self) -> int:
        return len(self._kept)

    def documents(self) -> dict[str, DocumentNode]:
        """Every kept key's text and its document (for tests and diagnostics)."""
        return {text: kept.document for (text, _options), kept in self._kept.items()}

    def find(self, text: str, options: Any) -> DocumentNode | None:
        kept = self._kept.get((text, options))
        if kept is None:
            return None
        self._kept.move_to_end((text, options))
        return kept.document

    def keep(self, normal: str, options: Any, document: DocumentNode, text: str) -> None:
        """Keep a validated `document` under its normal form and, if short enough, under the
        query `text` it came from."""
        self._put((normal, options), Kept(document, len(normal) * AST_BYTES_PER_CHAR))
        if text != normal and len(text) <= MAX_ALIAS_CHARS:
            self._put((text, options), Kept(document, len(text)))

    def _put(self, key: tuple[str, Any], kept: Kept) -> None:
        old = self._kept.pop(key, None)
        if old is not None:
            self.accounted_bytes -= old.cost
        self._kept[key] = kept
        self.accounted_bytes += kept.cost
        while self._kept and (
            len(self._kept) > self.max_entries or self.accounted_bytes > self.max_bytes
        ):
            _key, evicted = self._kept.popitem(last=False)
            self.accounted_bytes -= evicted.cost


DOCUMENTS = DocumentStore()
"""The process's one store, shared by every request on the schema."""


class DocumentCache(SchemaExtension):
    """Parsing and validation through `DOCUMENTS`: a kept document is neither parsed nor
    validated again; a new one is kept once it validated without errors."""

    store = DOCUMENTS
    _found = False
    """The request's document came from the store: it validated when it was kept."""
    _normal: str | None = None
    """The normal form of a document parsed for this request, kept once it validates."""
    _options: Any = None
    """The request's parse options and validation rules: part of the key."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query
        if query is not None and context.graphql_document is None:
            options = self._options = (
                tuple(sorted(context.parse_options.items())),
                context.validation_rules,
            )
            document = self.store.find(query, options)
            if document is None:
                parsed = parse(query, **context.parse_options)
                normal = print_ast(parsed)
                document = self.store.find(normal, options)
                if document is None:
                    document, self._normal = parsed, normal
                else:
                    self.store.keep(normal, options, document, query)
            self._found = self._normal is None
            context.graphql_document = document
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if self._found:
            context.pre_execution_errors = []
        elif self._normal is not None and context.query is not None and document is not None:
            errors = validate_document(context.schema._schema, document, context.validation_rules)
            context.pre_execution_errors = list(errors)
            if not errors:
                self.store.keep(self._normal, self._options, document, context.query)
        yield
