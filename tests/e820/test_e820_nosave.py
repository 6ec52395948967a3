"""Nosave derivation under both rule sets, on tables whose answer is worked out by hand from the
kernel's loops (comments show the arithmetic)."""

from __future__ import annotations

import numpy as np
import pytest

from swsusp_inspect.e820.nosave import merge_calls, nosave_calls


def _t(entries: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.array([a for a, _, _ in entries], dtype=np.uint64),
        np.array([b + 1 for _, b, _ in entries], dtype=np.uint64),
        np.array([t for _, _, t in entries], dtype=np.uint32),
    )


# the QEMU sample table after "e820: update [mem 0x00000000-0x00000fff] usable ==> reserved"
QEMU_EDITED = [
    (0x0, 0xFFF, 2),
    (0x1000, 0x9FBFF, 1),
    (0x9FC00, 0x9FFFF, 2),
    (0xF0000, 0xFFFFF, 2),
    (0x100000, 0xBFD9FFF, 1),
    (0xBFDA000, 0xBFFFFFF, 2),
    (0xFFFC0000, 0xFFFFFFFF, 2),
    (0xFD00000000, 0xFFFFFFFFFF, 2),
]
LIMIT = 0xBFDA  # PFN_DOWN(0xbfda000): e820__end_of_ram_pfn


def test_post_2025_on_qemu_table() -> None:
    # RAM 0x1000: register(PFN_DOWN(0), PFN_UP(0x1000)) = (0, 1)
    # RAM 0x100000 after RAM ending 0x9fc00: (PFN_DOWN(0x9fc00), PFN_UP(0x100000)) = (0x9f, 0x100)
    # after the last RAM: (PFN_DOWN(0xbfda000), limit) = (0xbfda, 0xbfda): empty
    assert nosave_calls(*_t(QEMU_EDITED), LIMIT, "post-2025") == [(0, 1), (0x9F, 0x100)]


def test_pre_2025_on_qemu_table() -> None:
    # reserved 0-0xfff: (PFN_UP(0), PFN_DOWN(0x1000)) = (0, 1)
    # reserved 0x9fc00: hole (PFN_DOWN(0x9fc00)=0x9f, PFN_UP(0x9fc00)=0xa0); own (0xa0, 0xa0) empty
    # reserved 0xf0000: hole (0xa0, 0xf0), own (0xf0, 0x100); then RAM ends at 0xbfda: stop
    calls = nosave_calls(*_t(QEMU_EDITED), LIMIT, "pre-2025")
    assert calls == [(0, 1), (0x9F, 0xA0), (0xA0, 0xF0), (0xF0, 0x100)]
    assert merge_calls(calls) == merge_calls(nosave_calls(*_t(QEMU_EDITED), LIMIT, "post-2025"))


def test_subpage_ram_tail_differs() -> None:
    # RAM ends mid-page at 0x9f7ff, ACPI NVS 0x9f800-0x9ffff, RAM again from 0x100000
    table = [(0x0, 0x9F7FF, 1), (0x9F800, 0x9FFFF, 4), (0x100000, 0x1FFFFF, 1)]
    # pre-2025: hole (PFN_DOWN(0x9f800)=0x9f, PFN_UP(0x9f800)=0xa0), NVS own (0xa0, 0xa0) empty,
    # then hole (0xa0, 0x100): page 0x9f (half RAM) is nosave here too, by the hole rule
    assert merge_calls(nosave_calls(*_t(table), 0x200, "pre-2025")) == [(0x9F, 0xFF)]
    # a non-RAM entry strictly inside one page, next to RAM on both sides:
    table = [(0x0, 0x9F7FF, 1), (0x9F800, 0x9F8FF, 2), (0x9F900, 0x1FFFFF, 1)]
    # pre-2025: hole (0x9f, 0xa0); own (PFN_UP(0x9f800)=0xa0, PFN_DOWN(0x9f900)=0x9f) empty;
    # pfn is now PFN_DOWN(0x9f900)=0x9f < PFN_UP(0x9f900)=0xa0, so the RAM entry registers
    # (0x9f, 0xa0) a second time (printed twice; not merged, the previous end is 0xa0)
    assert nosave_calls(*_t(table), 0x200, "pre-2025") == [(0x9F, 0xA0), (0x9F, 0xA0)]
    # post-2025: (PFN_DOWN(0x9f800)=0x9f, PFN_UP(0x9f900)=0xa0)
    assert nosave_calls(*_t(table), 0x200, "post-2025") == [(0x9F, 0xA0)]
    # RAM that starts mid-page after reserved: the hole rule covers the partial page in both
    table = [(0x0, 0x9FFFF, 1), (0xA0000, 0xA07FF, 2), (0xA0800, 0x1FFFFF, 1)]
    # pre-2025: reserved own (PFN_UP(0xa0000)=0xa0, PFN_DOWN(0xa0800)=0xa0) empty, then the RAM
    # entry: pfn 0xa0 < PFN_UP(0xa0800)=0xa1 -> (0xa0, 0xa1)
    assert nosave_calls(*_t(table), 0x200, "pre-2025") == [(0xA0, 0xA1)]
    # post-2025: (PFN_DOWN(0xa0000)=0xa0, PFN_UP(0xa0800)=0xa1)
    assert nosave_calls(*_t(table), 0x200, "post-2025") == [(0xA0, 0xA1)]


def test_subpage_split_between_ram_entries() -> None:
    # setup_data carved out of RAM at non-page bounds (E820_RESERVED_KERN, as in the
    # "...017/...018" splits of ahuang007-linux-command-1): the old loop tracks the end by PFN
    # and finds a hole that is not there; the April 2025 fix does not
    table = [(0x100000, 0x7F53B017, 1), (0x7F53B018, 0x7F54BE57, 128), (0x7F54BE58, 0x7FFFFFFF, 1)]
    # pre-2025, entry 2: pfn = PFN_DOWN(0x7f53b018) = 0x7f53b < PFN_UP(0x7f53b018) = 0x7f53c
    # entry 3: pfn = PFN_DOWN(0x7f54be58) = 0x7f54b < PFN_UP(0x7f54be58) = 0x7f54c
    assert nosave_calls(*_t(table), 0x80000, "pre-2025") == [
        (0, 0x100),
        (0x7F53B, 0x7F53C),
        (0x7F54B, 0x7F54C),
    ]
    assert nosave_calls(*_t(table), 0x80000, "post-2025") == [(0, 0x100)]


def test_reserved_kern_counts_as_ram() -> None:
    table = [(0x0, 0xFFFF, 1), (0x10000, 0x10FFF, 128), (0x11000, 0x1FFFF, 1)]
    for rules in ("pre-2025", "post-2025"):
        assert nosave_calls(*_t(table), 0x20, rules) == []


def test_merge_is_the_kernels() -> None:
    # __register_nosave_region extends only the previous region
    assert merge_calls([(0, 1), (1, 3), (5, 6), (3, 4)]) == [(0, 2), (5, 5), (3, 3)]
    with pytest.raises(ValueError):
        nosave_calls(*_t([(0, 0xFFF, 1)]), 1, "2024")
