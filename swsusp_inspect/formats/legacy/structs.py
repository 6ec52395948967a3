"""Legacy eras' shapes (construct definitions) and swap-pointer encodings.

See :mod:`swsusp_inspect.formats.legacy` for the References (kernel files and versions).
"""

from __future__ import annotations

from typing import Any

import construct as cs
import numpy as np

from swsusp_inspect.formats.swap import ERA_S4

UTS_LEN = 65
MAX_SWAPFILES_SHIFT = 5
MAXKEY = MAXIV = 32
AES_BLOCK = 16

ERA_LINK_PATCH = "2.4/2.5 patch (SUSP1R/SUSP2R, link.next)"
ERA_LINK_26 = "2.5.48-2.6.8 (S1SUSP/S2SUSP, link.next)"
ERA_PMDISK = "2.6.0-2.6.8 pmdisk"
ERA_PBE = "2.6.9-2.6.15 pbe"
ERA_PBE_AES = "2.6.14-2.6.15 pbe, AES-encrypted"
ERA_2616 = "2.6.16 swap map (swp_entry_t), virtual addresses"
ERA_2617_VA = "2.6.17-2.6.18 swap map, virtual addresses"
ERA_2619 = "2.6.19 swap map, PFNs"
# named as the current reader names its 4-byte sector_t sibling (2.6.23-5.1)
ERA_2620_S4 = ERA_S4["2.6.20-2.6.22"]

# pointer encodings of link.next / swap_address
ENC_SWP_ENTRY = "swp_entry_t"  # arch-independent, 2.5.19+
ENC_I386_PTE = "i386 pte"  # SWP_ENTRY(type, offset) = type << 1 | offset << 8, before 2.5.19
ENC_PLAIN = "offset"  # 2.6.17+ swap-map entries: plain swap-area page offsets


def ulong(word_size: int) -> Any:
    return cs.Int64ul if word_size == 8 else cs.Int32ul


# -- shapes --------------------------------------------------------------------------------


def suspend_header_struct(word_size: int, *, swap_location: bool = False) -> Any:
    """``struct suspend_header`` (include/linux/suspend.h, 2.4 patch -> 2.6.8)."""
    pad = 4 if word_size == 8 else 0
    fields: list[Any] = [
        "version_code" / cs.Int32ul,
        cs.Padding(pad),  # x86_64: unsigned long aligned to 8
        "num_physpages" / ulong(word_size),
        "machine" / cs.Bytes(8),
        "version" / cs.Bytes(20),
        "num_cpus" / cs.Int32sl,
        "page_size" / cs.Int32sl,
        cs.Padding(pad),  # x86_64: 8 + 8 + 8 + 20 + 4 + 4 = 52 -> pointer at 56
        "suspend_pagedir" / ulong(word_size),
        "num_pbes" / cs.Int32ul,
    ]
    if swap_location:  # SWAP_FILENAME_MAXLENGTH 32, MAX_SWAPFILES 32 (removed 2004-01)
        fields.append("swap_location" / cs.Array(32, cs.Bytes(32)))
    return cs.Struct(*fields)


def pbe_struct(word_size: int) -> Any:
    """``struct pbe`` as written to disk (the last field is ``dummy`` or, 2.6.12+, ``next``)."""
    u = ulong(word_size)
    return cs.Struct("address" / u, "orig_address" / u, "swap_address" / u, "dummy" / u)


def swsusp_header_struct(
    page_size: int, word_size: int, *, pointer: str = "swsusp_info", key_iv: bool = False
) -> Any:
    """The 2.6.0-2.6.19 header page: ``pmdisk_header`` (pointer ``pmdisk_info``),
    ``swsusp_header`` of 2.6.9-2.6.15 (``swsusp_info``, 2.6.14-15 with ``key_iv``) and
    2.6.16-2.6.19 (``image``).  ``reserved`` is the swap header kept as read."""
    # 20 = orig_sig[10] + sig[10]
    reserved = page_size - 20 - word_size - (MAXKEY + MAXIV if key_iv else 0)
    fields: list[Any] = ["reserved" / cs.Bytes(reserved)]
    if key_iv:
        fields.append("key_iv" / cs.Bytes(MAXKEY + MAXIV))
    fields += [pointer / ulong(word_size), "orig_sig" / cs.Bytes(10), "sig" / cs.Bytes(10)]
    return cs.Struct(*fields)


