"""Kernel virtual addresses in legacy images -> physical page frames (PAGE_OFFSET).

Images written before 2.6.19 name each saved page by ``pbe->orig_address`` =
``page_address(page)``, a kernel direct-map virtual address, so ``PA = VA - PAGE_OFFSET``.

References:
    include/asm-i386/page.h: ``__PAGE_OFFSET (0xC0000000)`` fixed through 2.6.15 (2.4 and the
        2.6.9 tree ``HassebJ/linux-2.6.9``; v2.6.15 tag); ``CONFIG_PAGE_OFFSET`` from 2.6.16
        (arch/i386/Kconfig v2.6.16-v2.6.18: ``0xC0000000`` VMSPLIT_3G default, ``0xB0000000``
        VMSPLIT_3G_OPT, ``0x78000000`` VMSPLIT_2G, ``0x40000000`` VMSPLIT_1G).
        ``MAXMEM = -__PAGE_OFFSET - __VMALLOC_RESERVE`` with ``__VMALLOC_RESERVE = 128 MiB``:
        lowmem (the only memory with a direct-map address) ends 896 MiB above 0xC0000000.
    include/asm-x86_64/page.h: ``__PAGE_OFFSET 0x0000010000000000`` ("1 << 40") in 2.6.0-2.6.10
        (2.6.9 tree; the 4-level page-table patch for 2.6.10-rc1, 2004-10-25, changes it);
        ``0xffff810000000000`` from v2.6.11 to v2.6.26 (tags of ``bronson/linux-2.6.18.8-ovz-xen``;
        include/asm-x86/page_64.h from 2.6.24); ``0xffff880000000000`` from v2.6.27.
        ``__pa(x)`` subtracts ``__START_KERNEL_map`` (``0xffffffff80000000``) from kernel-text
        addresses instead (no relocatable x86_64 kernel before 2.6.22, so phys_base is 0).
    kernel/power/swsusp.c ``save_highmem()`` (2.6.0-2.6.19): i386 highmem pages are copied into
        lowmem buffers and restored from a list kept in memory: the image holds their contents
        under the PFNs of those buffers, never under their own PFNs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from swsusp_inspect.errors import FormatError
from swsusp_inspect.model.details import HighmemNote

X86_64_START_KERNEL_MAP = 0xFFFFFFFF80000000
VMALLOC_RESERVE = 128 << 20  # i386 __VMALLOC_RESERVE default (arch/i386/mm/init.c)

# (PAGE_OFFSET, where it is defined): largest first, so the first one at or below the lowest
# address is the tightest fit
I386_PAGE_OFFSETS: tuple[tuple[int, str], ...] = (
    (0xC0000000, "i386 __PAGE_OFFSET (include/asm-i386/page.h; VMSPLIT_3G, the default)"),
    (0xB0000000, "i386 CONFIG_PAGE_OFFSET for VMSPLIT_3G_OPT (arch/i386/Kconfig, 2.6.16+)"),
    (0x78000000, "i386 CONFIG_PAGE_OFFSET for VMSPLIT_2G (arch/i386/Kconfig, 2.6.16+)"),
    (0x40000000, "i386 CONFIG_PAGE_OFFSET for VMSPLIT_1G (arch/i386/Kconfig, 2.6.16+)"),
)
X86_64_PAGE_OFFSETS: tuple[tuple[int, int, str], ...] = (
    # (PAGE_OFFSET, size of the direct map, where it is defined)
    (0xFFFF880000000000, 1 << 46, "x86_64 __PAGE_OFFSET 2.6.27+ (include/asm-x86/page_64.h)"),
    (0xFFFF810000000000, 1 << 46, "x86_64 __PAGE_OFFSET 2.6.11-2.6.26 (include/asm-x86_64/page.h)"),
    (
        0x0000010000000000,
        1 << 40,
        "x86_64 __PAGE_OFFSET 2.6.0-2.6.10, '1 << 40' (include/asm-x86_64/page.h)",
    ),
)
# the kernel image (loaded at 1 MiB on i386, 1 MiB or 2 MiB on x86_64) is always saved: the
# lowest address of a real image lies within a few MiB of PAGE_OFFSET
_NEAR = 16 << 20


def i386_lowmem_pages(page_offset: int, page_size: int) -> int:
    """Pages of the i386 direct map: ``MAXMEM = -PAGE_OFFSET - VMALLOC_RESERVE``."""
    return max(0, (1 << 32) - page_offset - VMALLOC_RESERVE) // page_size


@dataclass(frozen=True)
class Translation:
    """How kernel virtual addresses were turned into PFNs."""

    page_offset: int
    how: str  # "given", "inferred", "assumed"
    reason: str
    kernel_text: int  # addresses translated through __START_KERNEL_map (x86_64)

    def to_details(self) -> dict[str, Any]:
        return {
            "page_offset": self.page_offset,
            "page_offset_how": self.how,
            "page_offset_reason": self.reason,
            "kernel_text_addresses": self.kernel_text,
        }


Locate = Callable[[int], tuple[str, int]]


def _error(locate: Locate, i: int, expected: str, found: int) -> FormatError:
    structure, at = locate(i)
    return FormatError(structure, at, "orig_address", expected, found)


def _choose_i386(direct: np.ndarray, page_size: int) -> tuple[int, str, str]:
    lo, hi = int(direct.min()), int(direct.max())
    for value, source in I386_PAGE_OFFSETS:
        if value <= lo and hi - value < i386_lowmem_pages(value, page_size) * page_size:
            near = lo - value < _NEAR
            how = "inferred" if near else "assumed"
            why = (
                f"{source}: the lowest saved address {lo:#x} lies "
                f"{(lo - value) >> 10:,} KiB above it"
            )
            if not near:
                why += " (no page near the start of the direct map was saved)"
            return value, how, why
    raise ValueError("no i386 PAGE_OFFSET fits")


def _choose_x86_64(direct: np.ndarray) -> tuple[int, str, str]:
    lo, hi = int(direct.min()), int(direct.max())
    for value, size, source in X86_64_PAGE_OFFSETS:
        if value <= lo and hi < value + size:
            return value, "inferred", f"{source}: every address lies in that direct map"
    raise ValueError("no x86_64 PAGE_OFFSET fits")


def translate(
    vas: np.ndarray,
    word_size: int,
    page_size: int,
    *,
    page_offset: int | None = None,
    locate: Locate,
) -> tuple[np.ndarray, Translation]:
    """PFNs of the kernel virtual addresses ``vas`` (``pbe->orig_address`` values).

    Args:
        vas: uint64 addresses, in data-page order.
        word_size: sizeof(long) of the writer (4: i386, 8: x86_64).
        page_size: N.
        page_offset: PAGE_OFFSET to use (``--page-offset``); None infers it from the addresses.
        locate: ``i -> (structure, file offset)`` of address ``i``, for messages.

    Raises:
        FormatError: an address that is not page-aligned, or not in any direct map (or not in
            the one given).
    """
    vas = vas.astype(np.uint64, copy=False)
    misaligned = np.flatnonzero(vas & np.uint64(page_size - 1))
    if misaligned.size:
        i = int(misaligned[0])
        raise _error(
            locate, i, f"a page-aligned kernel address (multiple of {page_size:#x})", int(vas[i])
        )
    text = (
        vas >= np.uint64(X86_64_START_KERNEL_MAP) if word_size == 8 else np.zeros(vas.shape, bool)
    )
    direct = vas[~text]
    how, reason = "given", "--page-offset"
    if page_offset is None:
        if not direct.size:
            page_offset, how, reason = 0, "assumed", "no direct-map address to infer it from"
        else:
            try:
                page_offset, how, reason = (
                    _choose_x86_64(direct) if word_size == 8 else _choose_i386(direct, page_size)
                )
            except ValueError:
                i = int(np.flatnonzero(~text)[int(np.argmin(direct))])
                known = ", ".join(
                    f"{v:#x}"
                    for v, *_ in (X86_64_PAGE_OFFSETS if word_size == 8 else I386_PAGE_OFFSETS)
                )
                raise _error(
                    locate,
                    i,
                    f"a kernel direct-map address (PAGE_OFFSET {known}; "
                    "give --page-offset for another)",
                    int(vas[i]),
                ) from None
    if word_size == 8:
        limit = next((size for v, size, _ in X86_64_PAGE_OFFSETS if v == page_offset), 1 << 46)
    else:
        limit = i386_lowmem_pages(page_offset, page_size) * page_size
    bad = np.flatnonzero(
        ~text
        & ((vas < np.uint64(page_offset)) | (vas - np.uint64(page_offset) >= np.uint64(limit)))
    )
    if bad.size:
        i = int(bad[0])
        raise _error(
            locate,
            i,
            f"an address in the direct map {page_offset:#x} .. "
            f"{page_offset + limit - 1:#x} (PAGE_OFFSET {how})",
            int(vas[i]),
        )
    shift = page_size.bit_length() - 1
    phys = np.where(text, vas - np.uint64(X86_64_START_KERNEL_MAP), vas - np.uint64(page_offset))
    pfns = (phys >> np.uint64(shift)).astype(np.uint64)
    return pfns, Translation(page_offset, how, reason, int(np.count_nonzero(text)))


def highmem_note(
    word_size: int, page_size: int, page_offset: int, num_physpages: int
) -> HighmemNote | None:
    """Facts about i386 highmem for eras that copied it with ``save_highmem()`` (else None).

    ``num_physpages`` is the highest PFN + 1 on i386 (``highend_pfn`` with highmem): pages at or
    above the end of lowmem are highmem.  Only those in use were copied; the count is a bound.
    """
    if word_size != 4:
        return None
    lowmem = i386_lowmem_pages(page_offset, page_size)
    above = max(0, num_physpages - lowmem)
    return HighmemNote(
        lowmem_end_pfn=lowmem,
        highmem_pfns=above,
        addressable_by_pfn=False,
        note=(
            f"highmem PFNs {lowmem:#x}..{num_physpages - 1:#x} (at most {above:,} pages in use) "
            "were copied into lowmem buffers by save_highmem(): their contents are in this "
            "image under the PFNs of those buffers, their own PFNs are not recorded"
            if above
            else "no highmem: num_physpages ends inside lowmem"
        ),
    )
