"""Users, teams, credentials: types, queries and mutations."""
