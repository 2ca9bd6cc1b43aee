"""The request fast path: automatic persisted queries (bounded by entries and bytes), the
operation limits' validation rules built once, and JSON through orjson.

Automatic persisted queries follow Apollo's convention: a client sends
`extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}` and no query; when the
server does not know the hash it answers `PERSISTED_QUERY_NOT_FOUND`, and the client sends the
query once with its hash, which the server checks and remembers once the text parsed and
validated (its operation ran): a text that does not is answered with its errors and forgotten.

A remembered query keeps its parsed and validated document (`graph.documents.DocumentCache`,
shared with every request that sends the same text), so a client in a gift storm sends a hash
and its variables, and the server neither parses nor validates.

With `DIAMONDS_REDIS_URL` set, the texts are also shared between processes through Redis
(`SharedQueries`), behind each process's bounded cache: a hash registered on one process is found
on every other, so a client behind a load balancer registers each query once, not once per process
(docs/scaling.md#persisted-queries).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import redis.asyncio as redis
from aiohttp import web
from graphql import ASTValidationRule
from redis.exceptions import RedisError
from strawberry.extensions import AddValidationRules, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.http import GraphQLRequestData
from strawberry.types import ExecutionResult

from graph.media_types import failed_before_execution

PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
PERSISTED_QUERY_HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
MAX_PERSISTED_QUERIES = 10_000
MAX_PERSISTED_QUERY_BYTES = 32 * 1024 * 1024
SHARED_TTL_SECONDS = 7 * 24 * 3600
"""How long Redis keeps a shared text after it was last registered or read."""
SHARED_TIMEOUT_SECONDS = 0.5
"""The longest a request waits for Redis before it goes on without the shared texts."""
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

log = logging.getLogger(__name__)


class PersistedQueryError(Exception):
    """Answered as a GraphQL error with this code (HTTP 200, as Apollo clients expect)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}


def query_hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


class SharedQueries:
    """Persisted query texts in Redis, under `<prefix><sha256>`, for every process on the same
    Redis. Each key expires `ttl_seconds` after it was last registered or read, so Redis holds
    only the texts clients still send. A text read back is checked against its hash, and Redis
    failing or slow (past `SHARED_TIMEOUT_SECONDS`) is logged and taken as "not shared": the
    client then sends its text again, as it would to a new process."""

    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        ttl_seconds: int = SHARED_TTL_SECONDS,
        timeout_seconds: float = SHARED_TIMEOUT_SECONDS,
    ) -> None:
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
        )

    async def find(self, digest: str) -> str | None:
        """The text shared under `digest`, if any (its expiry restarted)."""
        try:
            raw = await self._client.getex(self.prefix + digest, ex=self.ttl_seconds)
        except (RedisError, OSError) as exc:
            log.warning("persisted queries: cannot read Redis: %s", exc)
            return None
        if not isinstance(raw, bytes):
            return None
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            text = ""
        if query_hash(text) != digest:
            log.warning("persisted queries: the text in Redis for %s is not its query", digest)
            return None
        return text

    async def share(self, query: str) -> None:
        """Share a text that parsed and validated here."""
        try:
            await self._client.set(self.prefix + query_hash(query), query, ex=self.ttl_seconds)
        except (RedisError, OSError) as exc:
            log.warning("persisted queries: cannot write Redis: %s", exc)

    async def close(self) -> None:
        await self._client.aclose()


