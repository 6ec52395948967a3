"""Where the hibernated kernel's page tables start: the candidate roots, best first.

The arch record saved with the image gives the root the kernel ran on (x86 ``cr3``, arm64
``ttbr1_el1``); VMCOREINFO gives a second one through a symbol (x86_64 ``init_top_pgt``
relocated by ``phys_base``, i386 and arm64 ``swapper_pg_dir``).  Each candidate is a label and
a factory for the :class:`~swsusp_inspect.kernel.pagetables.walk.Paging`; the caller builds
and checks them in order.

References:
    arch/x86/power/hibernate.c / hibernate_64.c (``restore_cr3``), arch/arm64/kernel/hibernate.c
    (``arch_hibernation_header_save``: ``ttbr1_el1 = __pa_symbol(swapper_pg_dir)``).
    arch/x86/kernel/vmcore_info_64.c (machine_kexec_64.c before 6.9): ``phys_base``,
    ``init_top_pgt``, ``pgtable_l5_enabled``, ``sme_mask``; vmcore_info_32.c:
    ``CONFIG_X86_PAE=y``; arch/arm64/kernel/vmcore_info.c (crash_core.c before 6.9):
    ``VA_BITS``, ``kimage_voffset``, ``TCR_EL1_T1SZ``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from swsusp_inspect.kernel.memory import PhysicalMemory
from swsusp_inspect.kernel.pagetables.arm64 import arm64_paging
from swsusp_inspect.kernel.pagetables.walk import Paging
from swsusp_inspect.kernel.pagetables.x86 import i386_paging, x86_64_paging
from swsusp_inspect.kernel.vmcoreinfo import VmcoreInfo
from swsusp_inspect.model import ArchRecord

__all__ = [
    "I386_PAGE_OFFSET",
    "X86_64_START_KERNEL_MAP",
    "Candidate",
    "paging_candidates",
    "record_pagings",
]

X86_64_START_KERNEL_MAP = 0xFFFFFFFF80000000  # __START_KERNEL_map
I386_PAGE_OFFSET = 0xC0000000  # Debian's VMSPLIT_3G

Candidate = tuple[str, Callable[[], Paging]]  # (which root, how to build the paging)


def paging_candidates(
    mem: PhysicalMemory,
    arch: str | None,
    info: VmcoreInfo | None,
    rec: ArchRecord | None,
    *,
    page_size: int,
) -> list[Candidate]:
    """Every root the arch record and VMCOREINFO give for ``arch``, the record's first."""
    if arch == "x86_64":
        return _x86_64_candidates(mem, info, rec)
    if arch == "i386":
        return _i386_candidates(mem, info, rec)
    if arch == "arm64":
        return _arm64_candidates(mem, info, rec, page_size=page_size)
    return []


def record_pagings(
    mem: PhysicalMemory, rec: ArchRecord, *, page_size: int
) -> list[Callable[[], Paging]]:
    """Pagings from the arch record alone (before VMCOREINFO is read): arm64's VA_BITS is in
    VMCOREINFO, so every configuration Linux offers is tried."""
    if rec.name == "x86_64" and rec.cr3:
        return [functools.partial(x86_64_paging, mem, rec.cr3)]
    if rec.name == "i386" and rec.cr3:
        return [functools.partial(i386_paging, mem, rec.cr3, pae=pae) for pae in (True, False)]
    if rec.name == "arm64" and rec.ttbr1_el1:
        return [
            functools.partial(arm64_paging, mem, rec.ttbr1_el1, page_size=page_size, va_bits=bits)
            for bits in (48, 47, 52, 39, 42, 36)
        ]
    return []


def _number(info: VmcoreInfo | None, name: str, default: int) -> int:
    v = None if info is None else info.number(name)
    return default if v is None else v


def _x86_64_candidates(
    mem: PhysicalMemory, info: VmcoreInfo | None, rec: ArchRecord | None
) -> list[Candidate]:
    five = _number(info, "pgtable_l5_enabled", 0) == 1
    sme = _number(info, "sme_mask", 0)
    bits = _number(info, "MAX_PHYSMEM_BITS", 52)
    roots = []
    if rec is not None and rec.cr3:
        roots.append(("cr3", rec.cr3))
    if info is not None and info.symbol("init_top_pgt") is not None:
        roots.append(
            (
                "init_top_pgt",
                info.symbols["init_top_pgt"]
                - X86_64_START_KERNEL_MAP
                + _number(info, "phys_base", 0),
            )
        )
    return [
        (
            label,
            functools.partial(
                x86_64_paging, mem, root, five_level=five, sme_mask=sme, max_physmem_bits=bits
            ),
        )
        for label, root in roots
    ]


def _i386_candidates(
    mem: PhysicalMemory, info: VmcoreInfo | None, rec: ArchRecord | None
) -> list[Candidate]:
    pae_cfg = None if info is None else info.configs.get("X86_PAE")
    modes = [pae_cfg == "y"] if info is not None else [True, False]
    page_offset = I386_PAGE_OFFSET
    if rec is not None and rec.jump_address and rec.jump_address_phys:
        page_offset = rec.jump_address - rec.jump_address_phys
    roots = []
    if rec is not None and rec.cr3:
        roots.append(("cr3", rec.cr3))
    if info is not None and info.symbol("swapper_pg_dir") is not None:
        roots.append(("swapper_pg_dir", info.symbols["swapper_pg_dir"] - page_offset))
    return [
        (label, functools.partial(i386_paging, mem, root, pae=pae))
        for label, root in roots
        for pae in modes
    ]


def _arm64_candidates(
    mem: PhysicalMemory, info: VmcoreInfo | None, rec: ArchRecord | None, *, page_size: int
) -> list[Candidate]:
    t1sz = None if info is None else info.number("TCR_EL1_T1SZ")
    va_bits = 64 - t1sz if t1sz else _number(info, "VA_BITS", 48)
    roots = []
    if rec is not None and rec.ttbr1_el1:
        roots.append(("ttbr1_el1", rec.ttbr1_el1))
    if (
        info is not None
        and info.symbol("swapper_pg_dir") is not None
        and info.number("kimage_voffset") is not None
    ):
        roots.append(
            (
                "swapper_pg_dir",
                (info.symbols["swapper_pg_dir"] - info.numbers["kimage_voffset"])
                & 0xFFFFFFFFFFFFFFFF,
            )
        )
    return [
        (label, functools.partial(arm64_paging, mem, root, page_size=page_size, va_bits=va_bits))
        for label, root in roots
    ]
