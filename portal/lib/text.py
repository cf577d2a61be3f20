"""Text helpers."""

from __future__ import annotations


def db_text(value: object) -> str:
    """The value as text PostgreSQL can store: NUL characters (which it refuses) removed."""
    return str(value).replace("\x00", "")
