"""Platform secrets: names and keys (never values), queries and mutations."""
