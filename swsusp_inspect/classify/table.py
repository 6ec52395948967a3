"""The interval table: the map, the nosave ranges and the range evidence as one sorted list of
intervals over PFN space, each with its label code and the map area it lies in."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from swsusp_inspect.arrays import unique
from swsusp_inspect.classify.codes import (
    BEYOND_MAP,
    NON_RAM,
    NORMAL,
    NOSAVE,
    PARTLY_RAM,
    PFN_LIMIT,
    RESERVED_RAM,
    U8,
    U64,
)
from swsusp_inspect.e820.types import dmesg_name


@dataclass(frozen=True)
class Area:
    """A stretch of physical address space a page can fall in: a map region, a hole, or the
    space beyond the map.  ``end`` is inclusive; ``type`` is the e820 code (None: hole/beyond)."""

    start: int
    end: int | None
    type: int | None
    name: str

    def describe(self) -> str:
        if self.end is None:
            return f"{self.name} (map ends at {self.start - 1:#x})"
        return f"{self.name} {self.start:#x}-{self.end:#x}"


@dataclass(frozen=True)
class IntervalTable:
    """PFN space cut into intervals of uniform code.

    Interval k is ``[bounds[k], bounds[k + 1])``; ``bounds[0] == 0`` and ``bounds[-1] ==
    PFN_LIMIT``.

    Attributes:
        bounds: uint64 interval bounds.
        codes: uint8 code of each interval after every overlay (the label without kpageflags).
        map_codes: uint8 code from the map alone (NORMAL = fully RAM).
        area: int32 index into ``areas`` of the map region (or hole) each interval lies in;
            -1 without a map.
        evidence: int16 index into ``evidence_labels`` for intervals labelled reserved-ram by
            range evidence; -1 otherwise.
        nosave_source: int16 index into ``nosave_sources`` of the first nosave range covering
            the interval; -1 otherwise.
        has_map: whether a map was given (without one, only nosave can be told).
    """

    bounds: U64
    codes: U8
    map_codes: U8
    area: npt.NDArray[np.int32]
    evidence: npt.NDArray[np.int16]
    nosave_source: npt.NDArray[np.int16]
    areas: tuple[Area, ...]
    evidence_labels: tuple[str, ...]
    nosave_sources: tuple[str, ...]
    page_size: int
    has_map: bool

    def __len__(self) -> int:
        return int(self.codes.size)


def _pfn_up(addr: int, shift: int) -> int:
    return (addr + (1 << shift) - 1) >> shift


def _cover(bounds: U64, lo: Sequence[int], hi: Sequence[int]) -> npt.NDArray[np.bool_]:
    """Which elementary intervals of ``bounds`` lie inside the union of ``[lo, hi)``."""
    d = np.zeros(bounds.size, dtype=np.int64)
    if len(lo):
        lo_a = np.array(lo, dtype=np.uint64)
        hi_a = np.array(hi, dtype=np.uint64)
        np.add.at(d, np.searchsorted(bounds, lo_a), 1)
        np.add.at(d, np.searchsorted(bounds, hi_a), -1)
    return np.cumsum(d)[:-1] > 0


def _clip(lo: int, hi: int) -> tuple[int, int] | None:
    lo, hi = max(0, lo), min(hi, PFN_LIMIT)
    return (lo, hi) if lo < hi else None


def _ram_ranges(regions: list[tuple[int, int, int]], ram_set: set[int]) -> list[list[int]]:
    """RAM byte ranges (inclusive) with neighbours joined: RAM and RESERVED_KERN side by side
    are one RAM."""
    ram: list[list[int]] = []
    for a, b, t in regions:
        if t not in ram_set:
            continue
        if ram and a <= ram[-1][1] + 1:
            ram[-1][1] = max(ram[-1][1], b)
        else:
            ram.append([a, b])
    return ram


def _map_codes(
    bounds: U64, full: list[tuple[int, int]], touch: list[tuple[int, int]], beyond_lo: int
) -> U8:
    """Each interval's code from the map alone: fully RAM, partly RAM, not RAM, beyond."""
    is_full = _cover(bounds, [a for a, _ in full], [b for _, b in full])
    is_touch = _cover(bounds, [a for a, _ in touch], [b for _, b in touch])
    map_codes = np.where(is_full, NORMAL, np.where(is_touch, PARTLY_RAM, NON_RAM))
    map_codes = np.where(bounds[:-1] >= np.uint64(beyond_lo), BEYOND_MAP, map_codes)
    return map_codes.astype(np.uint8)


