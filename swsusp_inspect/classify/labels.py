"""Labelling passes over the sorted PFN array: classify, kpageflags evidence, directory order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from swsusp_inspect.arrays import unique
from swsusp_inspect.classify.codes import (
    CHUNK,
    CODE_LABEL,
    LABELS,
    N_CODES,
    NORMAL,
    RESERVED_RAM,
    U8,
    U64,
)
from swsusp_inspect.classify.table import IntervalTable

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


def duplicate_values(
    sorted_pfns: U64, *, chunk: int = CHUNK, limit: int = 1 << 16
) -> tuple[int, U64]:
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
    vals = unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.uint64)
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


def classify(
    pfns: U64, table: IntervalTable, *, assume_sorted: bool | None = None
) -> Classification:
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


def mark_reserved_mask(
    c: Classification, reserved: npt.NDArray[np.bool_], known: npt.NDArray[np.bool_]
) -> FlagStats:
    """Relabel normal entries whose ``reserved`` is set as reserved-ram (in place).

    ``reserved`` and ``known`` are aligned with ``c.pfns`` (the kernel's own ``PG_reserved``
    per saved page, and whether its ``struct page`` could be read); entries not ``known`` are
    left alone.
    """
    res = reserved & known
    hit = res & (c.labels == NORMAL)
    c.labels[hit] = RESERVED_RAM
    marked = int(np.count_nonzero(hit))
    c.counts[NORMAL] -= marked
    c.counts[RESERVED_RAM] += marked
    c.relabelled |= marked > 0
    return FlagStats(int(np.count_nonzero(known)), int(np.count_nonzero(res)), marked, 0, 0)


def relabel_from(c: Classification, start: int, table: IntervalTable) -> None:
    """Relabel entries ``start:`` of ``c`` with another table (kpageflags fallback).

    The entries ``start:`` must still carry the labels :func:`classify` gave them.
    """
    tail = c.pfns[start:]
    before = np.clip(c.cuts, start, None)
    c.counts -= np.bincount(c.table.codes, weights=np.diff(before), minlength=N_CODES).astype(
        np.int64
    )
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
