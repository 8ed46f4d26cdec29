"""Bits every table uses."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    # SQLModel's datetime columns store UTC and require timezone-aware values.
    return datetime.now(UTC)
