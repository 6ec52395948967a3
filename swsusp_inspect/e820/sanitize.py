"""Sanitize an e820 table the way the kernel does, and edit it the way the kernel does.

References:
    arch/x86/kernel/e820.c ``e820__update_table()`` (called ``sanitize_e820_map()`` up to 4.11,
    ``sanitize_e820_table()`` in 4.12): drop empty entries, sort change points, resolve overlaps
    in favour of the highest type number, merge neighbours of equal type; never merge
    E820_TYPE_PRAM neighbours (4.1+, "x86/pmem: ... keep PRAM ranges separate").
    ``__e820__range_update()`` / ``e820__range_remove()`` (2.6.27 -> 6.17): the edits the kernel
    logs as ``e820: update [mem A-B] old ==> new`` and ``e820: remove [mem A-B] old``.

Everything works on arrays of (start, exclusive end, type); one Python iteration per distinct type
or per edit, never per page.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from swsusp_inspect.arrays import unique
from swsusp_inspect.e820.types import E820Type

__all__ = ["apply_remove", "apply_update", "sanitize"]

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]

_PRAM = int(E820Type.PRAM)


def sanitize(starts: U64, ends_excl: U64, types: U32) -> tuple[U64, U64, U32]:
    """Return the sanitized table as (starts, exclusive ends, types), sorted.

    Args:
        starts: region starts.
        ends_excl: exclusive ends (``start + size``); entries with ``end <= start`` are dropped,
            as the kernel drops empty ones.
        types: e820 type codes.
    """
    starts = np.asarray(starts, dtype=np.uint64)
    ends_excl = np.asarray(ends_excl, dtype=np.uint64)
    types = np.asarray(types, dtype=np.uint32)
    keep = ends_excl > starts
    starts, ends_excl, types = starts[keep], ends_excl[keep], types[keep]
    if starts.size == 0:
        return starts, ends_excl, types
    bounds = unique(np.concatenate([starts, ends_excl]))
    lo = np.searchsorted(bounds, starts)
    hi = np.searchsorted(bounds, ends_excl)
    # elementary interval k is [bounds[k], bounds[k+1]); its type is the highest covering type
    best = np.zeros(bounds.size - 1, dtype=np.uint32)
    for t in unique(types):
        sel = types == t
        cover = np.zeros(bounds.size, dtype=np.int64)
        np.add.at(cover, lo[sel], 1)
        np.add.at(cover, hi[sel], -1)
        covered = np.cumsum(cover)[:-1] > 0
        best = np.where(covered, np.maximum(best, t), best)
    occupied = best != 0
    # a new entry starts where the type changes, after a hole, and at every PRAM change point
    prev = np.concatenate([[np.uint32(0)], best[:-1]])
    new = occupied & ((best != prev) | (best == _PRAM))
    first = np.flatnonzero(new)
    out_starts = bounds[first]
    # each entry runs until the next entry start or the next hole, whichever comes first
    breaks = np.flatnonzero(new | ~occupied)
    nxt = np.searchsorted(breaks, first, side="right")
    end_idx = np.where(nxt < breaks.size, breaks[np.minimum(nxt, breaks.size - 1)], best.size)
    out_ends = bounds[end_idx]
    return (out_starts.astype(np.uint64), out_ends.astype(np.uint64), best[first].astype(np.uint32))


def _split_at(starts: U64, ends: U64, types: U32, lo: int, hi: int) -> tuple[U64, U64, U32]:
    """Split entries so that no entry straddles ``lo`` or ``hi``."""
    s, e, t = starts.copy(), ends.copy(), types.copy()
    for cut in (np.uint64(lo), np.uint64(hi)):
        inside = (s < cut) & (e > cut)
        if inside.any():
            tail_s = np.full(int(inside.sum()), cut, dtype=np.uint64)
            tail_e, tail_t = e[inside], t[inside]
            e = np.where(inside, cut, e).astype(np.uint64)
            s = np.concatenate([s, tail_s])
            e = np.concatenate([e, tail_e])
            t = np.concatenate([t, tail_t])
    return s, e, t


def apply_update(
    starts: U64, ends: U64, types: U32, lo: int, hi: int, *, old: int, new: int
) -> tuple[U64, U64, U32]:
    """``__e820__range_update(lo, hi - lo, old, new)`` on a table, then sanitize.

    Only the parts of ``old``-typed entries inside ``[lo, hi)`` change type.
    """
    s, e, t = _split_at(starts, ends, types, lo, hi)
    inside = (s >= lo) & (e <= hi) & (t == old)
    t = np.where(inside, np.uint32(new), t).astype(np.uint32)
    return sanitize(s, e, t)


def apply_remove(
    starts: U64, ends: U64, types: U32, lo: int, hi: int, *, old: int | None
) -> tuple[U64, U64, U32]:
    """``e820__range_remove(lo, hi - lo, old, check_type)`` on a table, then sanitize.

    ``old`` None means the kernel did not check the type (the log line names none).
    """
    s, e, t = _split_at(starts, ends, types, lo, hi)
    inside = (s >= lo) & (e <= hi)
    if old is not None:
        inside &= t == old
    keep = ~inside
    return sanitize(s[keep], e[keep], t[keep])
