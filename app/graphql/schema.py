"""The schema: every domain's fields merged, with limits and error masking."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry import relay
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, QueryDepthLimiter
from strawberry.tools import merge_types

from app.graphql.cluster.schema import ClusterQueries, ClusterSubscriptions
from app.graphql.connection_guard import RecheckConnection
from app.graphql.cost import DEFAULT_MAX_COST, QueryCostLimiter
from app.graphql.credentials import OneCredentialCheck
from app.graphql.documents import SharedDocuments, SharedValidation
from app.graphql.errors import MaskUnexpectedErrors
from app.graphql.execution import ExecutionContext, Schema
from app.graphql.inputs.schema import InputMutations, InputQueries
from app.graphql.jobs.schema import JobMutations, JobQueries
from app.graphql.logs.schema import LogSubscriptions
from app.graphql.quotas.schema import QuotaMutations, QuotaQueries
from app.graphql.runs.schema import RunMutations, RunQueries, RunSubscriptions
from app.graphql.schedules.schema import ScheduleMutations
from app.graphql.secrets.schema import SecretMutations, SecretQueries
from app.graphql.text_guard import RejectNulText
from app.graphql.users.guard import RequireViewer
from app.graphql.users.schema import (
    AccountMutations,
    AccountQueries,
    UserMutations,
    UserQueries,
)
from app.observability.metrics import OperationMetrics

MAX_DEPTH = 12
MAX_TOKENS = 2000


def _node_queries() -> type:
    """Relay's `node` field; made anew per schema, as Strawberry binds its resolver once."""

    @strawberry.type
    class NodeQueries:
        """Relay's object lookup by global id."""

        node: relay.Node | None = relay.node(description="Any object by its global id.")

    return NodeQueries


def build_schema(
    max_depth: int = MAX_DEPTH, max_tokens: int = MAX_TOKENS, max_cost: int = DEFAULT_MAX_COST
) -> strawberry.Schema:
    """The API's schema; limits come from configuration."""
    # Classes or factories: Strawberry makes each extension anew for every operation.
    # QueryDepthLimiter makes a validation rule class each time, which a subscription keeps
    # for its life (about 2 KiB): the rule is made once here and added per operation.
    (depth_rule,) = QueryDepthLimiter(max_depth=max_depth).validation_rules
    extensions: list[Any] = [
        RecheckConnection,
        RequireViewer,
        RejectNulText,
        lambda: AddValidationRules([depth_rule]),
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        # After MaxTokensLimiter: the cache is keyed with the parse options it sets.
        SharedDocuments,
        OneCredentialCheck,
        # Before validation: some rules are exponential in fragments an over-budget document has.
        lambda: QueryCostLimiter(max_cost),
        SharedValidation,
        MaskUnexpectedErrors,
        OperationMetrics,
    ]
    return Schema(
        query=merge_types(
            "Query",
            (
                _node_queries(),
                JobQueries,
                RunQueries,
                ClusterQueries,
                UserQueries,
                AccountQueries,
                InputQueries,
                SecretQueries,
                QuotaQueries,
            ),
        ),
        mutation=merge_types(
            "Mutation",
            (
                JobMutations,
                RunMutations,
                UserMutations,
                AccountMutations,
                InputMutations,
                SecretMutations,
                ScheduleMutations,
                QuotaMutations,
            ),
        ),
        subscription=merge_types(
            "Subscription", (RunSubscriptions, LogSubscriptions, ClusterSubscriptions)
        ),
        extensions=extensions,
        # Shared results are completed once; plain objects directly (`app.graphql.execution`).
        execution_context_class=ExecutionContext,
    )


def export_schema() -> str:
    """The SDL checked in as schema.graphql."""
    return build_schema().as_str() + "\n"
