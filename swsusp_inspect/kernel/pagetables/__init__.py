"""Virtual to physical translation through the hibernated kernel's own page tables.

One vectorised walker (numpy: many addresses at once, one read per distinct table page and
level) serves every architecture; an architecture is a list of levels plus how its entries
say "present", "large page / block" and "next table".  A walk has a fixed number of levels, so
a table that points at itself (a loop) cannot make it run forever; an entry pointing past the
largest physical address, or at a page the image did not save, ends that address's walk with a
reason (:class:`~swsusp_inspect.kernel.memory.TranslationError` for a single address).

Modules:
    :mod:`.walk` the walker (:class:`Paging`, :class:`Level`); :mod:`.x86` x86_64 and i386
    formats; :mod:`.arm64` arm64 formats; :mod:`.virtual` reads of kernel virtual memory
    (:class:`VirtualMemory`).

Supported:
    x86_64, 4-level (48-bit VA) and 5-level (57-bit, ``NUMBER(pgtable_l5_enabled)=1``)
        paging, 1 GiB (PDPTE.PS) and 2 MiB (PDE.PS) pages; entry address bits 12..51,
        without the SME encryption bit (``NUMBER(sme_mask)``).  Root: the arch record's
        ``cr3`` (the kernel CR3 at the snapshot, PCID bits already cleared), else
        ``init_top_pgt`` at ``SYMBOL(init_top_pgt) - __START_KERNEL_map + phys_base``.
    i386 PAE (``CONFIG_X86_PAE=y`` in VMCOREINFO): 4-entry PDPT (32-byte aligned), PD with 2
        MiB pages, PT, 8-byte entries; non-PAE: PD with 4 MiB PSE pages (PSE-36 bits 13..20 =
        physical bits 32..39), PT, 4-byte entries.  Root: the arch record's ``cr3``, else
        ``swapper_pg_dir - PAGE_OFFSET``.
    arm64 (VMSAv8-64 stage 1, TTBR1 half): 4, 16 and 64 KiB granules, VA size from
        ``NUMBER(TCR_EL1_T1SZ)`` (64 - T1SZ) else ``NUMBER(VA_BITS)``; blocks at levels 1 (4
        KiB granule) and 2; table descriptors ``0b11`` above level 3, page descriptors ``0b11``
        at level 3, blocks ``0b01``; output address bits 47..granule (64 KiB granule with
        52-bit PA: descriptor bits 15..12 hold PA bits 51..48).  Root: the arch record's
        ``ttbr1_el1`` (= ``__pa_symbol(swapper_pg_dir)``), else ``swapper_pg_dir -
        kimage_voffset``.  Not handled: FEAT_LPA2 (52-bit PA with 4/16 KiB granules, 6.9+).

KASLR moves the kernel image (``KERNELOFFSET``) and, on x86_64, the direct map
(``page_offset_base``) and ``vmemmap_base``: a walk through the image's own tables needs none of
these numbers, which is why every translation here goes through the tables.

References:
    arch/x86/include/asm/pgtable_types.h (``_PAGE_PRESENT``, ``_PAGE_PSE``), pgtable_64_types.h
    (4/5-level shifts), pgtable-3level_types.h / pgtable-2level_types.h (i386 PAE / non-PAE);
    Intel SDM vol. 3A ch. 4 (paging; PSE-36).  arch/arm64/include/asm/pgtable-hwdef.h
    (``PTE_TYPE_*``, ``PTE_ADDR_HIGH``), ARM ARM D8 (VMSAv8-64 translation).
    arch/x86/power/hibernate.c / hibernate_64.c (``restore_cr3``), arch/arm64/kernel/hibernate.c
    (``arch_hibernation_header_save``: ``ttbr1_el1 = __pa_symbol(swapper_pg_dir)``).
    drgn ``libdrgn/arch_x86_64.c`` / ``arch_aarch64.c`` ``linux_kernel_pgtable_iterator_next``;
    crash ``x86_64.c`` / ``arm64.c`` ``*_kvtop``.
"""

from __future__ import annotations

from swsusp_inspect.kernel.pagetables.arm64 import arm64_paging
from swsusp_inspect.kernel.pagetables.virtual import VirtualMemory
from swsusp_inspect.kernel.pagetables.walk import Level, Paging
from swsusp_inspect.kernel.pagetables.x86 import i386_paging, x86_64_paging

__all__ = ["Level", "Paging", "VirtualMemory", "arm64_paging", "i386_paging", "x86_64_paging"]
