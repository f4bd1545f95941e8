"""Tortoise models of users, teams, tokens, sessions and platform secrets."""

from __future__ import annotations
