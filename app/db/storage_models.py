"""Tortoise models of inputs and run outputs in object storage."""

from __future__ import annotations
