"""The GraphQL API, by domain: each folder holds its types, schema fields and data loaders."""
