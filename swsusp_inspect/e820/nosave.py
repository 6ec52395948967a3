"""Nosave PFN ranges the x86 kernel registers from its e820 table.

References:
    arch/x86/kernel/e820.c ``e820__register_nosave_regions(limit_pfn)``
    (``e820_mark_nosave_regions`` 2.6.22 -> 4.10), called from ``setup_arch()`` with
    ``max_pfn``, on the kernel's *edited* ``e820_table`` (after ``e820: update``/``remove``),
    not on the firmware table.

    * pre-2025 rules (2.6.22 -> 6.14, and stable kernels before April 2025): for every entry, the
      hole before it ``[pfn, PFN_UP(addr))`` and, for a non-RAM entry, ``[PFN_UP(addr),
      PFN_DOWN(end))``; stop once ``PFN_DOWN(end) >= limit_pfn``.  A page partly RAM is saved.
    * post-2025 rules ("x86/e820: Fix handling of subpage regions when calculating nosave ranges
      in e820__register_nosave_regions()", April 2025, 6.15 and stable backports such as 6.14.3,
      6.12.24 and the 6.1.y series): only RAM entries count; ``[PFN_DOWN(last RAM end),
      PFN_UP(next RAM start))`` between them and ``[PFN_DOWN(last RAM end), limit_pfn)`` after the
      last one.  A page partly non-RAM is not saved.
    In both, E820_RESERVED_KERN counts as RAM where the kernel still has it.

    kernel/power/snapshot.c ``__register_nosave_region()``: ignores empty ranges, extends the
    previous region when the new one starts where it ends, and prints its own arguments
    (``Registered nosave memory: [mem A-B]``, inclusive, 3.11+; ``%016lx - %016lx`` exclusive
    before), so the printed pieces are the calls, and the list holds the merged ranges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from swsusp_inspect.e820.types import RAM_TYPES

__all__ = [
    "PAGE_SHIFT",
    "RULES",
    "NosaveMatch",
    "compare_with_log",
    "end_of_ram_pfn",
    "merge_calls",
    "nosave_calls",
]

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT
RULES = ("pre-2025", "post-2025")
# x86_64 MAX_ARCH_PFN with 4-level paging (the "max_arch_pfn = 0x400000000" of boot logs)
MAX_ARCH_PFN = 1 << (46 - PAGE_SHIFT)


def _pfn_up(addr: int) -> int:
    return (addr + PAGE_SIZE - 1) >> PAGE_SHIFT


def _pfn_down(addr: int) -> int:
    return addr >> PAGE_SHIFT


def end_of_ram_pfn(
    starts: npt.NDArray[np.uint64],
    ends_excl: npt.NDArray[np.uint64],
    types: npt.NDArray[np.uint32],
    limit_pfn: int = MAX_ARCH_PFN,
) -> int:
    """``e820__end_of_ram_pfn()``: the kernel's ``max_pfn`` for this table (type 1 only)."""
    ram = types == 1
    s = starts[ram] >> np.uint64(PAGE_SHIFT)
    e = ends_excl[ram] >> np.uint64(PAGE_SHIFT)
    usable = s < limit_pfn
    if not usable.any():
        return 0
    return int(min(int(e[usable].max()), limit_pfn))


def nosave_calls(
    starts: Sequence[int] | npt.NDArray[np.uint64],
    ends_excl: Sequence[int] | npt.NDArray[np.uint64],
    types: Sequence[int] | npt.NDArray[np.uint32],
    limit_pfn: int,
    rules: str = "post-2025",
) -> list[tuple[int, int]]:
    """The ``register_nosave_region(start_pfn, end_pfn)`` calls (end exclusive) that print a line.

    One iteration per e820 entry (a table has at most a few hundred), as the kernel loops.
    """
    if rules not in RULES:
        raise ValueError(f"rules must be one of {RULES}, not {rules!r}")
    calls: list[tuple[int, int]] = []

    def register(lo: int, hi: int) -> None:
        if lo < hi:  # __register_nosave_region returns early on empty ranges
            calls.append((lo, hi))

    entries = [(int(s), int(e), int(t)) for s, e, t in zip(starts, ends_excl, types, strict=True)]
    if rules == "pre-2025":
        pfn = 0
        for addr, end, typ in entries:
            if pfn < _pfn_up(addr):
                register(pfn, _pfn_up(addr))
            pfn = _pfn_down(end)
            if typ not in RAM_TYPES:
                register(_pfn_up(addr), pfn)
            if pfn >= limit_pfn:
                break
    else:
        last_addr = 0
        for addr, end, typ in entries:
            if typ not in RAM_TYPES:
                continue
            if last_addr < addr:
                register(_pfn_down(last_addr), _pfn_up(addr))
            last_addr = end
        register(_pfn_down(last_addr), limit_pfn)
    return calls


def merge_calls(calls: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The region list after ``__register_nosave_region()`` merging, as (start, end inclusive)."""
    merged: list[list[int]] = []
    for lo, hi in calls:
        if lo >= hi:
            continue
        if merged and merged[-1][1] == lo:
            merged[-1][1] = hi
        else:
            merged.append([lo, hi])
    return [(lo, hi - 1) for lo, hi in merged]


@dataclass(frozen=True)
class NosaveMatch:
    """How one rule set compares with the log's nosave lines.

    Attributes:
        rules: "pre-2025" or "post-2025".
        lines: the printed pieces equal the derived ``register_nosave_region()`` calls.
        ranges: the merged ranges are equal (the pieces may still differ).
        prefix: the printed pieces are the first derived calls (a capture cut short).
    """

    rules: str
    lines: bool
    ranges: bool
    prefix: bool = False


def compare_with_log(
    derived_calls: dict[str, list[tuple[int, int]]],
    log_calls: list[tuple[int, int]] | None,
    log_ranges: list[tuple[int, int]],
) -> list[NosaveMatch]:
    """Compare each rule set's calls with the log (``log_calls`` None: only merged ranges known)."""
    out = []
    for rules, calls in derived_calls.items():
        same_lines = log_calls is not None and calls == log_calls
        prefix = bool(log_calls) and calls[: len(log_calls or ())] == log_calls
        out.append(NosaveMatch(rules, same_lines, merge_calls(calls) == log_ranges, prefix))
    return out
