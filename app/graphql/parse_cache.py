"""One parsed document per distinct operation text, shared by every operation that sends it.

A subscription keeps its parsed document (and graphql-core keeps every token of it, linked
from the nodes' locations) for as long as it runs: 10,000 clients subscribed with the same
text held 10,000 copies, about 12 KiB each (`bench/memory.py --where`). graphql-core's AST is
never changed once parsed, so one copy can serve them all. Strawberry's `ParserCache` keeps an
LRU of parsed texts (keyed with the parse options: `MaxTokensLimiter`'s limit applies to the
cached parse too); a text that does not parse is left to the ordinary parse, which reports
the error as the client's, as without the cache.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import GraphQLError
from strawberry.extensions import ParserCache

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
