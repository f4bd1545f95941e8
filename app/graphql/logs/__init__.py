"""The logs domain of the schema: live log batches and pages of stored lines."""
