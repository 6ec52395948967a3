"""Legacy kernel hibernation layouts (2.4/2.5 patches -> 2.6.19), read by content alone.

References (kernel file, version read; offsets for sizeof(long) = L):
    2.4/2.5 swsusp patch (kernel/suspend.c, Machek, 2002-05 for 2.4.18/2.5.17) and
    kernel/power/swsusp.c 2.6.0-2.6.8: ``union diskpage { union swap_header swh; struct link
        { char dummy[PAGE_SIZE - sizeof(swp_entry_t)]; swp_entry_t next; } link; struct
        suspend_header sh; }``; ``struct suspend_header { u32 version_code; unsigned long
        num_physpages; char machine[8]; char version[20]; int num_cpus; int page_size;
        suspend_pagedir_t *suspend_pagedir; unsigned int num_pbes; [struct swap_location
        {char filename[32];} swap_location[MAX_SWAPFILES] until 2004-01] }`` (include/linux/
        suspend.h); ``typedef struct pbe { unsigned long address, orig_address; swp_entry_t
        swap_address; swp_entry_t dummy; }``.  ``write_suspend_image()``: data pages, then the
        contiguous pbe array of ``SUSPEND_PD_PAGES(n) = n * sizeof(pbe) / PAGE_SIZE + 1`` pages
        (``link.next`` = the previously written pagedir page, 0 for the first), then the
        ``suspend_header`` page (``link.next`` = the last pagedir page), then
        ``mark_swapfiles()``: magic ``SUSP1R....``/``SUSP2R....`` (patch) or ``S1SUSP....``/
        ``S2SUSP....`` (2.5.48-2.6.8) whose last L bytes are overwritten by ``link.next`` = the
        header page; resume compares 6 (patch) or 2 (2.6) bytes.  Pointers are read as
        ``SWP_OFFSET(e) * PAGE_SIZE`` of the resume device: before 2.5.19 the i386 pte encoding
        ``SWP_OFFSET(e) = e >> 8`` (include/asm-i386/pgtable.h), from 2.5.19 the generic
        ``swp_offset(e) = e & (2**(8L-5) - 1)`` (include/linux/swapops.h, MAX_SWAPFILES_SHIFT 5).
    kernel/power/pmdisk.c 2.6.0-2.6.8: ``pmdisk_header { char reserved[PAGE_SIZE - 20 -
        sizeof(swp_entry_t)]; swp_entry_t pmdisk_info; char orig_sig[10]; char sig[10]; }``,
        ``PMDISK_SIG "pmdisk-swap1"`` (10 bytes copied); ``pmdisk_info { uts; u32 version_code;
        unsigned long num_physpages; int cpus; unsigned long image_pages, pagedir_pages;
        swp_entry_t pagedir[768]; }``; data, then the contiguous pbe array, then pmdisk_info.
    kernel/power/swsusp.c 2.6.9-2.6.15 (HassebJ/linux-2.6.9; v2.6.11..v2.6.15 tags):
        ``swsusp_header { reserved[PAGE_SIZE - 20 - sizeof(swp_entry_t)]; swp_entry_t
        swsusp_info; orig_sig[10]; sig[10] }``; 2.6.14-2.6.15 insert ``u8 key_iv[MAXKEY +
        MAXIV]`` (32 + 32) before ``swsusp_info``; ``swsusp_info`` (power.h) = pmdisk_info +
        ``suspend_pagedir_t *suspend_pagedir`` before ``pagedir[768]`` (2.6.14: ``[MAX_PBES]``).
        Only one page of swsusp_info is written: on x86_64 only (N - 440) / 8 = 457 slots of
        ``pagedir[]`` reach the disk.  2.6.12+: pbe ``next`` replaces ``dummy`` and pagedir
        pages are chained in memory, ``PBES_PER_PAGE`` = N / (4L) entries each, written in
        order with ``swsusp_info.pagedir[i]`` = the i-th.  ``CONFIG_SWSUSP_ENCRYPT``
        (2.6.14-2.6.15): ``crypto_alloc_tfm("aes", CRYPTO_TFM_MODE_CBC)``, key = key_iv[0:32]
        (max key size), IV = key_iv[32:48]; one tfm for all data pages in pbe order, the IV
        carried from page to page (crypto/cipher.c ``cbc_process_encrypt`` updates ``cit_iv``);
        pagedir and swsusp_info pages are written in clear.
    kernel/power/swsusp.c 2.6.16: ``swap_map_page { swp_entry_t entries[MAP_PAGE_SIZE];
        swp_entry_t next_swap; struct swap_map_page *next; }``, MAP_PAGE_SIZE = (N - 2L) / L;
        the header field is named ``image``; stream = swsusp_info (no ``size``), metadata
        (``pack_orig_addresses()``: orig_address values, zero padded), data; the map pages are
        written last, in reverse, ``next_swap`` naming the following page.
    kernel/power/swap.c + snapshot.c 2.6.17-2.6.19: ``swap_map_page { unsigned long
        entries[N / L - 1]; unsigned long next_swap; }`` holding swap-area offsets; header
        ``image = swp_entry(root_swap, start)``; swsusp_info with ``size``; metadata: orig
        addresses (2.6.17-2.6.18) or PFNs ending in BM_END_OF_MAP (2.6.19, ``pack_pfns()``).
        2.6.20-2.6.22 keep this layout with ``sector_t`` (same size as long on i386 without
        CONFIG_LBD).
    Word sizes and layouts are recognised by consistency (pointers inside the file, counts
    that agree, page_size fields, aligned addresses), never by a version field.

Modules:
    structs     shapes (construct) and swap-pointer encodings
    context     one candidate reading and the helpers every era shares
    link        2.4/2.5 patch and 2.5.48-2.6.8 link.next chains
    pbe         pmdisk and 2.6.9-2.6.15 pagedir[] of pbe pages (2.6.14-2.6.15 AES)
    swapmaps    2.6.16-2.6.19 swap-map chains (and i386 2.6.20-2.6.22 without CONFIG_LBD)
    addresses   kernel virtual addresses -> PFNs (PAGE_OFFSET)
"""

