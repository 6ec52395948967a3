"""Stage 6, findings: the PFN directory's own checks, one finding per label that needs one,
the PFN statistics and the address-space strip."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from swsusp_inspect import classify as cl
from swsusp_inspect.arrays import unique
from swsusp_inspect.auditor.notes import (
    NON_RAM_NOTE,
    PARTLY_NOTE,
    PHYSPAGES_NOTE,
    QUIESCE_NOTE,
    agree,
    finding,
    plural,
)
from swsusp_inspect.model.findings import (
    DescentDetails,
    EvidenceCounts,
    Finding,
    NonRamDetails,
    NosaveSources,
    PfnRange,
)
from swsusp_inspect.model.report import LabelCounts, PfnStats, Strip, StripColumn

__all__ = [
    "MAX_RANGES",
    "arch_limit_pfn",
    "directory_findings",
    "label_counts",
    "label_findings",
    "pfn_stats",
    "strip_model",
    "strip_start",
]

# ranges kept per finding (counts stay exact; JSON says how many there were)
MAX_RANGES = 256

# MAX_PHYSMEM_BITS, the widest each architecture can be built with (x86_64 5-level paging,
# i386 PAE, arm64 52-bit PA); a PFN at or above 2**bits / page_size cannot exist.
_PHYS_BITS = {"x86_64": 52, "i386": 36, "arm64": 52}


def arch_limit_pfn(arch_name: str | None, word_size: int, page_size: int) -> int:
    """First PFN no machine of this architecture can have."""
    bits = _PHYS_BITS.get(arch_name or "", 8 * word_size - 1)
    return max(1, (1 << bits) // page_size)


def _merge_runs(r: cl.Runs, table: cl.IntervalTable) -> cl.Runs:
    """Join runs that touch, share a code and lie in the same map area (split only by an
    overlay bound)."""
    if len(r) < 2:
        return r
    area = table.area[r.interval]
    cont = (
        (r.start[1:] == r.end[:-1] + np.uint64(1))
        & (r.code[1:] == r.code[:-1])
        & (area[1:] == area[:-1])
    )
    head = np.concatenate(([True], ~cont))
    group = np.cumsum(head) - 1
    first = np.flatnonzero(head)
    last = np.concatenate((first[1:] - 1, [len(r) - 1]))
    count = np.bincount(group, weights=r.count).astype(np.int64)
    return cl.Runs(r.start[first], r.end[last], count, r.code[first], r.interval[first])


def _ranges(
    r: cl.Runs, table: cl.IntervalTable, sel: npt.NDArray[np.bool_], page_size: int
) -> tuple[tuple[PfnRange, ...], int]:
    idx = np.flatnonzero(sel)
    out = []
    for i in idx[:MAX_RANGES]:
        a = int(table.area[int(r.interval[i])])
        area = table.areas[a] if a >= 0 else None
        out.append(
            PfnRange(
                start_pfn=int(r.start[i]),
                end_pfn=int(r.end[i]),
                pages=int(r.count[i]),
                region=area.describe() if area else None,
                type=area.type if area else None,
                page_size=page_size,
            )
        )
    return tuple(out), int(idx.size)


def _value_ranges(values: np.ndarray, page_size: int) -> tuple[tuple[PfnRange, ...], int]:
    """Runs of consecutive distinct sorted ``values`` (PFNs) as ranges."""
    if not values.size:
        return (), 0
    brk = np.flatnonzero(np.diff(values.astype(np.uint64)) != np.uint64(1)) + 1
    first = np.concatenate(([0], brk))
    last = np.concatenate((brk - 1, [values.size - 1]))
    out = tuple(
        PfnRange(
            start_pfn=int(values[a]),
            end_pfn=int(values[b]),
            pages=int(b - a + 1),
            page_size=page_size,
        )
        for a, b in zip(first[:MAX_RANGES], last[:MAX_RANGES], strict=True)
    )
    return out, int(first.size)


def directory_findings(
    pfns: np.ndarray, c: cl.Classification, arch_name: str | None, word_size: int, n: int
) -> tuple[list[Finding], int, int]:
    """Order, duplicates and architecture limit of the PFN directory; with the duplicate count
    and the limit used."""
    out: list[Finding] = []
    strictly = c.input_sorted and cl.is_sorted(c.pfns, strict=True)
    dup_count = 0
    if not c.input_sorted:
        nd, first = cl.descents(pfns)
        out.append(
            finding(
                "pfn-unsorted",
                f"the PFN directory is not in ascending order ({plural(nd, 'descent')}, the first "
                f"at entry {first}); the kernel writes it ascending (a memory-bitmap walk)",
                details=DescentDetails(nd, int(first or 0)),
            )
        )
    if not strictly:
        dup_count, dup_vals = cl.duplicate_values(c.pfns)
        if dup_count:
            rng, total = _value_ranges(dup_vals, n)
            out.append(
                finding(
                    "pfn-duplicate",
                    f"{plural(dup_count, 'directory entry', 'directory entries')} "
                    f"{agree(dup_count, 'repeats', 'repeat')} a PFN already listed; the "
                    "kernel lists each saved page once",
                    pages=dup_count,
                    ranges=rng,
                    ranges_total=total,
                )
            )
    limit_pfn = arch_limit_pfn(arch_name, word_size, n)
    j = int(np.searchsorted(c.pfns, np.uint64(limit_pfn)))
    if j < c.pfns.size:
        vals = unique(c.pfns[j:][: MAX_RANGES * 64])
        rng, total = _value_ranges(vals, n)
        beyond = int(c.pfns.size) - j
        out.append(
            finding(
                "pfn-beyond-arch",
                f"{plural(beyond, 'saved PFN')} at or above {limit_pfn:#x}, the first PFN a "
                f"{arch_name or 'machine of this word size'} can not address",
                pages=beyond,
                ranges=rng,
                ranges_total=total,
                note=PHYSPAGES_NOTE,
            )
        )
    return out, dup_count, limit_pfn


def _regions(rng: tuple[PfnRange, ...]) -> str:
    regions = list(dict.fromkeys(r.region for r in rng if r.region))
    return ", ".join(regions[:4]) + (", ..." if len(regions) > 4 else "")


@dataclass(frozen=True)
class _Labelled:
    """What every label's finding reads: the classification, the per-code page counts and the
    flagged runs (joined within a map area)."""

    c: cl.Classification
    counts: np.ndarray
    flagged: cl.Runs

    @property
    def table(self) -> cl.IntervalTable:
        return self.c.table

    def present(self, code: int, *, needs_map: bool = True) -> bool:
        return bool((self.table.has_map or not needs_map) and self.counts[code])

    def of(self, code: int) -> tuple[int, tuple[PfnRange, ...], int]:
        """Pages with this code, their first ranges and how many ranges there are."""
        t = self.table
        rng, total = _ranges(self.flagged, t, self.flagged.code == code, t.page_size)
        return int(self.counts[code]), rng, total


def _saved_non_ram(lb: _Labelled) -> Finding:
    t = lb.table
    pages, rng, total = lb.of(cl.NON_RAM)
    per_iv = np.diff(lb.c.cuts)
    also = int(per_iv[(t.codes == cl.NON_RAM) & (t.nosave_source >= 0)].sum())
    return finding(
        "saved-non-ram",
        f"{plural(pages, 'saved page')} {agree(pages, 'is', 'are')} not RAM per the map "
        f"({_regions(rng)})",
        pages=pages,
        ranges=rng,
        ranges_total=total,
        note=NON_RAM_NOTE,
        details=NonRamDetails(also),
    )


def _saved_beyond_map(lb: _Labelled, map_end: int) -> Finding:
    pages, rng, total = lb.of(cl.BEYOND_MAP)
    return finding(
        "saved-beyond-map",
        f"{plural(pages, 'saved page')} {agree(pages, 'lies', 'lie')} beyond the end of the "
        f"map ({map_end:#x})",
        pages=pages,
        ranges=rng,
        ranges_total=total,
        note=PHYSPAGES_NOTE,
    )


def _saved_nosave(lb: _Labelled) -> Finding:
    t = lb.table
    flagged = lb.flagged
    pages, rng, total = lb.of(cl.NOSAVE)
    srcs = sorted(
        {
            t.nosave_sources[int(t.nosave_source[int(k)])]
            for k in flagged.interval[flagged.code == cl.NOSAVE]
            if t.nosave_source[int(k)] >= 0
        }
    )
    return finding(
        "saved-nosave",
        f"{plural(pages, 'saved page')} {agree(pages, 'lies', 'lie')} in the kernel's nosave "
        "regions "
        f"({', '.join(srcs)}): the kernel never saves them",
        pages=pages,
        ranges=rng,
        ranges_total=total,
        details=NosaveSources(tuple(srcs)),
    )


def _saved_partly_ram(lb: _Labelled) -> Finding:
    pages, rng, total = lb.of(cl.PARTLY_RAM)
    return finding(
        "saved-partly-ram",
        f"{plural(pages, 'saved page')} {agree(pages, 'is', 'are')} only partly RAM",
        pages=pages,
        ranges=rng,
        ranges_total=total,
        note=PARTLY_NOTE,
    )


def _saved_reserved_ram(lb: _Labelled, by_evidence: dict[str, int]) -> Finding:
    pages, rng, total = lb.of(cl.RESERVED_RAM)
    ev = ", ".join(f"{k} {v:,}" for k, v in by_evidence.items())
    return finding(
        "saved-reserved-ram",
        f"{plural(pages, 'saved page')} {agree(pages, 'is', 'are')} reserved RAM ({ev})",
        pages=pages,
        ranges=rng,
        ranges_total=total,
        note=QUIESCE_NOTE,
        details=EvidenceCounts(dict(by_evidence)),
    )


def label_findings(
    c: cl.Classification, counts: np.ndarray, by_evidence: dict[str, int], map_end: int
) -> list[Finding]:
    """One finding per label code present, with its runs of PFNs."""
    flagged = _merge_runs(
        cl.runs(c, [cl.RESERVED_RAM, cl.NOSAVE, cl.PARTLY_RAM, cl.NON_RAM, cl.BEYOND_MAP]), c.table
    )
    lb = _Labelled(c, counts, flagged)
    out: list[Finding] = []
    if lb.present(cl.NON_RAM):
        out.append(_saved_non_ram(lb))
    if lb.present(cl.BEYOND_MAP):
        out.append(_saved_beyond_map(lb, map_end))
    if lb.present(cl.NOSAVE, needs_map=False):
        out.append(_saved_nosave(lb))
    if lb.present(cl.PARTLY_RAM):
        out.append(_saved_partly_ram(lb))
    if lb.present(cl.RESERVED_RAM):
        out.append(_saved_reserved_ram(lb, by_evidence))
    return out


def label_counts(counts: np.ndarray) -> LabelCounts:
    d = cl.label_counts(counts)
    return LabelCounts(d["normal"], d["reserved-ram"], d["reserved-non-ram"], d["nosave"])


def pfn_stats(
    c: cl.Classification, zero: int, num_physpages: int, dup_count: int, limit_pfn: int
) -> PfnStats:
    return PfnStats(
        saved=int(c.pfns.size),
        zero=zero,
        min_pfn=int(c.pfns[0]) if c.pfns.size else None,
        max_pfn=int(c.pfns[-1]) if c.pfns.size else None,
        num_physpages=num_physpages,
        above_num_physpages=int(c.pfns.size - np.searchsorted(c.pfns, np.uint64(num_physpages))),
        sorted=c.input_sorted,
        duplicates=dup_count,
        arch_limit_pfn=limit_pfn,
    )


def strip_start(low: int, top: int) -> int:
    """Where the strip starts: PFN 0, unless RAM and the saved pages start above a quarter of
    the span (arm64's RAM at 1 GiB, ...): then there, aligned down to 256 pages."""
    if low * 4 <= top:
        return 0
    return low - low % 256


def strip_model(c: cl.Classification, lo: int, top: int, width: int) -> Strip:
    """The strip over ``[lo, top)`` PFNs."""
    sc = cl.strip(c, lo, top, width)
    cols = []
    for col in range(sc.saved.size):
        per = [int(sc.per_label[col, i]) for i in range(len(cl.LABELS))]
        d = dict(zip(cl.LABELS, per, strict=True))
        cols.append(
            StripColumn(
                d["normal"],
                d["reserved-ram"],
                d["reserved-non-ram"],
                d["nosave"],
                int(sc.saved[col]),
                int(sc.ram_pages[col]),
            )
        )
    return Strip(lo, int(sc.bounds[-1]), tuple(int(b) for b in sc.bounds), tuple(cols))
