"""Tortoise models of run logs: stored lines and archives."""

from __future__ import annotations
