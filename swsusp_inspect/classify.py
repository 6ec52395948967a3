"""Label every saved PFN against a memory map: numpy only, no per-PFN Python loops.

References:
    kernel/power/snapshot.c ``saveable_page()`` (2.6.19 -> now): a page is saved unless it is
    not valid, free, forbidden (image pages and the *nosave regions*), offline, a guard page, or
    ``PageReserved`` and (not present or ``pfn_is_nosave()``).  ``PG_reserved`` alone does not
    exclude a page: reserved RAM (kernel image, memblock reservations, driver pages) is saved.
    arch/x86/kernel/e820.c ``e820__register_nosave_regions()`` (2.6.22 -> now): the non-RAM
    parts of the e820 table become nosave regions.  Only the firmware map tells reserved RAM
    from the non-RAM pages that also carry ``PG_reserved`` (Andrea Arcangeli, 2004).

Labels, with their precedence (when several apply, the first in this list wins):

1. ``reserved-non-ram``: the page is not fully covered by RAM entries of the map (type 1 and
   128): a non-RAM entry or a hole (reason "not RAM"), RAM for only part of the page ("partly
   RAM") or past the last map entry ("beyond the map").  The hardware fact comes first: such a
   page has no memory the image could have meaningfully copied, whatever else is said of it.
2. ``nosave``: inside the kernel's nosave regions (``__nosave_begin..__nosave_end`` of a
   System.map, the log's ``Registered nosave memory`` lines, or the regions the kernel's rules
   derive from the map).  On x86 these overlap label 1 almost everywhere; what is left are RAM
   pages the kernel chose not to save (page 0 after ``e820: update``, ``.data..nosave``).
3. ``reserved-ram``: RAM, and reserved per the best evidence given (kpageflags
   ``KPF_RESERVED``, else iomem kernel sections / Crash kernel, else e820 type 128).
4. ``normal``: everything else.

Internally each label is a small integer *code* whose numeric order is the precedence, so
combining evidence is ``max``.  The map, the nosave ranges and the range evidence become one
*interval table* over PFN space (a few hundred intervals); the sorted PFN array is cut at the
interval bounds with one ``searchsorted`` of the bounds into the PFNs (a memory-bandwidth pass),
not one search per PFN.  Memory: one byte of label per PFN, plus a sorted copy (8 bytes) only
when the directory is not sorted; every other temporary is chunked.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from swsusp_inspect.e820.types import dmesg_name

__all__ = [
    "BEYOND_MAP",
    "CODE_LABEL",
    "CODE_REASON",
    "LABELS",
    "NON_RAM",
    "NORMAL",
    "NOSAVE",
    "PARTLY_RAM",
    "PFN_LIMIT",
    "RESERVED_RAM",
    "Area",
    "Classification",
    "IntervalTable",
    "Runs",
    "build_table",
    "classify",
    "descents",
    "duplicate_values",
    "is_sorted",
    "label_counts",
    "mark_reserved_flags",
    "runs",
    "strip",
]

U64 = npt.NDArray[np.uint64]
U8 = npt.NDArray[np.uint8]

# PFN entries are masked below the top bit (6.6+ ENCODED_PFN_ZERO_FLAG), so every PFN < 2**63.
PFN_LIMIT = 1 << 63

NORMAL, RESERVED_RAM, NOSAVE, PARTLY_RAM, NON_RAM, BEYOND_MAP = range(6)
N_CODES = 6
LABELS = ("normal", "reserved-ram", "reserved-non-ram", "nosave")
CODE_LABEL = ("normal", "reserved-ram", "nosave", "reserved-non-ram", "reserved-non-ram",
              "reserved-non-ram")
CODE_REASON = ("normal", "reserved RAM", "nosave", "partly RAM", "not RAM", "beyond the map")

CHUNK = 1 << 20  # PFNs per chunk for every pass that needs temporaries


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
    regions: list[tuple[int, int, int]] = []
    if has_map:
        assert starts is not None and ends is not None and types is not None
        regions = sorted((int(a), int(b), int(t)) for a, b, t in zip(starts, ends, types,
                                                                      strict=True) if b >= a)
    ram_set = {int(t) for t in ram_types}

    # RAM byte ranges with neighbours joined (RAM and RESERVED_KERN side by side are one RAM)
    ram: list[list[int]] = []
    for a, b, t in regions:
        if t not in ram_set:
            continue
        if ram and a <= ram[-1][1] + 1:
            ram[-1][1] = max(ram[-1][1], b)
        else:
            ram.append([a, b])
    full = [c for a, b in ram if (c := _clip(_pfn_up(a, shift), (b + 1) >> shift))]
    touch = [c for a, b in ram if (c := _clip(a >> shift, _pfn_up(b + 1, shift)))]
    map_end_excl = max((b + 1 for _, b, _ in regions), default=0)
    beyond_lo = min(_pfn_up(map_end_excl, shift), PFN_LIMIT)
    spans = [c for a, b, _ in regions if (c := _clip(a >> shift, _pfn_up(b + 1, shift)))]
    ns = [(c, src) for lo, hi, src in nosave if (c := _clip(int(lo), int(hi) + 1))]
    ev = [(c, lab) for lo, hi, lab in reserved
          if (c := _clip(int(lo) >> shift, (int(hi) >> shift) + 1))]

    points: list[int] = [0, PFN_LIMIT]
    if has_map:
        points.append(beyond_lo)
    for lst in (full, touch, spans):
        for lo, hi in lst:
            points += (lo, hi)
    for (lo, hi), _ in ns + ev:
        points += (lo, hi)
    bounds = np.unique(np.array(points, dtype=np.uint64))
    k = bounds.size - 1

    if has_map:
        is_full = _cover(bounds, [a for a, _ in full], [b for _, b in full])
        is_touch = _cover(bounds, [a for a, _ in touch], [b for _, b in touch])
        map_codes = np.where(is_full, NORMAL, np.where(is_touch, PARTLY_RAM, NON_RAM))
        map_codes = np.where(bounds[:-1] >= np.uint64(beyond_lo), BEYOND_MAP, map_codes)
        map_codes = map_codes.astype(np.uint8)
    else:
        map_codes = np.zeros(k, dtype=np.uint8)
    codes = map_codes.copy()

    nosave_sources = tuple(dict.fromkeys(src for _, src in ns))
    nosave_source = np.full(k, -1, dtype=np.int16)
    for i, src in reversed(list(enumerate(nosave_sources))):
        sel = [c for c, s in ns if s == src]
        cov = _cover(bounds, [a for a, _ in sel], [b for _, b in sel])
        nosave_source[cov] = i
    codes = np.maximum(codes, np.where(nosave_source >= 0, NOSAVE, NORMAL).astype(np.uint8))

    evidence_labels = tuple(dict.fromkeys(lab for _, lab in ev))
    evidence = np.full(k, -1, dtype=np.int16)
    for i, lab in reversed(list(enumerate(evidence_labels))):
        sel = [c for c, s in ev if s == lab]
        cov = _cover(bounds, [a for a, _ in sel], [b for _, b in sel])
        evidence[cov & (codes == NORMAL)] = i
    codes = np.where(evidence >= 0, np.uint8(RESERVED_RAM), codes).astype(np.uint8)

    areas, area = _attribute(bounds, map_codes, regions, ram_set, shift, map_end_excl, has_map)
    return IntervalTable(bounds, codes, map_codes, area, evidence, nosave_source, areas,
                         evidence_labels, nosave_sources, page_size, has_map)


def _attribute(
    bounds: U64,
    map_codes: U8,
    regions: list[tuple[int, int, int]],
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


# ---------------------------------------------------------------------------------- passes


def is_sorted(pfns: U64, *, strict: bool = False, chunk: int = CHUNK) -> bool:
    """Whether ``pfns`` is non-decreasing (``strict``: increasing), checked chunk by chunk."""
    n = int(pfns.size)
    for i in range(0, max(n - 1, 0), chunk):
        x = pfns[i : i + chunk + 1]
        bad = np.any(x[1:] <= x[:-1]) if strict else np.any(x[1:] < x[:-1])
        if bad:
            return False
    return True


def descents(pfns: U64, *, chunk: int = CHUNK) -> tuple[int, int | None]:
    """How many entries are smaller than their predecessor, and the index of the first."""
    n = int(pfns.size)
    count, first = 0, None
    for i in range(0, max(n - 1, 0), chunk):
        x = pfns[i : i + chunk + 1]
        bad = np.flatnonzero(x[1:] < x[:-1])
        if bad.size:
            count += int(bad.size)
            if first is None:
                first = i + int(bad[0]) + 1
    return count, first


def duplicate_values(sorted_pfns: U64, *, chunk: int = CHUNK, limit: int = 1 << 16) -> \
        tuple[int, U64]:
    """In a sorted array: how many entries repeat their predecessor, and (up to ``limit``)
    the distinct repeated values."""
    n = int(sorted_pfns.size)
    count = 0
    found: list[U64] = []
    kept = 0
    for i in range(0, max(n - 1, 0), chunk):
        x = sorted_pfns[i : i + chunk + 1]
        eq = np.flatnonzero(x[1:] == x[:-1])
        count += int(eq.size)
        if eq.size and kept < limit:
            vals = x[eq][: limit - kept]
            found.append(vals)
            kept += int(vals.size)
    vals = np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.uint64)
    return count, vals.astype(np.uint64)


@dataclass
class Classification:
    """Labels of every saved PFN.

    Attributes:
        pfns: the PFNs in ascending order (the input itself when it was sorted, else a copy).
        labels: uint8 code per entry of ``pfns``.
        cuts: int64, ``pfns[cuts[k]:cuts[k + 1]]`` lie in interval k of ``table``.
        table: the interval table used.
        input_sorted: whether the input was already non-decreasing.
    """

    pfns: U64
    labels: U8
    cuts: npt.NDArray[np.int64]
    table: IntervalTable
    input_sorted: bool
    counts: npt.NDArray[np.int64]  # entries per code, kept up to date by the relabelling passes
    relabelled: bool = False  # labels differ from the table codes inside some interval

    def code_counts(self) -> npt.NDArray[np.int64]:
        """Entries per code (length ``N_CODES``), without a pass over the labels."""
        return self.counts.copy()


def classify(pfns: U64, table: IntervalTable, *, assume_sorted: bool | None = None) -> \
        Classification:
    """Label ``pfns`` (any order; sorted is the fast path) with ``table``.

    Args:
        pfns: saved PFNs (uint64).
        table: from :func:`build_table`.
        assume_sorted: skip the sortedness check (True/False); None checks once.
    """
    pfns = np.ascontiguousarray(pfns, dtype=np.uint64)
    ordered = is_sorted(pfns) if assume_sorted is None else assume_sorted
    sp = pfns if ordered else np.sort(pfns)
    cuts = np.searchsorted(sp, table.bounds).astype(np.int64)
    cuts[-1] = sp.size  # every PFN is below PFN_LIMIT
    per = np.diff(cuts)
    labels = np.repeat(table.codes, per)
    counts = np.bincount(table.codes, weights=per, minlength=N_CODES).astype(np.int64)
    return Classification(sp, labels, cuts, table, ordered, counts)


def label_counts(codes: npt.NDArray[np.int64]) -> dict[str, int]:
    """Public label -> entries, from per-code counts."""
    out = dict.fromkeys(LABELS, 0)
    for code, n in enumerate(codes[:N_CODES]):
        out[CODE_LABEL[code]] += int(n)
    return out


@dataclass(frozen=True)
class FlagStats:
    """What a kpageflags pass saw among the saved PFNs it covers."""

    covered: int  # saved entries with a kpageflags entry
    reserved: int  # ... with KPF_RESERVED, whatever their label
    marked: int  # ... relabelled normal -> reserved-ram
    nopage: int  # ... with KPF_NOPAGE (no struct page at capture time)
    buddy: int  # ... free in the buddy allocator at capture time


def mark_reserved_flags(
    c: Classification,
    flags: U64,
    *,
    reserved_bit: int = 32,
    nopage_bit: int = 20,
    buddy_bit: int = 10,
    chunk: int = CHUNK,
) -> FlagStats:
    """Relabel normal entries whose flag word has ``reserved_bit`` as reserved-ram (in place).

    ``flags[pfn]`` is the flag word of ``pfn`` (``/proc/kpageflags``); entries at or beyond
    ``flags.size`` are left alone (the caller labels them from other evidence).
    """
    limit = int(np.searchsorted(c.pfns, np.uint64(flags.size)))
    one = np.uint64(1)
    covered = reserved = marked = nopage = buddy = 0
    for i in range(0, limit, chunk):
        j = min(i + chunk, limit)
        f = flags[c.pfns[i:j].astype(np.intp)]
        res = ((f >> np.uint64(reserved_bit)) & one).astype(bool)
        nopage += int(np.count_nonzero((f >> np.uint64(nopage_bit)) & one))
        buddy += int(np.count_nonzero((f >> np.uint64(buddy_bit)) & one))
        lab = c.labels[i:j]
        hit = res & (lab == NORMAL)
        lab[hit] = RESERVED_RAM
        covered += j - i
        reserved += int(np.count_nonzero(res))
        marked += int(np.count_nonzero(hit))
    c.counts[NORMAL] -= marked
    c.counts[RESERVED_RAM] += marked
    c.relabelled |= marked > 0
    return FlagStats(covered, reserved, marked, nopage, buddy)


def relabel_from(c: Classification, start: int, table: IntervalTable) -> None:
    """Relabel entries ``start:`` of ``c`` with another table (kpageflags fallback).

    The entries ``start:`` must still carry the labels :func:`classify` gave them.
    """
    tail = c.pfns[start:]
    before = np.clip(c.cuts, start, None)
    c.counts -= np.bincount(c.table.codes, weights=np.diff(before),
                            minlength=N_CODES).astype(np.int64)
    cuts = np.searchsorted(tail, table.bounds).astype(np.int64)
    cuts[-1] = tail.size
    per = np.diff(cuts)
    c.labels[start:] = np.repeat(table.codes, per)
    c.counts += np.bincount(table.codes, weights=per, minlength=N_CODES).astype(np.int64)
    c.relabelled = True


def evidence_counts(c: Classification, table: IntervalTable, start: int = 0) -> dict[str, int]:
    """Entries ``start:`` labelled reserved-ram per range-evidence label of ``table``."""
    tail = c.pfns[start:]
    cuts = np.searchsorted(tail, table.bounds).astype(np.int64)
    cuts[-1] = tail.size
    per = np.diff(cuts)
    out: dict[str, int] = {}
    for i, lab in enumerate(table.evidence_labels):
        sel = (table.evidence == i) & (table.codes == RESERVED_RAM)
        n = int(per[sel].sum())
        if n:
            out[lab] = out.get(lab, 0) + n
    return out


# ---------------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class Runs:
    """Contiguous runs of saved PFNs with one code inside one interval (numpy columns)."""

    start: U64  # first PFN
    end: U64  # last PFN (inclusive)
    count: npt.NDArray[np.int64]  # entries in the run (== end - start + 1 without duplicates)
    code: U8
    interval: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.start.size)


def runs(c: Classification, codes: Sequence[int] | None = None, *, chunk: int = CHUNK) -> Runs:
    """Runs of consecutive PFNs with equal code, never crossing an interval bound.

    Args:
        c: the classification.
        codes: only runs of these codes (None: all).
    """
    want = np.zeros(N_CODES, dtype=bool)
    want[list(range(N_CODES)) if codes is None else list(codes)] = True
    t = c.table
    refinable = bool(want[RESERVED_RAM])  # kpageflags may put reserved-ram in normal intervals
    parts: list[tuple[U64, U64, npt.NDArray[np.int64], U8, npt.NDArray[np.int64]]] = []
    for k in range(len(t)):
        a, b = int(c.cuts[k]), int(c.cuts[k + 1])
        if a == b:
            continue
        code = int(t.codes[k])
        if not want[code] and not (refinable and code == NORMAL):
            continue
        # carried run: (start, end, count, code) of the last run of the previous chunk
        carry: list[int] | None = None
        for i in range(a, b, chunk):
            j = min(i + chunk, b)
            s = c.pfns[i:j]
            lab = c.labels[i:j]
            brk = np.flatnonzero((s[1:] - s[:-1] > np.uint64(1)) | (lab[1:] != lab[:-1])) + 1
            first = np.concatenate(([0], brk)).astype(np.int64)
            last = np.concatenate((brk - 1, [s.size - 1])).astype(np.int64)
            st, en, cd = s[first], s[last], lab[first]
            cnt = last - first + 1
            if carry is not None:
                if int(st[0]) <= carry[1] + 1 and int(cd[0]) == carry[3]:
                    st = st.copy()
                    st[0] = np.uint64(carry[0])
                    cnt = cnt.copy()
                    cnt[0] += carry[2]
                else:
                    parts.append(_one(carry, k))
            carry = [int(st[-1]), int(en[-1]), int(cnt[-1]), int(cd[-1])]
            if st.size > 1:
                parts.append((st[:-1], en[:-1], cnt[:-1], cd[:-1],
                              np.full(st.size - 1, k, dtype=np.int64)))
        if carry is not None:
            parts.append(_one(carry, k))
    if not parts:
        z = np.zeros(0, dtype=np.uint64)
        return Runs(z, z.copy(), np.zeros(0, np.int64), np.zeros(0, np.uint8),
                    np.zeros(0, np.int64))
    st = np.concatenate([p[0] for p in parts]).astype(np.uint64)
    en = np.concatenate([p[1] for p in parts]).astype(np.uint64)
    cnt = np.concatenate([p[2] for p in parts]).astype(np.int64)
    cd = np.concatenate([p[3] for p in parts]).astype(np.uint8)
    iv = np.concatenate([p[4] for p in parts]).astype(np.int64)
    keep = want[cd]
    return Runs(st[keep], en[keep], cnt[keep], cd[keep], iv[keep])


def _one(carry: list[int], k: int) -> tuple[U64, U64, npt.NDArray[np.int64], U8,
                                            npt.NDArray[np.int64]]:
    return (np.array([carry[0]], np.uint64), np.array([carry[1]], np.uint64),
            np.array([carry[2]], np.int64), np.array([carry[3]], np.uint8),
            np.array([k], np.int64))


# ---------------------------------------------------------------------------------- strip


@dataclass(frozen=True)
class StripColumns:
    """Saved pages per label in equal slices of PFN space (for the address-space strip)."""

    bounds: npt.NDArray[np.int64]  # column c covers PFNs [bounds[c], bounds[c + 1])
    saved: npt.NDArray[np.int64]  # saved entries per column
    per_label: npt.NDArray[np.int64]  # [column, label index in LABELS]
    ram_pages: npt.NDArray[np.int64]  # pages fully RAM per the map (-1 per column: no map)


def strip(c: Classification, lo: int, hi: int, width: int) -> StripColumns:
    """Cut ``[lo, hi)`` PFN space into ``width`` columns and count saved pages in each."""
    width = max(1, int(width))
    hi = max(hi, lo + width)
    edges = np.array([lo + (hi - lo) * i // width for i in range(width + 1)], dtype=np.int64)
    idx = np.searchsorted(c.pfns, edges.astype(np.uint64))
    code_to_label = np.array([LABELS.index(CODE_LABEL[i]) for i in range(N_CODES)],
                             dtype=np.int64)
    per = np.zeros((width, len(LABELS)), dtype=np.int64)
    for col in range(width):
        a, b = int(idx[col]), int(idx[col + 1])
        if a == b:
            continue
        if c.relabelled:
            counts = np.zeros(N_CODES, dtype=np.int64)
            for i in range(a, b, CHUNK):
                counts += np.bincount(c.labels[i : min(i + CHUNK, b)],
                                      minlength=N_CODES)[:N_CODES]
        else:  # labels are the interval codes: count by overlap, no pass over the labels
            overlap = np.clip(np.minimum(c.cuts[1:], b) - np.maximum(c.cuts[:-1], a), 0, None)
            counts = np.bincount(c.table.codes, weights=overlap,
                                 minlength=N_CODES).astype(np.int64)
        np.add.at(per[col], code_to_label, counts)
    saved = np.diff(idx).astype(np.int64)
    t = c.table
    if t.has_map:
        bo = t.bounds.astype(object)
        top = (1 << 63) - 1
        ram_iv = [(int(bo[k]), min(int(bo[k + 1]), top)) for k in range(len(t))
                  if t.map_codes[k] == NORMAL]
        ram = np.zeros(width, dtype=np.int64)
        if ram_iv:
            iv = np.array(ram_iv, dtype=np.int64)
            e0, e1 = edges[:-1, None], edges[1:, None]
            ram = np.clip(np.minimum(e1, iv[None, :, 1]) - np.maximum(e0, iv[None, :, 0]), 0,
                          None).sum(axis=1)
    else:
        ram = np.full(width, -1, dtype=np.int64)
    return StripColumns(edges, saved, per, ram)