class PersistedQueries:
    """Query texts by their SHA-256, the least recently used forgotten past `capacity` texts
    or `max_bytes` of text (each text counted at its length, its hash at 64); with `shared`,
    in front of the texts every process shares through Redis."""

    def __init__(
        self,
        capacity: int = MAX_PERSISTED_QUERIES,
        max_bytes: int = MAX_PERSISTED_QUERY_BYTES,
        shared: SharedQueries | None = None,
    ) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.accounted_bytes = 0
        self.shared = shared
        self._texts: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._texts)

    def resolve(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | None:
        """The query to run. Without a `persistedQuery` extension, the request's own. With one:
        the text remembered under its hash, or the request's text, checked against the hash
        (`remember` keeps it once it ran). Raises `PersistedQueryError`."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            return query
        if not isinstance(persisted, Mapping) or persisted.get("version") != 1:
            raise PersistedQueryError(
                PERSISTED_QUERY_NOT_SUPPORTED, "only persistedQuery version 1 is supported"
            )
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise PersistedQueryError(
                PERSISTED_QUERY_NOT_SUPPORTED, "sha256Hash must be 64 lowercase hex digits"
            )
        if query is None:
            known = self._texts.get(digest)
            if known is None:
                raise PersistedQueryError(PERSISTED_QUERY_NOT_FOUND, "PersistedQueryNotFound")
            self._texts.move_to_end(digest)
            return known
        if query_hash(query) != digest:
            raise PersistedQueryError(
                PERSISTED_QUERY_HASH_MISMATCH, "provided sha does not match query"
            )
        return query

    async def find(self, query: str | None, extensions: Mapping[str, Any] | None) -> str | None:
        """`resolve`, asking the shared texts for a hash not known here. A text found there is
        run like one the client sent: this process remembers it once it ran."""
        try:
            return self.resolve(query, extensions)
        except PersistedQueryError as exc:
            if exc.code != PERSISTED_QUERY_NOT_FOUND or self.shared is None:
                raise
            found = await self.shared.find(str((extensions or {})["persistedQuery"]["sha256Hash"]))
            if found is None:
                raise
            return found

    async def keep(self, query: str) -> None:
        """`remember` here, and share it with the other processes."""
        self.remember(query)
        if self.shared is not None:
            await self.shared.share(query)

    async def close(self) -> None:
        if self.shared is not None:
            await self.shared.close()

    def registering(self, query: str | None, extensions: Mapping[str, Any] | None) -> bool:
        """Whether a resolved request sends a query text for a hash not remembered yet."""
        persisted = (extensions or {}).get("persistedQuery")
        return (
            query is not None
            and isinstance(persisted, Mapping)
            and persisted.get("sha256Hash") not in self._texts
        )

    def remember(self, query: str) -> None:
        """Keep `query` under its hash: call it only for a text that parsed and validated."""
        digest = query_hash(query)
        if digest not in self._texts:
            self._texts[digest] = query
            self.accounted_bytes += len(query) + 64
        self._texts.move_to_end(digest)
        while len(self._texts) > self.capacity or self.accounted_bytes > self.max_bytes:
            _digest, forgotten = self._texts.popitem(last=False)
            self.accounted_bytes -= len(forgotten) + 64


class PersistedQueryView:
    """Mixed in before Strawberry's aiohttp `GraphQLView`: resolves persisted queries before
    the request runs, remembers a registered text once its operation ran (so it parsed and
    validated), and answers their errors."""

    persisted_queries: PersistedQueries

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        parsed: GraphQLRequestData | list[GraphQLRequestData] = await super().parse_http_body(  # type: ignore[misc]
            request
        )
        for data in parsed if isinstance(parsed, list) else [parsed]:
            data.query = await self.persisted_queries.find(data.query, data.extensions)
        return parsed

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Any,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        registering = self.persisted_queries.registering(
            request_data.query, request_data.extensions
        )
        result: ExecutionResult = await super().execute_single(  # type: ignore[misc]
            request, request_adapter, sub_response, context, root_value, request_data
        )
        if registering and request_data.query is not None and not failed_before_execution(result):
            await self.persisted_queries.keep(request_data.query)
        return result

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await super().__call__(request)  # type: ignore[misc]
        except PersistedQueryError as exc:
            return web.json_response(exc.body())
        return response


class OrjsonView:
    """Mixed in before Strawberry's `GraphQLView`: JSON in and out through orjson."""

    def encode_json(self, data: object) -> str:
        # Text, not bytes: websocket messages must go out as text frames.
        return orjson.dumps(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def create_response(self, response_data: object, sub_response: web.Response) -> web.Response:
        sub_response.body = orjson.dumps(response_data)
        sub_response.content_type = "application/json"
        return sub_response


def operation_limits(max_depth: int, max_aliases: int) -> Callable[[], SchemaExtension]:
    """Strawberry's depth and alias limits as one per-request extension whose validation rules
    are built once: `QueryDepthLimiter` and `MaxAliasesLimiter` build a new rule class for every
    request, which cost more than the rest of a small request's extensions together."""
    rules: list[type[ASTValidationRule]] = [
        depth_rule(max_depth, None, None),
        aliases_rule(max_aliases),
    ]
    return lambda: AddValidationRules(rules)
