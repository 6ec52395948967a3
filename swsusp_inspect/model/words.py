"""Counts in words: "1 saved page is", "2 saved pages are" (one grammar for every message)."""

from __future__ import annotations

__all__ = ["agree", "plural"]


def plural(n: int, word: str, many: str | None = None) -> str:
    """``n`` and the noun in its number: "1 chunk", "1,024 chunks" (``many``: an irregular
    plural)."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def agree(n: int, one: str, many: str) -> str:
    """The verb for ``n`` subjects: ``agree(n, "is", "are")``, ``agree(n, "lies", "lie")``."""
    return one if n == 1 else many