def pbe_info_fields(word_size: int, *, pmdisk: bool = False) -> Any:
    """``swsusp_info`` of 2.6.9-2.6.15 / ``pmdisk_info`` up to ``pagedir[]``."""
    pad = 4 if word_size == 8 else 0
    u = ulong(word_size)
    fields: list[Any] = [
        "uts" / cs.Bytes(6 * UTS_LEN),
        cs.Padding(2),  # align u32: 390 -> 392
        "version_code" / cs.Int32ul,
        cs.Padding(pad),
        "num_physpages" / u,
        "cpus" / cs.Int32sl,
        cs.Padding(pad),
        "image_pages" / u,
        "pagedir_pages" / u,
    ]
    if not pmdisk:
        fields.append("suspend_pagedir" / u)
    return cs.Struct(*fields)


def pbe_info_struct(page_size: int, word_size: int, *, pmdisk: bool = False) -> Any:
    """The one page of ``swsusp_info``/``pmdisk_info`` that reaches the disk."""
    head = pbe_info_fields(word_size, pmdisk=pmdisk)
    slots = (page_size - head.sizeof()) // word_size
    rest = page_size - head.sizeof() - slots * word_size
    return cs.Struct(*head.subcons, "pagedir" / cs.Array(slots, ulong(word_size)), cs.Padding(rest))


def info_2616_struct(word_size: int) -> Any:
    """``struct swsusp_info`` of 2.6.16 (``pages``, no ``size``)."""
    pad = 4 if word_size == 8 else 0
    u = ulong(word_size)
    return cs.Struct(
        "uts" / cs.Bytes(6 * UTS_LEN),
        cs.Padding(2),
        "version_code" / cs.Int32ul,
        cs.Padding(pad),
        "num_physpages" / u,
        "cpus" / cs.Int32sl,
        cs.Padding(pad),
        "image_pages" / u,
        "pages" / u,
    )


def swap_map_struct(page_size: int, word_size: int, layout: str) -> Any:
    """``struct swap_map_page`` of 2.6.16 (``"2.6.16"``) or 2.6.17-2.6.19 (``"2.6.17"``)."""
    u = ulong(word_size)
    if layout == "2.6.16":
        n = (page_size - 2 * word_size) // word_size
        return cs.Struct("entries" / cs.Array(n, u), "next_swap" / u, "next" / u)
    return cs.Struct("entries" / cs.Array(page_size // word_size - 1, u), "next_swap" / u)


def map_geometry(page_size: int, word_size: int, layout: str) -> tuple[int, int]:
    """``(entries per page, slot of next_swap)``."""
    if layout == "2.6.16":
        n = (page_size - 2 * word_size) // word_size
        return n, n
    n = page_size // word_size - 1
    return n, n


# -- pointer encodings ---------------------------------------------------------------------


def swp_offset(value: int, word_size: int, encoding: str) -> int:
    if encoding == ENC_I386_PTE:
        return value >> 8
    if encoding == ENC_SWP_ENTRY:
        return value & ((1 << (8 * word_size - MAX_SWAPFILES_SHIFT)) - 1)
    return value


def swp_type(value: int, word_size: int, encoding: str) -> int | None:
    if encoding == ENC_I386_PTE:
        return (value >> 1) & 0x3F
    if encoding == ENC_SWP_ENTRY:
        return value >> (8 * word_size - MAX_SWAPFILES_SHIFT)
    return None


def swp_entry(offset: int, word_size: int, encoding: str, swap_type: int = 0) -> int:
    """Encode a pointer (for forged images)."""
    if encoding == ENC_I386_PTE:
        return (swap_type << 1) | (offset << 8)
    if encoding == ENC_SWP_ENTRY:
        return (swap_type << (8 * word_size - MAX_SWAPFILES_SHIFT)) | offset
    return offset


def swp_offsets(values: np.ndarray, word_size: int, encoding: str) -> np.ndarray:
    v = values.astype(np.uint64)
    if encoding == ENC_I386_PTE:
        return v >> np.uint64(8)
    if encoding == ENC_SWP_ENTRY:
        return v & np.uint64((1 << (8 * word_size - MAX_SWAPFILES_SHIFT)) - 1)
    return v


def swp_types(values: np.ndarray, word_size: int, encoding: str) -> np.ndarray | None:
    v = values.astype(np.uint64)
    if encoding == ENC_I386_PTE:
        return (v >> np.uint64(1)) & np.uint64(0x3F)
    if encoding == ENC_SWP_ENTRY:
        return v >> np.uint64(8 * word_size - MAX_SWAPFILES_SHIFT)
    return None
