"""Persistence: Tortoise models, their migrations, and database start-up."""
