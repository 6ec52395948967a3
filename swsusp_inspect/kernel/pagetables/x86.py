"""x86 page-table formats: x86_64 4- and 5-level paging, i386 PAE and non-PAE.

x86_64: 1 GiB (PDPTE.PS) and 2 MiB (PDE.PS) pages; entry address bits 12..51 without the SME
encryption bit.  i386 PAE: 4-entry PDPT (32-byte aligned), PD with 2 MiB pages, PT, 8-byte
entries; non-PAE: PD with 4 MiB PSE pages (PSE-36 bits 13..20 = physical bits 32..39), PT,
4-byte entries.

References:
    arch/x86/include/asm/pgtable_types.h (``_PAGE_PRESENT``, ``_PAGE_PSE``), pgtable_64_types.h
    (4/5-level shifts), pgtable-3level_types.h / pgtable-2level_types.h (i386 PAE / non-PAE);
    Intel SDM vol. 3A ch. 4 (paging; PSE-36).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from swsusp_inspect.kernel.memory import PhysicalMemory
from swsusp_inspect.kernel.pagetables.walk import U64, Decoder, Level, Paging

__all__ = ["i386_paging", "x86_64_paging"]

_X86_P = U64(1)
_X86_PS = U64(0x80)


def _x86_decoder(addr_mask: int) -> Decoder:
    mask = U64(addr_mask)

    def decode(
        e: npt.NDArray[np.uint64], li: int, last: bool
    ) -> tuple[
        npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.uint64], npt.NDArray[np.bool_]
    ]:
        present = (e & _X86_P) != 0
        leaf = (e & _X86_PS) != 0
        return present, leaf, e & mask, np.zeros(e.shape, dtype=bool)

    return decode


def x86_64_paging(
    mem: PhysicalMemory,
    root: int,
    *,
    five_level: bool = False,
    sme_mask: int = 0,
    max_physmem_bits: int = 52,
) -> Paging:
    """x86_64 4- or 5-level paging from the top-level table at physical ``root``."""
    levels: tuple[Level, ...] = (
        Level("PML4", 39, 9, False),
        Level("PDPT", 30, 9, True),
        Level("PD", 21, 9, True),
        Level("PT", 12, 9, False),
    )
    if five_level:
        levels = (Level("PML5", 48, 9, False), *levels)
    mask = 0x000FFFFFFFFFF000 & ~sme_mask
    return Paging(
        mem,
        "x86_64 5-level" if five_level else "x86_64 4-level",
        root & mask,
        levels=levels,
        entry_size=8,
        va_bits=57 if five_level else 48,
        decode=_x86_decoder(mask),
        max_phys=1 << max_physmem_bits,
    )


def _i386_nonpae_decode(
    e: npt.NDArray[np.uint64], li: int, last: bool
) -> tuple[
    npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.uint64], npt.NDArray[np.bool_]
]:
    present = (e & _X86_P) != 0
    leaf = (e & _X86_PS) != 0 if li == 0 else np.ones(e.shape, dtype=bool)
    table = e & U64(0xFFFFF000)
    # 4 MiB PSE page: bits 22..31, and PSE-36 bits 13..20 = physical bits 32..39
    big = (e & U64(0xFFC00000)) | (((e >> U64(13)) & U64(0xFF)) << U64(32))
    addr = np.where(leaf & (li == 0), big, table)
    return present, leaf, addr, np.zeros(e.shape, dtype=bool)


def i386_paging(mem: PhysicalMemory, root: int, *, pae: bool) -> Paging:
    """i386 paging: PAE (3 levels, 8-byte entries) or the classic 2-level format."""
    levels: tuple[Level, ...]
    if pae:
        levels = (Level("PDPT", 30, 2, False), Level("PD", 21, 9, True), Level("PT", 12, 9, False))
        mask = 0x000FFFFFFFFFF000
        return Paging(
            mem,
            "i386 PAE",
            root & 0xFFFFFFE0,
            levels=levels,
            entry_size=8,
            va_bits=32,
            decode=_x86_decoder(mask),
            max_phys=1 << 52,
            canonical="none",
            root_align=32,
        )
    levels = (Level("PD", 22, 10, True), Level("PT", 12, 10, False))
    return Paging(
        mem,
        "i386",
        root & 0xFFFFF000,
        levels=levels,
        entry_size=4,
        va_bits=32,
        decode=_i386_nonpae_decode,
        max_phys=1 << 40,
        canonical="none",
    )
