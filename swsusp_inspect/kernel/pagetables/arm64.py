"""arm64 page-table formats: VMSAv8-64 stage 1, the TTBR1 half.

4, 16 and 64 KiB granules; blocks at levels 1 (4 KiB granule) and 2; table descriptors
``0b11`` above level 3, page descriptors ``0b11`` at level 3, blocks ``0b01``; output address
bits 47..granule (64 KiB granule with 52-bit PA: descriptor bits 15..12 hold PA bits 51..48).
Not handled: FEAT_LPA2 (52-bit PA with 4/16 KiB granules, 6.9+).

References:
    arch/arm64/include/asm/pgtable-hwdef.h (``PTE_TYPE_*``, ``PTE_ADDR_HIGH``), ARM ARM D8
    (VMSAv8-64 translation); arch/arm64/kernel/hibernate.c (``arch_hibernation_header_save``:
    ``ttbr1_el1 = __pa_symbol(swapper_pg_dir)``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from swsusp_inspect.kernel.memory import KernelDataError, PhysicalMemory
from swsusp_inspect.kernel.pagetables.walk import U64, Decoder, Level, Paging

__all__ = ["arm64_paging"]


def _arm64_decoder(page_shift: int) -> Decoder:
    # output address bits 47..page_shift; with 64 KiB pages bits 15..12 hold PA 51..48
    oa = U64(((1 << 48) - 1) & ~((1 << page_shift) - 1))

    def decode(
        e: npt.NDArray[np.uint64], li: int, last: bool
    ) -> tuple[
        npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.uint64], npt.NDArray[np.bool_]
    ]:
        kind = e & U64(3)
        present = (kind & U64(1)) != 0
        if last:
            leaf = kind == U64(3)
            bad = kind == U64(1)  # a block descriptor is reserved at level 3
        else:
            leaf = kind == U64(1)
            bad = np.zeros(e.shape, dtype=bool)
        addr = e & oa
        if page_shift == 16:
            addr = addr | (((e >> U64(12)) & U64(0xF)) << U64(48))
        return present, leaf, addr, bad

    return decode


def arm64_paging(mem: PhysicalMemory, root: int, *, page_size: int, va_bits: int) -> Paging:
    """arm64 TTBR1 translation for ``page_size`` granule and ``va_bits`` virtual bits."""
    shift = page_size.bit_length() - 1
    if page_size not in (4096, 16384, 65536) or not 25 <= va_bits <= 52:
        raise KernelDataError(
            "arm64 translation regime",
            None,
            "granule / VA bits",
            "4/16/64 KiB and 25..52 bits",
            f"{page_size} / {va_bits}",
        )
    per = shift - 3  # index bits per level
    n_levels = -(-(va_bits - shift) // per)
    levels = []
    for k in range(n_levels):
        lvl_no = 4 - n_levels + k  # architectural level number (0..3)
        lshift = shift + per * (n_levels - 1 - k)
        bits = min(per, va_bits - lshift)
        # blocks: level 1 only with 4 KiB granules, level 2 always; never at the top level
        leaf_ok = k > 0 and (lvl_no == 2 or (lvl_no == 1 and page_size == 4096))
        levels.append(Level(f"L{lvl_no}", lshift, bits, leaf_ok))
    # TTBR1_EL1.BADDR: bits 47..1 (CnP in bit 0, ASID in 63..48)
    base = root & 0x0000FFFFFFFFFFFE
    return Paging(
        mem,
        f"arm64 {page_size // 1024}K {va_bits}-bit",
        base,
        levels=tuple(levels),
        entry_size=8,
        va_bits=va_bits,
        decode=_arm64_decoder(shift),
        max_phys=1 << 52,
        canonical="upper",
        root_align=8,
    )
