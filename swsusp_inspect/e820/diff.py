"""What changed between two memory maps, in words.

Resume refuses an image when the e820 checksum of the booting kernel differs from the image's
("Hibernate inconsistent memory map detected!"); the usual cause is firmware moving a small
region between boots.  Regions are paired: identical first, then same type and size (moved),
then same type and overlapping (resized), then same bounds (retyped); the rest were added or
removed.
"""

from __future__ import annotations

from typing import Any

from swsusp_inspect.e820.model import MemoryMap, Region
from swsusp_inspect.model.checksum import ChecksumVerdict, diff_text, verdict
from swsusp_inspect.model.serialize import JsonModel, json_field, record

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


@record
class Change:
    """One change: kind is "added", "removed", "moved", "resized" or "retyped"."""

    kind: str
    old: Region | None
    new: Region | None
    text: str = json_field(init=False, default="")  # the change in words

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", self._words())

    def _words(self) -> str:
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
        return (
            f"{o.name} {_span(o)} {size} by {_amount(n.size - o.size)}: "
            f"{', '.join(parts)} (now {_span(n)})"
        )


@record
class DiffChecksum:
    old_crc32: int
    new_crc32: int


@record(kw_only=True)
class MapDiff(JsonModel):
    """Changes from ``old`` to ``new`` and whether the firmware-table checksum changed (the
    ``map diff --json`` document)."""

    old_source: str = json_field(name="old")
    new_source: str = json_field(name="new")
    changes: tuple[Change, ...]
    checksum_changed: bool | None = json_field(init=False, default=None)  # None: unverifiable
    checksum_verdict: ChecksumVerdict  # as `info --map` and `audit --map` say it
    checksum: DiffChecksum
    checksum_text: str = json_field(init=False, default="")
    not_firmware: tuple[str, ...] = json_field(default=(), skip=True)

    def __post_init__(self) -> None:
        changed = {ChecksumVerdict.MATCH: False, ChecksumVerdict.MISMATCH: True}
        object.__setattr__(self, "checksum_changed", changed.get(self.checksum_verdict))
        object.__setattr__(
            self,
            "checksum_text",
            diff_text(
                self.checksum_verdict,
                old=self.checksum.old_crc32,
                new=self.checksum.new_crc32,
                sources=self.not_firmware,
            ),
        )

    @property
    def same(self) -> bool:
        return not self.changes and not self.checksum_changed


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

    take(
        "moved",
        lambda o, n: (
            o.type == n.type
            and o.size == n.size
            and abs(o.start - n.start) < max(o.size, 1) * 64 + (1 << 20)
        ),
        lambda o, n: abs(o.start - n.start),
    )
    take(
        "resized",
        lambda o, n: o.type == n.type and _overlap(o, n) > 0,
        lambda o, n: -_overlap(o, n),
    )
    take("retyped", lambda o, n: o.start == n.start and o.end == n.end, lambda o, n: 0)
    changes = (
        pairs
        + [Change("removed", o, None) for o in left]
        + [Change("added", None, n) for n in right]
    )
    changes.sort(key=lambda c: (c.old or c.new).start)  # type: ignore[union-attr]
    not_firmware = tuple(f"{m.source} ({m.format})" for m in (old, new) if not m.has_checksum)
    return MapDiff(
        old_source=old.source,
        new_source=new.source,
        changes=tuple(changes),
        checksum_verdict=verdict(old.checksum_crc32(), new.checksum_crc32(), not not_firmware),
        checksum=DiffChecksum(old.checksum_crc32(), new.checksum_crc32()),
        not_firmware=not_firmware,
    )