def _first_cover(
    bounds: U64,
    ranges: Sequence[tuple[tuple[int, int], str]],
    where: npt.NDArray[np.bool_] | None = None,
) -> tuple[tuple[str, ...], npt.NDArray[np.int16]]:
    """The distinct names of ``((lo, hi), name)`` ranges in first-seen order, and per interval
    the index of the first name whose ranges cover it (-1: none; only where ``where``)."""
    names = tuple(dict.fromkeys(name for _, name in ranges))
    index = np.full(bounds.size - 1, -1, dtype=np.int16)
    for i, name in reversed(list(enumerate(names))):
        sel = [c for c, s in ranges if s == name]
        cov = _cover(bounds, [a for a, _ in sel], [b for _, b in sel])
        index[cov if where is None else cov & where] = i
    return names, index


def _regions(
    starts: Sequence[int] | U64 | None,
    ends: Sequence[int] | U64 | None,
    types: Sequence[int] | npt.NDArray[np.uint32] | None,
) -> list[tuple[int, int, int]]:
    """The map's non-empty regions as sorted Python ``(start, end, type)`` (none: no map)."""
    if starts is None or ends is None or types is None:
        return []
    return sorted(
        (int(a), int(b), int(t)) for a, b, t in zip(starts, ends, types, strict=True) if b >= a
    )


def _bounds(ranges: list[tuple[int, int]], beyond_lo: int | None) -> U64:
    """The sorted distinct interval bounds: 0, PFN_LIMIT, the map's end (``beyond_lo``; None
    without a map) and both ends of every ``[lo, hi)`` range."""
    points: list[int] = [0, PFN_LIMIT]
    if beyond_lo is not None:
        points.append(beyond_lo)
    for lo, hi in ranges:
        points += (lo, hi)
    return unique(np.array(points, dtype=np.uint64))


def build_table(
    page_size: int,
    starts: Sequence[int] | U64 | None = None,
    ends: Sequence[int] | U64 | None = None,
    types: Sequence[int] | npt.NDArray[np.uint32] | None = None,
    *,
    ram_types: Sequence[int] = (1, 128),
    nosave: Sequence[tuple[int, int, str]] = (),
    reserved: Sequence[tuple[int, int, str]] = (),
) -> IntervalTable:
    """Build the interval table for a map (sorted, non-overlapping regions) and overlays.

    Args:
        page_size: bytes per page (a power of two).
        starts, ends, types: the map's regions, byte addresses, ``ends`` inclusive; None for
            no map (then every page is "normal" apart from nosave).
        ram_types: e820 types that are RAM for hibernation.
        nosave: ``(start_pfn, end_pfn inclusive, source)`` ranges.
        reserved: reserved-RAM range evidence ``(start byte, end byte inclusive, label)``;
            every page the range touches counts (the kernel reserves whole pages).
    """
    shift = page_size.bit_length() - 1
    has_map = starts is not None and ends is not None and types is not None
    regions = _regions(starts, ends, types)
    ram_set = {int(t) for t in ram_types}

    ram = _ram_ranges(regions, ram_set)
    full = [c for a, b in ram if (c := _clip(_pfn_up(a, shift), (b + 1) >> shift))]
    touch = [c for a, b in ram if (c := _clip(a >> shift, _pfn_up(b + 1, shift)))]
    map_end_excl = max((b + 1 for _, b, _ in regions), default=0)
    beyond_lo = min(_pfn_up(map_end_excl, shift), PFN_LIMIT)
    spans = [c for a, b, _ in regions if (c := _clip(a >> shift, _pfn_up(b + 1, shift)))]
    ns = [(c, src) for lo, hi, src in nosave if (c := _clip(int(lo), int(hi) + 1))]
    ev = [
        (c, lab)
        for lo, hi, lab in reserved
        if (c := _clip(int(lo) >> shift, (int(hi) >> shift) + 1))
    ]

    bounds = _bounds(
        [*full, *touch, *spans, *(c for c, _ in ns + ev)], beyond_lo if has_map else None
    )

    if has_map:
        map_codes = _map_codes(bounds, full, touch, beyond_lo)
    else:
        map_codes = np.zeros(bounds.size - 1, dtype=np.uint8)
    codes = map_codes.copy()

    nosave_sources, nosave_source = _first_cover(bounds, ns)
    codes = np.maximum(codes, np.where(nosave_source >= 0, NOSAVE, NORMAL).astype(np.uint8))

    evidence_labels, evidence = _first_cover(bounds, ev, where=codes == NORMAL)
    codes = np.where(evidence >= 0, np.uint8(RESERVED_RAM), codes).astype(np.uint8)

    areas, area = _attribute(
        bounds,
        map_codes,
        regions,
        ram_set=ram_set,
        shift=shift,
        map_end_excl=map_end_excl,
        has_map=has_map,
    )
    return IntervalTable(
        bounds,
        codes,
        map_codes,
        area,
        evidence,
        nosave_source,
        areas,
        evidence_labels,
        nosave_sources,
        page_size,
        has_map,
    )


