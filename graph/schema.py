"""The schema: root types composed from the domain packages, with the protections every request
passes through (depth, alias and token limits, parser and validation caches, error masking).
"""

from __future__ import annotations

import strawberry
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig

from graph.errors import should_mask
from graph.gifts.schema import GiftMutations, GiftQueries
from graph.node import resolve_node
from graph.relay import Node
from graph.streams.schema import StreamMutations, StreamQueries
from graph.users.schema import UserQueries
from graph.wallets.schema import WalletMutations

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2_000
CACHE_SIZE = 1_024


@strawberry.type
class Query(UserQueries, GiftQueries, StreamQueries):
    node: Node | None = strawberry.field(resolver=resolve_node, description="Any object by id.")


@strawberry.type
class Mutation(GiftMutations, StreamMutations, WalletMutations):
    pass


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    config=StrawberryConfig(auto_camel_case=True),
    extensions=[
        QueryDepthLimiter(max_depth=MAX_DEPTH),
        MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        MaxTokensLimiter(max_token_count=MAX_TOKENS),
        ParserCache(maxsize=CACHE_SIZE),
        ValidationCache(maxsize=CACHE_SIZE),
        MaskErrors(should_mask_error=should_mask, error_message="Unexpected error."),
    ],
)
