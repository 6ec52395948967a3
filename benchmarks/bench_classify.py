#!/usr/bin/env python3
"""Classify 64 M saved PFNs against a 200-region map: time and memory per PFN.

Not a test: run ``python benchmarks/bench_classify.py [--pfns N] [--regions R]``.  Prints the
time of each step and the peak memory the classifier allocates beyond the PFN array (numpy
reports its buffers to tracemalloc).  Target: <= 0.2 s and <= 10 bytes per PFN for the sorted
directory the kernel writes.

For comparison it also times the per-PFN approach (one ``searchsorted`` of every PFN among the
region bounds) that the classifier avoids, and the unsorted fallback.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from swsusp_inspect import classify as cl


def make_map(
    regions: int, span_pfns: int, rng: np.random.Generator
) -> tuple[list[int], list[int], list[int]]:
    """``regions`` regions over ``span_pfns`` pages, shaped like a firmware table: long RAM
    regions, each followed by a short non-RAM one (reserved, ACPI, NVS, unusable), a third of
    them followed by a hole too; every seventh RAM end not page-aligned."""
    pairs = max(1, regions // 2)
    cuts = np.sort(rng.choice(np.arange(2048, span_pfns), pairs - 1, replace=False)).tolist()
    cuts.append(span_pfns)
    starts, ends, types = [], [], []
    prev = 0
    for i, cut in enumerate(cuts):
        gap = int(rng.integers(2, 1024))
        hole = gap // 2 if rng.random() < 1 / 3 else 0
        ram_end = max(prev + 1, cut - gap) * 4096 - (0x400 if i % 7 == 3 else 0)
        starts += [prev * 4096, ram_end]
        ends += [ram_end - 1, (cut - hole) * 4096 - 1]
        types += [1, int(rng.choice([2, 3, 4, 5]))]
        prev = cut
    return starts, ends, types


def timed(fn, *args, **kw):  # type: ignore[no-untyped-def]
    tracemalloc.start()
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    dt = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, dt, peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pfns", type=int, default=64 << 20)
    ap.add_argument("--regions", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-slow", action="store_true", help="skip the per-PFN comparison")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = args.pfns
    span = n + n // 4
    starts, ends, types = make_map(args.regions, span, rng)
    # a sorted directory: every PFN but a random fifth of the span
    keep = rng.random(span) < n / span
    pfns = np.flatnonzero(keep).astype(np.uint64)[:n]
    del keep
    n = pfns.size
    print(
        f"{n:,} saved PFNs ({n * 8 / 2**20:,.0f} MiB of uint64), {len(starts)} regions, "
        f"numpy {np.__version__}"
    )

    table, dt, _ = timed(
        cl.build_table,
        4096,
        starts,
        ends,
        types,
        nosave=[(0, 0, "log")],
        reserved=[(0x1000000, 0x2FFFFFF, "Kernel code")],
    )
    print(f"interval table: {len(table)} intervals in {dt * 1000:.1f} ms")

    best, peak = float("inf"), 0
    c = None
    for _ in range(args.repeat):
        c, dt, pk = timed(cl.classify, pfns, table)
        best, peak = min(best, dt), max(peak, pk)
    assert c is not None and c.input_sorted
    print(
        f"classify (sorted, includes the sortedness check): {best:.3f} s best of "
        f"{args.repeat}, peak {peak / n:.2f} bytes/PFN beyond the input"
    )
    counts = cl.label_counts(c.code_counts())
    print("  labels:", ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    _, dt, pk = timed(cl.classify, pfns, table, assume_sorted=True)
    print(f"classify (sortedness known): {dt:.3f} s, peak {pk / n:.2f} bytes/PFN")
    flagged, dt, pk = timed(cl.runs, c, [cl.NOSAVE, cl.PARTLY_RAM, cl.NON_RAM, cl.BEYOND_MAP])
    print(
        f"runs of the unsafe labels ({len(flagged):,} runs): {dt:.3f} s, "
        f"peak {pk / n:.2f} bytes/PFN"
    )
    _, dt, pk = timed(cl.strip, c, 0, int(pfns[-1]) + 1, 64)
    print(f"address-space strip (64 columns): {dt:.3f} s")

    if not args.skip_slow:

        def per_pfn() -> np.ndarray:
            idx = np.searchsorted(table.bounds, pfns, side="right") - 1
            return table.codes[idx]

        slow, dt, pk = timed(per_pfn)
        assert np.array_equal(slow, c.labels)
        print(f"per-PFN searchsorted (avoided): {dt:.3f} s, peak {pk / n:.2f} bytes/PFN")

    shuffled = pfns.copy()
    rng.shuffle(shuffled[: n // 100])  # a directory out of order at its start
    u, dt, pk = timed(cl.classify, shuffled, table)
    assert not u.input_sorted and np.array_equal(u.labels, c.labels)
    print(f"classify (unsorted fallback: sorts a copy): {dt:.3f} s, peak {pk / n:.2f} bytes/PFN")


if __name__ == "__main__":
    main()