from __future__ import annotations

from swsusp_inspect.formats.legacy.link import open_link_era, open_link_era_short
from swsusp_inspect.formats.legacy.pbe import open_pmdisk
from swsusp_inspect.formats.legacy.structs import (
    AES_BLOCK,
    ENC_I386_PTE,
    ENC_PLAIN,
    ENC_SWP_ENTRY,
    ERA_2616,
    ERA_2617_VA,
    ERA_2619,
    ERA_2620_S4,
    ERA_LINK_26,
    ERA_LINK_PATCH,
    ERA_PBE,
    ERA_PBE_AES,
    ERA_PMDISK,
    MAXIV,
    MAXKEY,
    UTS_LEN,
    info_2616_struct,
    map_geometry,
    pbe_info_fields,
    pbe_info_struct,
    pbe_struct,
    suspend_header_struct,
    swap_map_struct,
    swp_entry,
    swp_offset,
    swp_type,
    swsusp_header_struct,
)
from swsusp_inspect.formats.legacy.swapmaps import open_s1suspend_legacy

__all__ = [
    "AES_BLOCK",
    "ENC_I386_PTE",
    "ENC_PLAIN",
    "ENC_SWP_ENTRY",
    "ERA_2616",
    "ERA_2617_VA",
    "ERA_2619",
    "ERA_2620_S4",
    "ERA_LINK_26",
    "ERA_LINK_PATCH",
    "ERA_PBE",
    "ERA_PBE_AES",
    "ERA_PMDISK",
    "MAXIV",
    "MAXKEY",
    "UTS_LEN",
    "info_2616_struct",
    "map_geometry",
    "open_link_era",
    "open_link_era_short",
    "open_pmdisk",
    "open_s1suspend_legacy",
    "pbe_info_fields",
    "pbe_info_struct",
    "pbe_struct",
    "suspend_header_struct",
    "swap_map_struct",
    "swp_entry",
    "swp_offset",
    "swp_type",
    "swsusp_header_struct",
]
