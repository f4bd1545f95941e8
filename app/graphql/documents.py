"""One parsed and validated document per distinct operation text, shared by every operation
that sends it.

A subscription keeps its parsed document (and graphql-core keeps every token of it, linked
from the nodes' locations) for as long as it runs: 10,000 clients subscribed with the same
text held 10,000 copies, about 12 KiB each (`bench/memory.py --where`). graphql-core's AST is
never changed once parsed, so one copy can serve them all. Strawberry's `ParserCache` keeps an
LRU of parsed texts (keyed with the parse options: `MaxTokensLimiter`'s limit applies to the
cached parse too); a text that does not parse is left to the ordinary parse, which reports
the error as the client's, as without the cache.

Validating a document walks it once per rule: about 3 ms of CPU for a `runStatus`
subscription, paid by each of 1,000 clients that open the same one (`bench/status_latency.py`
under cProfile: graphql-core's visitor was the largest cost of the process). Its errors depend
only on the schema, the document and the rules (variables are checked at execution), so
`SharedValidation` keeps them per shared document.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.schema.schema import validate_document

# Distinct texts kept: a client's operations are a handful; the LRU drops the rest.
MAX_DOCUMENTS = 512


class SharedDocuments(ParserCache):
    """`ParserCache` whose parse errors go the ordinary way (reported, not raised)."""

    def __init__(self) -> None:
        super().__init__(maxsize=MAX_DOCUMENTS)

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query:
            try:
                context.graphql_document = self.cached_parse_document(
                    context.query, **context.parse_options
                )
            except GraphQLError:
                context.graphql_document = None  # parsed again, and refused, by Strawberry
        yield


# (schema, document, rules) by identity -> (the document, its errors): the document is kept,
# so that its id is not reused while the entry lives.
_validated: OrderedDict[tuple[int, int, Any], tuple[DocumentNode, list[GraphQLError]]] = (
    OrderedDict()
)


class SharedValidation(SchemaExtension):
    """Validation once per shared document and set of rules (after anything that refuses a
    document before validation: an over-budget one is never validated)."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document, rules = context.graphql_document, context.validation_rules
        if document is not None and rules and context.pre_execution_errors is None:
            schema = context.schema._schema
            key = (id(schema), id(document), rules)
            entry = _validated.get(key)
            if entry is None or entry[0] is not document:
                entry = _validated[key] = (document, validate_document(schema, document, rules))
                if len(_validated) > MAX_DOCUMENTS:
                    _validated.popitem(last=False)
            else:
                _validated.move_to_end(key)
            context.pre_execution_errors = list(entry[1])
        yield
