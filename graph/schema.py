"""The schema: root types composed from the domain packages, with the protections every request
passes through (limits, production's rules, parser and validation caches, error masking).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, MaxTokensLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from graph.apq import operation_limits
from graph.audit.schema import AuditQueries
from graph.compliance.schema import ComplianceMutations, ComplianceQueries
from graph.cost import QueryCostLimit
from graph.documents import DocumentCache
from graph.errors import should_mask
from graph.execution import AcyclicExecutor, drop_tracebacks
from graph.gifts.schema import GiftMutations, GiftQueries
from graph.gifts.subscriptions import GiftSubscriptions
from graph.global_ids import Node
from graph.node import resolve_node
from graph.observability import OperationObserver
from graph.operation_choice import OperationChoice
from graph.payouts.schema import PayoutMutations, PayoutQueries
from graph.payouts.subscriptions import PayoutSubscriptions
from graph.production import ProductionSchemaPolicy
from graph.purchases.schema import PurchaseMutations
from graph.reconciliation.schema import ReconciliationMutations, ReconciliationQueries
from graph.scalars import BIGINT_SCALAR, DATE_SCALAR, DATETIME_SCALAR, BigInt
from graph.staff import MarkStaff
from graph.streams.schema import StreamMutations, StreamQueries
from graph.streams.subscriptions import StreamSubscriptions
from graph.users.schema import UserQueries
from graph.wallets.schema import WalletMutations
from graph.wallets.subscriptions import WalletSubscriptions

log = logging.getLogger(__name__)

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 2_000
CACHE_SIZE = 1_024


@strawberry.type
class Query(
    UserQueries,
    GiftQueries,
    StreamQueries,
    PayoutQueries,
    ReconciliationQueries,
    ComplianceQueries,
    AuditQueries,
):
    node: Node | None = strawberry.field(resolver=resolve_node, description="Any object by id.")


@strawberry.type
class Mutation(
    GiftMutations,
    StreamMutations,
    WalletMutations,
    PayoutMutations,
    ReconciliationMutations,
    PurchaseMutations,
    ComplianceMutations,
):
    pass


@strawberry.type
class Subscription(
    GiftSubscriptions,
    StreamSubscriptions,
    WalletSubscriptions,
    PayoutSubscriptions,
):
    """Over graphql-transport-ws on `/graphql` (`graph.websocket`): the stream subscriptions are
    public, the wallet and payout ones follow the caller's own (FINANCE and ADMIN: every payout)."""


class DiamondsSchema(strawberry.Schema):
    """Runs every operation on `AcyclicExecutor` (a finished request leaves no reference cycle)
    and logs only the unexpected: public errors (bad input, auth) are the caller's business.
    Once logged, an error's traceback is dropped (`drop_tracebacks`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("execution_context_class", AcyclicExecutor)
        super().__init__(*args, **kwargs)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if should_mask(error):
                log.error(
                    "unexpected error at %s: %s",
                    ".".join(str(p) for p in error.path or []),
                    error.message,
                    exc_info=error.original_error,
                )
        drop_tracebacks(errors)  # logged: the frames they hold are no longer needed


schema = DiamondsSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    config=StrawberryConfig(
        auto_camel_case=True,
        scalar_map={BigInt: BIGINT_SCALAR, datetime: DATETIME_SCALAR, date: DATE_SCALAR},
    ),
    # Factories: a fresh extension per request; the parser and validation caches are shared.
    extensions=[
        OperationObserver,  # the operation's name on log lines and in /metrics
        operation_limits(MAX_DEPTH, MAX_ALIASES),  # QueryDepthLimiter, MaxAliasesLimiter
        ProductionSchemaPolicy,  # production: no introspection, no suggestions in messages
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        # Parsing and validation once per distinct query text (a validation cache keyed by the
        # limiters' rules would miss every time: they are new objects for each request).
        DocumentCache,
        QueryCostLimit,  # after DocumentCache, which validates: refuses what costs too much
        OperationChoice,  # several operations need an operationName
        lambda: MaskErrors(should_mask_error=should_mask, error_message="Unexpected error."),
        MarkStaff,
    ],
)