def _attribute(
    bounds: U64,
    map_codes: U8,
    regions: list[tuple[int, int, int]],
    *,
    ram_set: set[int],
    shift: int,
    map_end_excl: int,
    has_map: bool,
) -> tuple[tuple[Area, ...], npt.NDArray[np.int32]]:
    """The map region (or hole) each interval lies in, for messages.  One Python step per
    interval (a few hundred), never per PFN."""
    k = bounds.size - 1
    area = np.full(k, -1, dtype=np.int32)
    if not has_map:
        return (), area
    areas: list[Area] = [Area(a, b, t, dmesg_name(t)) for a, b, t in regions]
    index: dict[tuple[int, int | None, int | None], int] = {}
    r_ends = [b for _, b, _ in regions]

    def add(a: Area) -> int:
        key = (a.start, a.end, a.type)
        if key not in index:
            index[key] = len(areas)
            areas.append(a)
        return index[key]

    def hole_at(byte: int) -> int:
        # the gap around ``byte``: after the last region ending below it, before the next
        i = bisect.bisect_left(r_ends, byte)
        lo = r_ends[i - 1] + 1 if i > 0 else 0
        hi = regions[i][0] - 1 if i < len(regions) else None
        if hi is None:
            return add(Area(map_end_excl, None, None, "beyond the map"))
        return add(Area(lo, hi, None, "hole"))

    for j in range(k):
        code = int(map_codes[j])
        lo_b = int(bounds[j]) << shift
        hi_b = (min(int(bounds[j + 1]), PFN_LIMIT) << shift) - 1
        if code == BEYOND_MAP:
            area[j] = add(Area(map_end_excl, None, None, "beyond the map"))
            continue
        # regions touching [lo_b, hi_b]: the first whose end >= lo_b, then onwards
        i = bisect.bisect_left(r_ends, lo_b)
        touching: list[int] = []
        cursor = lo_b
        gap: int | None = None
        while i < len(regions) and regions[i][0] <= hi_b:
            if regions[i][0] > cursor and gap is None:
                gap = cursor
            touching.append(i)
            cursor = max(cursor, regions[i][1] + 1)
            i += 1
        if gap is None and cursor <= hi_b:
            gap = cursor
        if code == NORMAL:
            ram_i = next((t for t in touching if regions[t][2] in ram_set), None)
            area[j] = ram_i if ram_i is not None else -1
            continue
        non_ram = next((t for t in touching if regions[t][2] not in ram_set), None)
        if non_ram is not None:
            area[j] = non_ram
        elif gap is not None:
            area[j] = hole_at(gap)
    return tuple(areas), area
