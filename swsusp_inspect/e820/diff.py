"""What changed between two memory maps, in words.

Resume refuses an image when the e820 checksum of the booting kernel differs from the image's
("Hibernate inconsistent memory map detected!"); the usual cause is firmware moving a small
region between boots.  Regions are paired: identical first, then same type and size (moved),
then same type and overlapping (resized), then same bounds (retyped); the rest were added or
removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from swsusp_inspect.e820.model import MemoryMap, Region

__all__ = ["Change", "MapDiff", "diff_maps"]

PAGE = 4096


def _amount(delta: int) -> str:
    n = abs(delta)
    if n % PAGE == 0:
        pages = n // PAGE
        return f"{pages} page" + ("" if pages == 1 else "s")
    return f"{n:#x} bytes"


def _span(r: Region) -> str:
    return f"{r.start:#x}-{r.end:#x}"


@dataclass(frozen=True)
class Change:
    """One change: kind is "added", "removed", "moved", "resized" or "retyped"."""

    kind: str
    old: Region | None
    new: Region | None

    @property
    def text(self) -> str:
        o, n = self.old, self.new
        if self.kind == "added" and n is not None:
            return f"{n.name} {_span(n)} added ({_amount(n.size)})"
        if self.kind == "removed" and o is not None:
            return f"{o.name} {_span(o)} removed ({_amount(o.size)})"
        assert o is not None and n is not None
        if self.kind == "moved":
            way = "up" if n.start > o.start else "down"
            return f"{o.name} moved {way} {_amount(n.start - o.start)} ({_span(o)} -> {_span(n)})"
        if self.kind == "retyped":
            return f"{_span(o)} changed from {o.name} to {n.name}"
        parts = []
        if n.start != o.start:
            way = "starts lower" if n.start < o.start else "starts higher"
            parts.append(f"{way} by {_amount(n.start - o.start)}")
        if n.end != o.end:
            way = "ends higher" if n.end > o.end else "ends lower"
            parts.append(f"{way} by {_amount(n.end - o.end)}")
        size = "grew" if n.size > o.size else "shrank"
        return (f"{o.name} {_span(o)} {size} by {_amount(n.size - o.size)}: "
                f"{', '.join(parts)} (now {_span(n)})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "old": None if self.old is None else self.old.to_dict(),
            "new": None if self.new is None else self.new.to_dict(),
            "text": self.text,
        }


@dataclass(frozen=True)
class MapDiff:
    """Changes from ``old`` to ``new`` and whether the firmware-table checksum changed."""

    old_source: str
    new_source: str
    changes: tuple[Change, ...]
    old_crc32: int
    new_crc32: int

    @property
    def checksum_changed(self) -> bool:
        return self.old_crc32 != self.new_crc32

    @property
    def same(self) -> bool:
        return not self.changes and not self.checksum_changed

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old_source,
            "new": self.new_source,
            "changes": [c.to_dict() for c in self.changes],
            "checksum_changed": self.checksum_changed,
            "checksum": {"old_crc32": self.old_crc32, "new_crc32": self.new_crc32},
        }


def _overlap(a: Region, b: Region) -> int:
    return max(0, min(a.end, b.end) - max(a.start, b.start) + 1)


def diff_maps(old: MemoryMap, new: MemoryMap) -> MapDiff:
    """Compare the sanitized firmware maps of ``old`` and ``new``."""
    olds = list(old.regions)
    news = list(new.regions)
    new_keys = {(r.start, r.end, r.type) for r in news}
    old_keys = {(r.start, r.end, r.type) for r in olds}
    left = [r for r in olds if (r.start, r.end, r.type) not in new_keys]
    right = [r for r in news if (r.start, r.end, r.type) not in old_keys]
    pairs: list[Change] = []

    def take(kind: str, match: Any, score: Any) -> None:
        for o in list(left):
            candidates = [n for n in right if match(o, n)]
            if not candidates:
                continue
            n = min(candidates, key=lambda c: score(o, c))
            left.remove(o)
            right.remove(n)
            pairs.append(Change(kind, o, n))

    take("moved", lambda o, n: o.type == n.type and o.size == n.size
         and abs(o.start - n.start) < max(o.size, 1) * 64 + (1 << 20),
         lambda o, n: abs(o.start - n.start))
    take("resized", lambda o, n: o.type == n.type and _overlap(o, n) > 0,
         lambda o, n: -_overlap(o, n))
    take("retyped", lambda o, n: o.start == n.start and o.end == n.end,
         lambda o, n: 0)
    changes = pairs + [Change("removed", o, None) for o in left] + [
        Change("added", None, n) for n in right]
    changes.sort(key=lambda c: (c.old or c.new).start)  # type: ignore[union-attr]
    return MapDiff(old.source, new.source, tuple(changes), old.checksum_crc32(),
                   new.checksum_crc32())
