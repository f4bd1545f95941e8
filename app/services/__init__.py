"""Use cases the GraphQL schema (and the CLI, and tests) call: the schema stays thin."""
