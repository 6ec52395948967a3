"""The numpy classifier against a slow pure-Python oracle, and its passes (runs, strip, flags).

The oracle reads the rules as the docstring of ``swsusp_inspect.classify`` states them, one page
at a time, with no interval table and no numpy: a page is RAM when the RAM regions cover all of
its bytes, beyond the map when it starts after the map's last byte, and so on.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from swsusp_inspect import classify as cl

RAM_TYPES = (1, 128)
TYPES = (1, 2, 3, 4, 5, 7, 12, 128, 0xEFFFFFFF)


def oracle(
    pfn: int,
    page: int,
    regions: list[tuple[int, int, int]] | None,
    nosave: list[tuple[int, int, str]],
    reserved: list[tuple[int, int, str]],
    flags: list[int] | None = None,
) -> int:
    lo, hi = pfn * page, (pfn + 1) * page - 1
    code = cl.NORMAL
    if regions is not None:
        map_end = max((e for _, e, _ in regions), default=-1)
        if lo > map_end:
            code = cl.BEYOND_MAP
        else:
            ram = 0
            for a, b, t in regions:
                if t in RAM_TYPES:
                    ram += max(0, min(b, hi) - max(a, lo) + 1)
            code = cl.NORMAL if ram == page else cl.PARTLY_RAM if ram else cl.NON_RAM
    if any(a <= pfn <= b for a, b, _ in nosave):
        code = max(code, cl.NOSAVE)
    if code == cl.NORMAL:
        if flags is not None:
            if pfn < len(flags) and flags[pfn] >> 32 & 1:
                code = cl.RESERVED_RAM
        elif any(a <= hi and b >= lo for a, b, _ in reserved):
            code = cl.RESERVED_RAM
    return code


@st.composite
def scenarios(draw: st.DrawFn) -> dict:
    page = draw(st.sampled_from([4096, 4096, 16384]))
    unit = draw(st.sampled_from([page, 0x400, 1]))
    npoints = draw(st.integers(0, 14))
    points = sorted(
        set(draw(st.lists(st.integers(0, 96 * page // unit), min_size=npoints, max_size=npoints)))
    )
    points = [p * unit for p in points]
    regions: list[tuple[int, int, int]] | None = []
    assert regions is not None
    for a, b in itertools.pairwise(points):
        t = draw(st.sampled_from((*TYPES, None)))  # None: a hole
        if t is not None and b > a:
            regions.append((a, b - 1, t))
    if draw(st.booleans()) and not regions:
        regions = None  # no map at all
    top = 110
    nosave = [
        (a, a + d, draw(st.sampled_from(["log", "System.map"])))
        for a, d in draw(st.lists(st.tuples(st.integers(0, top), st.integers(0, 6)), max_size=4))
    ]
    reserved = [
        (a * unit, a * unit + d, "Kernel code")
        for a, d in draw(
            st.lists(
                st.tuples(st.integers(0, 96 * page // unit), st.integers(0, 3 * page)), max_size=3
            )
        )
    ]
    pfns = draw(st.lists(st.integers(0, top), max_size=120))
    if draw(st.booleans()):
        pfns = sorted(pfns)
    return {"page": page, "regions": regions, "nosave": nosave, "reserved": reserved, "pfns": pfns}


def _table(sc: dict, reserved: bool = True) -> cl.IntervalTable:
    r = sc["regions"]
    args = (
        (None, None, None)
        if r is None
        else ([a for a, _, _ in r], [b for _, b, _ in r], [t for _, _, t in r])
    )
    return cl.build_table(
        sc["page"], *args, nosave=sc["nosave"], reserved=sc["reserved"] if reserved else []
    )


@settings(max_examples=examples(300), deadline=None)
@given(scenarios())
def test_classifier_equals_oracle(sc: dict) -> None:
    t = _table(sc)
    c = cl.classify(np.array(sc["pfns"], dtype=np.uint64), t)
    assert c.pfns.tolist() == sorted(sc["pfns"])
    want = [
        oracle(p, sc["page"], sc["regions"], sc["nosave"], sc["reserved"]) for p in c.pfns.tolist()
    ]
    assert c.labels.tolist() == want
    assert c.input_sorted == (sc["pfns"] == sorted(sc["pfns"]))


@settings(max_examples=examples(150), deadline=None)
@given(scenarios(), st.lists(st.sampled_from([0, 1 << 32, 1 << 10, (1 << 32) | 1]), max_size=130))
def test_kpageflags_relabel_equals_oracle(sc: dict, flags: list[int]) -> None:
    t = _table(sc, reserved=False)
    c = cl.classify(np.array(sc["pfns"], dtype=np.uint64), t)
    arr = np.array(flags, dtype=np.uint64)
    stats = cl.mark_reserved_flags(c, arr, chunk=7)
    want = [oracle(p, sc["page"], sc["regions"], sc["nosave"], [], flags) for p in c.pfns.tolist()]
    assert c.labels.tolist() == want
    covered = [p for p in c.pfns.tolist() if p < len(flags)]
    assert stats.covered == len(covered)
    assert stats.reserved == sum(1 for p in covered if flags[p] >> 32 & 1)
    assert stats.buddy == sum(1 for p in covered if flags[p] >> 10 & 1)


@settings(max_examples=examples(150), deadline=None)
@given(scenarios(), st.integers(1, 5))
def test_runs_rebuild_labels_and_respect_areas(sc: dict, chunk: int) -> None:
    t = _table(sc)
    c = cl.classify(np.array(sc["pfns"], dtype=np.uint64), t)
    r = cl.runs(c, chunk=chunk)
    assert int(r.count.sum()) == c.pfns.size
    rebuilt: list[int] = []
    for i in range(len(r)):
        a, b, k = int(r.start[i]), int(r.end[i]), int(r.interval[i])
        assert int(t.bounds[k]) <= a <= b < int(t.bounds[k + 1])
        inside = [p for p in c.pfns.tolist() if a <= p <= b]
        assert len(inside) == int(r.count[i])
        assert set(range(a, b + 1)) == set(inside)  # contiguous
        rebuilt += [int(r.code[i])] * int(r.count[i])
        if t.area[k] >= 0:
            area = t.areas[int(t.area[k])]
            lo, hi = a * sc["page"], (b + 1) * sc["page"] - 1
            if area.end is None:  # beyond the map
                assert hi >= area.start
            else:
                assert area.start <= hi and area.end >= lo  # the area touches the run
            if int(r.code[i]) in (cl.NON_RAM, cl.PARTLY_RAM):
                assert area.type not in RAM_TYPES
    assert rebuilt == c.labels.tolist()
    only = cl.runs(c, [cl.NON_RAM, cl.NOSAVE])
    assert set(only.code.tolist()) <= {cl.NON_RAM, cl.NOSAVE}
    assert int(only.count.sum()) == int(np.isin(c.labels, [cl.NON_RAM, cl.NOSAVE]).sum())


@settings(max_examples=examples(100), deadline=None)
@given(scenarios(), st.integers(1, 40))
def test_strip_counts_add_up(sc: dict, width: int) -> None:
    t = _table(sc)
    c = cl.classify(np.array(sc["pfns"], dtype=np.uint64), t)
    top = int(c.pfns[-1]) + 1 if c.pfns.size else 1
    s = cl.strip(c, 0, top, width)
    assert int(s.saved.sum()) == c.pfns.size
    assert int(s.per_label.sum()) == c.pfns.size
    counts = cl.label_counts(c.code_counts())
    for i, lab in enumerate(cl.LABELS):
        assert int(s.per_label[:, i].sum()) == counts[lab]
    if sc["regions"] is not None:
        ram_pages = sum(
            1
            for p in range(int(s.bounds[-1]))
            if oracle(p, sc["page"], sc["regions"], [], []) == cl.NORMAL
        )
        assert int(s.ram_pages.sum()) == ram_pages


def test_real_style_map_intervals() -> None:
    # the QEMU map of the samples: the page 0x9f is partly RAM, 0xa0-0xef a hole
    starts = [0x0, 0x9FC00, 0xF0000, 0x100000, 0xBFDA000]
    ends = [0x9FBFF, 0x9FFFF, 0xFFFFF, 0xBFD9FFF, 0xBFFFFFF]
    t = cl.build_table(4096, starts, ends, [1, 2, 2, 1, 2], nosave=[(0, 0, "log")])
    c = cl.classify(
        np.array(
            [0, 1, 0x9E, 0x9F, 0xA0, 0xEF, 0xF0, 0x100, 0xBFD9, 0xBFDA, 0xC000, 0x100000],
            dtype=np.uint64,
        ),
        t,
    )
    assert c.labels.tolist() == [
        cl.NOSAVE,
        cl.NORMAL,
        cl.NORMAL,
        cl.PARTLY_RAM,
        cl.NON_RAM,
        cl.NON_RAM,
        cl.NON_RAM,
        cl.NORMAL,
        cl.NORMAL,
        cl.NON_RAM,
        cl.BEYOND_MAP,
        cl.BEYOND_MAP,
    ]
    r = cl.runs(c, [cl.PARTLY_RAM, cl.NON_RAM])
    described = [t.areas[int(t.area[int(k)])].describe() for k in r.interval]
    assert described == [
        "reserved 0x9fc00-0x9ffff",
        "hole 0xa0000-0xeffff",
        "hole 0xa0000-0xeffff",
        "reserved 0xf0000-0xfffff",
        "reserved 0xbfda000-0xbffffff",
    ]


def test_unsorted_and_duplicates_helpers() -> None:
    a = np.array([5, 3, 3, 9, 1, 10, 11], dtype=np.uint64)
    assert not cl.is_sorted(a)
    assert cl.descents(a, chunk=2) == (2, 1)
    s = np.sort(a)
    assert cl.is_sorted(s) and not cl.is_sorted(s, strict=True)
    count, vals = cl.duplicate_values(s, chunk=2)
    assert count == 1 and vals.tolist() == [3]


@pytest.mark.parametrize("chunk", [1, 3, 1 << 20])
def test_runs_merge_across_chunks(chunk: int) -> None:
    t = cl.build_table(4096, [0], [(1 << 30) - 1], [1])
    pfns = np.array([1, 2, 3, 4, 5, 7, 8, 9, 20], dtype=np.uint64)
    c = cl.classify(pfns, t)
    r = cl.runs(c, chunk=chunk)
    assert list(zip(r.start.tolist(), r.end.tolist(), strict=True)) == [(1, 5), (7, 9), (20, 20)]
