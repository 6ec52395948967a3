"""Sanitizing: the numpy implementation equals a literal port of the kernel's change-point
algorithm (arch/x86/kernel/e820.c e820__update_table, 6.x) on random overlapping maps."""

from __future__ import annotations

import numpy as np
from helpers import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from swsusp_inspect.e820.sanitize import apply_remove, apply_update, sanitize

PRAM = 12


def kernel_sanitize(entries: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Slow reference: change points sorted by address, starts before ends on ties."""
    points = []
    for idx, (addr, size, _typ) in enumerate(entries):
        if size:
            points.append((addr, 0, idx))  # start
            points.append((addr + size, 1, idx))  # end
    # cpcompare: by address, then "end of its region" sorts after a start
    points.sort(key=lambda p: (p[0], p[1]))
    overlap: list[int] = []
    new: list[list[int]] = []
    last_type = 0
    last_addr = 0
    for addr, is_end, idx in points:
        if not is_end:
            overlap.append(idx)
        else:
            overlap.remove(idx)
        current = max((entries[i][2] for i in overlap), default=0)
        if current != last_type or current == PRAM:
            if last_type != 0:
                new[-1][1] = addr - last_addr
                if new[-1][1] == 0:
                    new.pop()
            if current != 0:
                new.append([addr, 0, current])
                last_addr = addr
            last_type = current
    return [(a, z, t) for a, z, t in new]


def numpy_sanitize(entries: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    s = np.array([e[0] for e in entries], dtype=np.uint64)
    e = np.array([e[0] + e[1] for e in entries], dtype=np.uint64)
    t = np.array([e[2] for e in entries], dtype=np.uint32)
    os_, oe, ot = sanitize(s, e, t)
    return [(int(a), int(b) - int(a), int(c)) for a, b, c in zip(os_, oe, ot, strict=True)]


entry = st.tuples(
    st.integers(0, 64).map(lambda x: x * 0x400),
    st.integers(0, 16).map(lambda x: x * 0x400),
    st.sampled_from([1, 2, 3, 4, 5, 7, 12, 20, 128]),
)
maps = st.lists(entry, min_size=0, max_size=24)
# the 1 KiB painting reference cannot keep PRAM entry boundaries (never merged): leave PRAM out
maps_no_pram = st.lists(entry.filter(lambda e: e[2] != PRAM), min_size=0, max_size=24)


@settings(max_examples=examples(300), deadline=None)
@given(maps)
def test_numpy_equals_kernel_reference(entries: list[tuple[int, int, int]]) -> None:
    assert numpy_sanitize(entries) == kernel_sanitize(entries)


@settings(max_examples=examples(200), deadline=None)
@given(maps)
def test_sanitize_is_idempotent(entries: list[tuple[int, int, int]]) -> None:
    once = numpy_sanitize(entries)
    assert numpy_sanitize(once) == once


def test_documented_example() -> None:
    # the comment above e820__update_table: a usable map with a reserved island
    got = numpy_sanitize([(0, 0x8000, 1), (0x2000, 0x1000, 2), (0x7000, 0x2000, 1)])
    assert got == [(0, 0x2000, 1), (0x2000, 0x1000, 2), (0x3000, 0x6000, 1)]
    # PRAM neighbours are never merged
    assert numpy_sanitize([(0, 0x1000, PRAM), (0x1000, 0x1000, PRAM)]) == [
        (0, 0x1000, PRAM),
        (0x1000, 0x1000, PRAM),
    ]


def _paint(
    entries: list[tuple[int, int, int]], lo: int, hi: int, old: int, new: int | None
) -> list[tuple[int, int, int]]:
    """Reference edit on a 1 KiB grid: retype (new) or drop (new None) old-typed cells."""
    cells: dict[int, int] = {}
    for a, z, t in numpy_sanitize(entries):
        for c in range(a // 0x400, (a + z) // 0x400):
            cells[c] = t
    for c in range(lo // 0x400, hi // 0x400):
        if cells.get(c) == old:
            if new is None:
                del cells[c]
            else:
                cells[c] = new
    return numpy_sanitize([(c * 0x400, 0x400, t) for c, t in sorted(cells.items())])


@settings(max_examples=examples(200), deadline=None)
@given(maps_no_pram, st.integers(0, 80), st.integers(0, 30), st.sampled_from([1, 2]))
def test_edits_equal_painting(
    entries: list[tuple[int, int, int]], lo: int, n: int, old: int
) -> None:
    lo_a, hi_a = lo * 0x400, (lo + n) * 0x400
    s, e, t = sanitize(
        np.array([x[0] for x in entries], dtype=np.uint64),
        np.array([x[0] + x[1] for x in entries], dtype=np.uint64),
        np.array([x[2] for x in entries], dtype=np.uint32),
    )
    us, ue, ut = apply_update(s, e, t, lo_a, hi_a, old=old, new=4)
    got = [(int(a), int(b) - int(a), int(c)) for a, b, c in zip(us, ue, ut, strict=True)]
    assert got == _paint(entries, lo_a, hi_a, old, 4)
    rs, re_, rt = apply_remove(s, e, t, lo_a, hi_a, old=old)
    got = [(int(a), int(b) - int(a), int(c)) for a, b, c in zip(rs, re_, rt, strict=True)]
    assert got == _paint(entries, lo_a, hi_a, old, None)
