"""Which saved pages can be read: the page-level view every writer and report uses.

A saved PFN is one of three things: a page with data that can be read, a zero page (6.6+: saved
as a flag, no data), or a page whose data cannot be read (a lost or undecodable chunk, an
unknown swap-map entry, a page past the end of a cut dump).  Only a salvaging image
(``open_image(..., salvage=True)``) has unreadable pages; a strict one raises instead.

:class:`PageStates` holds the three as numpy masks over the PFN directory, with the reasons;
:func:`pfn_runs` turns PFNs into runs of consecutive frames (the ranges every writer needs).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from swsusp_inspect.arrays import unique

if TYPE_CHECKING:
    from swsusp_inspect.model.export import UnreadableSpan

__all__ = ["Lost", "PageStates", "pfn_ranges", "pfn_runs"]


@dataclass(frozen=True)
class Lost:
    """Stream pages ``first .. first + count - 1`` that cannot be read, and why (the one-line
    message the strict reader raises for them)."""

    first: int
    count: int
    reason: str


def pfn_runs(pfns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, lengths)`` of the runs of consecutive PFNs in ``pfns``, in the given order
    (indexes into ``pfns``)."""
    if not pfns.size:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    breaks = np.flatnonzero(np.diff(pfns.astype(np.int64)) != 1) + 1
    starts = np.concatenate([[0], breaks]).astype(np.int64)
    ends = np.concatenate([breaks, [pfns.size]]).astype(np.int64)
    return starts, ends - starts


def pfn_ranges(pfns: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(start_pfn, end_pfn)`` ranges covering ``pfns`` (sorted, merged)."""
    sorted_pfns = unique(pfns.astype(np.uint64))
    starts, lengths = pfn_runs(sorted_pfns)
    return [
        (int(sorted_pfns[s]), int(sorted_pfns[s]) + int(c) - 1)
        for s, c in zip(starts.tolist(), lengths.tolist(), strict=True)
    ]


@dataclass(frozen=True)
class PageStates:
    """Every saved PFN with what can be had of it (directory order, numpy masks).

    Attributes:
        pfns: every PFN the directory lists (uint64), zero pages included.
        zero: saved as a zero page (no data, all zeros).
        unreadable: has a data page that cannot be read.
        lost: the stream pages that cannot be read, with the reasons.
        checked: every data chunk has been decompressed (a salvaging image learns that a
            chunk does not decompress only by trying): ``unreadable`` is then complete.
        meta_pages: stream pages before the first data page, less one (``swsusp_info``).
    """

    pfns: np.ndarray
    zero: np.ndarray
    unreadable: np.ndarray
    lost: tuple[Lost, ...]
    checked: bool
    meta_pages: int

    @cached_property
    def readable(self) -> np.ndarray:
        """Data pages that can be read (zero pages and unreadable ones excluded)."""
        out: np.ndarray = ~self.zero & ~self.unreadable
        return out

    @property
    def unreadable_pages(self) -> int:
        return int(np.count_nonzero(self.unreadable))

    @property
    def zero_pages(self) -> int:
        return int(np.count_nonzero(self.zero))

    def ranges(self, mask: np.ndarray) -> list[tuple[int, int]]:
        """Inclusive PFN ranges of the entries selected by ``mask``."""
        return pfn_ranges(self.pfns[mask])

    def unreadable_spans(self) -> tuple[UnreadableSpan, ...]:
        """The unreadable PFN ranges with their reasons, as the model reports them (ranges of
        one reason that follow one another merged)."""
        from swsusp_inspect.model.export import UnreadableSpan

        merged: list[list[int | str]] = []
        for lo, hi, why in self.unreadable_by_reason():
            if merged and merged[-1][2] == why and merged[-1][1] == lo - 1:
                merged[-1][1] = hi
            else:
                merged.append([lo, hi, why])
        return tuple(
            UnreadableSpan(int(lo), int(hi), int(hi) - int(lo) + 1, str(why))
            for lo, hi, why in merged
        )

    def unreadable_by_reason(self) -> list[tuple[int, int, str]]:
        """``(start_pfn, end_pfn, reason)``, inclusive, sorted by PFN."""
        data_entries = np.flatnonzero(~self.zero)
        out: list[tuple[int, int, str]] = []
        for lost in self.lost:
            d0 = max(lost.first - 1 - self.meta_pages, 0)
            d1 = max(lost.first + lost.count - 1 - self.meta_pages, 0)
            for lo, hi in pfn_ranges(self.pfns[data_entries[d0:d1]]):
                out.append((lo, hi, lost.reason))
        return sorted(out)


def build(
    pfns: np.ndarray, zero: np.ndarray, meta_pages: int, lost: list[Lost], checked: bool
) -> PageStates:
    """The states of a directory whose stream pages ``lost`` cannot be read."""
    unreadable = np.zeros(pfns.size, bool)
    data_entries = np.flatnonzero(~zero)
    for item in lost:
        d0 = max(item.first - 1 - meta_pages, 0)
        d1 = max(item.first + item.count - 1 - meta_pages, 0)
        unreadable[data_entries[d0:d1]] = True
    return PageStates(
        pfns, zero, unreadable, tuple(sorted(lost, key=lambda x: x.first)), checked, meta_pages
    )
