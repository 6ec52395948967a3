"""Legacy eras: whole images written byte by byte from the kernel's struct definitions.

Every page below was worked out by hand from the C declarations (offsets from the C types and
their alignment on i386 / x86_64), never produced by ``forge_legacy`` or the construct shapes, so
these images check the reader against the kernel rather than against itself.  The round trips
at the end check that each construct shape has the kernel's size and builds what it parses.

Kernel sources read (see swsusp_inspect/formats/legacy.py for the full references):
    2.4 swsusp patch for 2.4.18 (2002-05, kernel/suspend.c): ``union diskpage``, ``struct link``,
        ``mark_swapfiles()`` writing ``SUSP2R....`` then ``link.next``; include/linux/suspend.h
        ``struct suspend_header`` with ``swap_location[MAX_SWAPFILES]``; include/asm-i386/
        pgtable.h ``SWP_ENTRY(type, offset) = (type << 1) | (offset << 8)``.
    kernel/power/swsusp.c 2.6.x before 2.6.9 (``S1SUSP....``/``S2SUSP....``, 2-byte compare),
        include/linux/suspend.h 2.6.8 ``struct suspend_header`` (no swap_location),
        include/linux/swapops.h ``swp_entry()``.
    kernel/power/pmdisk.c 2.6.0-2.6.8: ``struct pmdisk_header``, ``struct pmdisk_info``.
    kernel/power/swsusp.c + power.h v2.6.12 (swsusp_header, swsusp_info with pagedir[768],
        pbe with ``next``), v2.6.14 (``key_iv[MAXKEY+MAXIV]``, CIPHER "aes", CBC), v2.6.16
        (``struct swap_map_page`` with ``next_swap`` and ``next``, swsusp_info without size).
    kernel/power/swap.c, snapshot.c, power.h v2.6.17 and v2.6.19 (``unsigned long entries[]``,
        ``pack_orig_addresses()`` / ``pack_pfns()`` with BM_END_OF_MAP).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import examples, round_trip, unhex
from hypothesis import given, settings
from hypothesis import strategies as st

from swsusp_inspect.formats import legacy as lg
from swsusp_inspect.image import open_image

N = 4096


def image_file(tmp_path: Path, pages: dict[int, str | bytes], name: str = "img") -> str:
    """A file of ``max(pages) + 1`` pages; hexdump text per page, or raw bytes."""
    out = bytearray(N * (max(pages) + 1))
    for no, dump in pages.items():
        out[no * N : (no + 1) * N] = unhex(N, dump) if isinstance(dump, str) else dump
    path = tmp_path / name
    path.write_bytes(bytes(out))
    return str(path)


SWAP_V1 = """
    0400: 01 00 00 00                    # 0x0400: union swap_header info.version = 1
    0404: 3f 00 00 00                    # 0x0404: info.last_page = 0x3f
"""
UTS_I686 = """
    0000: 4c 69 6e 75 78                 # 0x0000: uts.sysname = "Linux"
    0104: 69 36 38 36                    # 0x0104: uts.machine = "i686"    (5 * 65 = 0x104)
"""
UTS_X86_64 = """
    0000: 4c 69 6e 75 78                 # 0x0000: uts.sysname = "Linux"
    0104: 78 38 36 5f 36 34              # 0x0104: uts.machine = "x86_64"
"""


def marker(text: bytes) -> str:
    return "0000: " + " ".join(f"{b:02x}" for b in text) + "   # data page contents\n"


# -- 2.4 patch: SUSP2R, i386 pte encoding -------------------------------------------------------

PATCH_24_PAGE0 = (
    SWAP_V1
    + """
    # mark_swapfiles(): magic "SUSP2R...." (orig SWAPSPACE2), then cur->link.next = header page
    0ff6: 53 55 53 50 32 52              # 0x0ff6: magic[0..5] = "SUSP2R"
    0ffc: 00 04 00 00                    # 0x0ffc: link.next = SWP_ENTRY(0, 4) = 4 << 8
"""
)
PATCH_24_HEADER = """
    # struct suspend_header, i386 (2.4 patch include/linux/suspend.h)
    0000: 13 04 02 00                    # 0x0000: version_code = 0x020413 (2.4.19)
    0004: 00 40 00 00                    # 0x0004: num_physpages = 0x4000
    0008: 69 36 38 36                    # 0x0008: machine[8] = "i686"
    0010: 23 31 20 53 4d 50              # 0x0010: version[20] = "#1 SMP"
    0024: 01 00 00 00                    # 0x0024: num_cpus = 1
    0028: 00 10 00 00                    # 0x0028: page_size = 4096
    002c: 00 00 40 c0                    # 0x002c: suspend_pagedir = 0xc0400000
    0030: 02 00 00 00                    # 0x0030: num_pbes = 2
    0034: 2f 64 65 76 2f 68 64 61 32     # 0x0034: swap_location[0].filename = "/dev/hda2"
    0ffc: 00 03 00 00                    # 0x0ffc: link.next = SWP_ENTRY(0, 3): last pagedir page
"""
PATCH_24_PAGEDIR = """
    # struct pbe {address, orig_address, swap_address, dummy}, 16 bytes on i386
    0000: 00 00 80 c0                    # 0x0000: pbe[0].address = 0xc0800000 (the copy)
    0004: 00 00 10 c0                    # 0x0004: pbe[0].orig_address = 0xc0100000 -> PFN 0x100
    0008: 00 01 00 00                    # 0x0008: pbe[0].swap_address = SWP_ENTRY(0, 1)
    0010: 00 10 80 c0                    # 0x0010: pbe[1].address = 0xc0801000
    0014: 00 00 0a c0                    # 0x0014: pbe[1].orig_address = 0xc00a0000 -> PFN 0xa0
    0018: 00 02 00 00                    # 0x0018: pbe[1].swap_address = SWP_ENTRY(0, 2)
    0ffc: 00 00 00 00                    # 0x0ffc: link.next = 0: the first pagedir page
"""


def test_patch_24_susp2r(tmp_path: Path) -> None:
    path = image_file(
        tmp_path,
        {
            0: PATCH_24_PAGE0,
            1: marker(b"PFN 0x100"),
            2: marker(b"VGA 0xa0000"),
            3: PATCH_24_PAGEDIR,
            4: PATCH_24_HEADER,
        },
    )
    with open_image(path) as img:
        assert img.era == lg.ERA_LINK_PATCH
        assert (img.word_size, img.header.sig, img.header.orig_sig) == (4, "SUSP2R", "SWAPSPACE2")
        assert img.details.link_next_encoding == lg.ENC_I386_PTE
        assert img.pagedir.pfns.tolist() == [0x100, 0xA0]
        assert img.info.version_code == 0x020413
        assert (img.info.num_physpages, img.info.cpus) == (0x4000, 1)
        assert img.details.version == "#1 SMP"
        assert img.details.page_offset == 0xC0000000
        assert img.read_page(0x100).startswith(b"PFN 0x100")
        assert img.read_page(0xA0).startswith(b"VGA 0xa0000")


# -- 2.5.48-2.6.8: S2SUSP on x86_64 (only "S2" survives) ------------------------------------------

S2SUSP_64_PAGE0 = (
    SWAP_V1
    + """
    0ff6: 53 32                          # 0x0ff6: "S2" (of "S2SUSP....", orig SWAPSPACE2)
    0ff8: 03 00 00 00 00 00 00 00        # 0x0ff8: link.next = swp_entry(0, 3), 8 bytes
"""
)
S2SUSP_64_HEADER = """
    # struct suspend_header, x86_64 (2.6.8 include/linux/suspend.h)
    0000: 05 06 02 00                    # 0x0000: version_code = 0x020605 (2.6.5)
    0008: 00 80 00 00 00 00 00 00        # 0x0008: num_physpages = 0x8000 (long aligned to 8)
    0010: 78 38 36 5f 36 34              # 0x0010: machine[8] = "x86_64"
    0018: 23 31                          # 0x0018: version[20] = "#1"
    002c: 01 00 00 00                    # 0x002c: num_cpus = 1      (0x18 + 20 = 0x2c)
    0030: 00 10 00 00                    # 0x0030: page_size = 4096
    0038: 00 00 40 00 00 01 00 00        # 0x0038: suspend_pagedir = 0x10000400000 (aligned 8)
    0040: 01 00 00 00                    # 0x0040: num_pbes = 1
    0ff8: 02 00 00 00 00 00 00 00        # 0x0ff8: link.next = swp_entry(0, 2)
"""
S2SUSP_64_PAGEDIR = """
    # struct pbe, 32 bytes on x86_64
    0000: 00 00 80 00 00 01 00 00        # 0x0000: address = 0x10000800000
    0008: 00 00 20 00 00 01 00 00        # 0x0008: orig_address = 0x10000200000 (PAGE_OFFSET 1<<40)
    0010: 01 00 00 00 00 00 00 00        # 0x0010: swap_address = swp_entry(0, 1)
    0ff8: 00 00 00 00 00 00 00 00        # 0x0ff8: link.next = 0
"""


def test_s2susp_x86_64_two_letter_signature(tmp_path: Path) -> None:
    path = image_file(
        tmp_path,
        {0: S2SUSP_64_PAGE0, 1: marker(b"PFN 0x200"), 2: S2SUSP_64_PAGEDIR, 3: S2SUSP_64_HEADER},
    )
    with open_image(path) as img:
        assert img.era == lg.ERA_LINK_26
        assert (img.word_size, img.header.sig, img.header.orig_sig) == (8, "S2", "SWAPSPACE2")
        assert img.pagedir.pfns.tolist() == [0x200]
        assert img.details.page_offset == 1 << 40
        assert img.details.machine == "x86_64"
        assert img.read_page(0x200).startswith(b"PFN 0x200")


# -- pmdisk, i386 ---------------------------------------------------------------------------------

PMDISK_PAGE0 = (
    SWAP_V1
    + """
    # struct pmdisk_header: reserved[4096 - 20 - 4]; swp_entry_t pmdisk_info; orig_sig; sig
    0fe8: 03 00 00 00                    # 0x0fe8: pmdisk_info = swp_entry(0, 3)
    0fec: 53 57 41 50 53 50 41 43 45 32  # 0x0fec: orig_sig = "SWAPSPACE2"
    0ff6: 70 6d 64 69 73 6b 2d 73 77 61  # 0x0ff6: sig = "pmdisk-swa" (PMDISK_SIG, 10 bytes)
"""
)
PMDISK_INFO = (
    UTS_I686
    + """
    # struct pmdisk_info, i386: uts[390], u32 version_code @392, then longs
    0188: 06 06 02 00                    # 0x0188: version_code = 0x020606
    018c: 00 80 00 00                    # 0x018c: num_physpages = 0x8000
    0190: 01 00 00 00                    # 0x0190: cpus = 1
    0194: 01 00 00 00                    # 0x0194: image_pages = 1
    0198: 01 00 00 00                    # 0x0198: pagedir_pages = SUSPEND_PD_PAGES(1) = 1
    019c: 02 00 00 00                    # 0x019c: pagedir[0] = swp_entry(0, 2)
"""
)
PBE_I386_300 = """
    0000: 00 00 80 c0                    # 0x0000: pbe[0].address = 0xc0800000
    0004: 00 00 30 c0                    # 0x0004: pbe[0].orig_address = 0xc0300000 -> PFN 0x300
    0008: 01 00 00 00                    # 0x0008: pbe[0].swap_address = swp_entry(0, 1)
"""


def test_pmdisk_i386(tmp_path: Path) -> None:
    path = image_file(
        tmp_path, {0: PMDISK_PAGE0, 1: marker(b"PFN 0x300"), 2: PBE_I386_300, 3: PMDISK_INFO}
    )
    with open_image(path) as img:
        assert img.era == lg.ERA_PMDISK
        assert (img.word_size, img.header.sig) == (4, "pmdisk-swa")
        assert img.info.version_code == 0x020606
        assert img.info.uts is not None and img.info.uts.machine == "i686"
        assert img.pagedir.pfns.tolist() == [0x300]
        assert img.read_page(0x300).startswith(b"PFN 0x300")
        assert img.details.highmem is None  # pmdisk refused CONFIG_HIGHMEM


# -- 2.6.12, x86_64: swsusp_info.pagedir[] -> pbe pages with next ----------------------------------

PBE_2612_PAGE0 = (
    SWAP_V1
    + """
    # struct swsusp_header (v2.6.12): reserved[4096 - 20 - 8]; swp_entry_t swsusp_info; ...
    0fe4: 04 00 00 00 00 00 00 00        # 0x0fe4: swsusp_info = swp_entry(0, 4)  (N-20-8)
    0fec: 53 57 41 50 53 50 41 43 45 32  # 0x0fec: orig_sig = "SWAPSPACE2"
    0ff6: 53 31 53 55 53 50 45 4e 44 00  # 0x0ff6: sig = "S1SUSPEND\\0"
"""
)
PBE_2612_INFO = (
    UTS_X86_64
    + """
    # struct swsusp_info (v2.6.12 power.h), x86_64
    0188: 0c 06 02 00                    # 0x0188: version_code = 0x02060c (2.6.12)
    0190: 00 00 04 00 00 00 00 00        # 0x0190: num_physpages = 0x40000  (400: long at 8)
    0198: 01 00 00 00                    # 0x0198: cpus = 1
    01a0: 02 00 00 00 00 00 00 00        # 0x01a0: image_pages = 2
    01a8: 01 00 00 00 00 00 00 00        # 0x01a8: pagedir_pages = 1
    01b0: 00 00 40 00 00 81 ff ff        # 0x01b0: suspend_pagedir = 0xffff810000400000
    01b8: 03 00 00 00 00 00 00 00        # 0x01b8: pagedir[0] = swp_entry(0, 3)   (440)
"""
)
PBE_2612_PAGEDIR = """
    # struct pbe {address, orig_address, swap_address, next}, 32 bytes
    0000: 00 00 80 00 00 81 ff ff        # 0x0000: pbe[0].address
    0008: 00 00 00 01 00 81 ff ff        # 0x0008: pbe[0].orig_address = 0xffff810001000000
    0010: 01 00 00 00 00 00 00 00        # 0x0010: pbe[0].swap_address = swp_entry(0, 1)
    0018: 20 00 40 00 00 81 ff ff        # 0x0018: pbe[0].next = &pbe[1] (kernel pointer)
    0020: 00 10 80 00 00 81 ff ff        # 0x0020: pbe[1].address
    0028: 00 10 00 01 00 81 ff ff        # 0x0028: pbe[1].orig_address = 0xffff810001001000
    0030: 02 00 00 00 00 00 00 00        # 0x0030: pbe[1].swap_address = swp_entry(0, 2)
"""


def test_pbe_2612_x86_64(tmp_path: Path) -> None:
    path = image_file(
        tmp_path,
        {
            0: PBE_2612_PAGE0,
            1: marker(b"PFN 0x1000"),
            2: marker(b"PFN 0x1001"),
            3: PBE_2612_PAGEDIR,
            4: PBE_2612_INFO,
        },
    )
    with open_image(path) as img:
        assert img.era == lg.ERA_PBE
        assert img.word_size == 8
        assert img.pagedir.pfns.tolist() == [0x1000, 0x1001]
        assert img.details.page_offset == 0xFFFF810000000000
        assert img.details.suspend_pagedir == 0xFFFF810000400000
        assert img.info.num_physpages == 0x40000
        assert img.read_page(0x1001).startswith(b"PFN 0x1001")


# -- 2.6.14, i386: key_iv in clear, AES-256-CBC data --------------------------------------------

AES_2614_PAGE0 = (
    SWAP_V1
    + """
    # struct swsusp_header (v2.6.14): reserved[4096-20-64-4]; u8 key_iv[64]; swsusp_info; ...
    0fa8: 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f  # 0x0fa8: key_iv[0..15] (key)
    0fb8: 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f  # 0x0fb8: key_iv[16..31] (key)
    0fc8: a0 a1 a2 a3 a4 a5 a6 a7 a8 a9 aa ab ac ad ae af  # 0x0fc8: key_iv[32..47] (IV)
    0fd8: 55 55 55 55 55 55 55 55 55 55 55 55 55 55 55 55  # 0x0fd8: key_iv[48..63] (unused)
    0fe8: 03 00 00 00                    # 0x0fe8: swsusp_info = swp_entry(0, 3)
    0fec: 53 57 41 50 53 50 41 43 45 32  # 0x0fec: orig_sig = "SWAPSPACE2"
    0ff6: 53 31 53 55 53 50 45 4e 44 00  # 0x0ff6: sig = "S1SUSPEND\\0"
"""
)
AES_2614_INFO = (
    UTS_I686
    + """
    # struct swsusp_info (v2.6.14 power.h), i386
    0188: 0e 06 02 00                    # 0x0188: version_code = 0x02060e (2.6.14)
    018c: 00 00 06 00                    # 0x018c: num_physpages = 0x60000 (1.5 GiB: highmem)
    0190: 01 00 00 00                    # 0x0190: cpus = 1
    0194: 02 00 00 00                    # 0x0194: image_pages = 2
    0198: 01 00 00 00                    # 0x0198: pagedir_pages = 1
    019c: 00 00 40 c0                    # 0x019c: suspend_pagedir = 0xc0400000
    01a0: 02 00 00 00                    # 0x01a0: pagedir[0] = swp_entry(0, 2)   (416)
"""
)
AES_2614_PAGEDIR = """
    0004: 00 00 10 c0                    # 0x0004: pbe[0].orig_address = 0xc0100000
    0008: 04 00 00 00                    # 0x0008: pbe[0].swap_address = swp_entry(0, 4)
    0014: 00 10 10 c0                    # 0x0014: pbe[1].orig_address = 0xc0101000
    0018: 01 00 00 00                    # 0x0018: pbe[1].swap_address = swp_entry(0, 1)
"""


def test_aes_2614_i386(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    plain = (b"PFN 0x100".ljust(N, b"\x11"), b"PFN 0x101".ljust(N, b"\x22"))
    key, iv = bytes(range(32)), bytes(range(0xA0, 0xB0))
    # crypto_write() per pbe in order, one tfm: the CBC chain runs on from page to page
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    cipher = enc.update(b"".join(plain)) + enc.finalize()
    path = image_file(
        tmp_path,
        {0: AES_2614_PAGE0, 1: cipher[N:], 2: AES_2614_PAGEDIR, 3: AES_2614_INFO, 4: cipher[:N]},
    )
    with open_image(path) as img:
        assert img.era == lg.ERA_PBE_AES
        assert img.details.encryption.key == key.hex()
        assert img.details.encryption.iv == iv.hex()
        assert img.details.encryption.key_iv_offset == 0xFA8
        assert img.read_page(0x101) == plain[1]  # IV = last block of page 4's ciphertext
        assert img.read_page(0x100) == plain[0]
        assert img.details.highmem.lowmem_end_pfn == 0x38000
        assert img.details.highmem.highmem_pfns == 0x60000 - 0x38000


# -- 2.6.16, x86_64: swap map of swp_entry_t, metadata of virtual addresses ---------------------

MAP_2616_PAGE0 = (
    SWAP_V1
    + """
    0fe4: 04 00 00 00 00 00 00 00        # 0x0fe4: image = swp_entry(0, 4): first map page
    0fec: 53 57 41 50 53 50 41 43 45 32  # 0x0fec: orig_sig = "SWAPSPACE2"
    0ff6: 53 31 53 55 53 50 45 4e 44 00  # 0x0ff6: sig = "S1SUSPEND\\0"
"""
)
MAP_2616_MAP = """
    # struct swap_map_page (v2.6.16): entries[MAP_PAGE_SIZE = (4096 - 16) / 8 = 510]
    0000: 01 00 00 00 00 00 00 00        # 0x0000: entries[0] = swp_entry(0, 1): swsusp_info
    0008: 02 00 00 00 00 00 00 00        # 0x0008: entries[1] = swp_entry(0, 2): metadata
    0010: 03 00 00 00 00 00 00 00        # 0x0010: entries[2] = swp_entry(0, 3): data
    0ff0: 00 00 00 00 00 00 00 00        # 0x0ff0: next_swap = 0 (last map page)
    0ff8: 00 00 00 00 00 00 00 00        # 0x0ff8: next (kernel pointer; NULL at the end)
"""
INFO_2616 = (
    UTS_X86_64
    + """
    # struct swsusp_info (v2.6.16 power.h): ... image_pages, pages (no size)
    0188: 10 06 02 00                    # 0x0188: version_code = 0x020610
    0190: 00 00 04 00 00 00 00 00        # 0x0190: num_physpages = 0x40000
    0198: 01 00 00 00                    # 0x0198: cpus = 1
    01a0: 01 00 00 00 00 00 00 00        # 0x01a0: image_pages = 1
    01a8: 03 00 00 00 00 00 00 00        # 0x01a8: pages = 1 + 1 metadata + 1
"""
)
META_2616 = """
    0000: 00 00 00 02 00 81 ff ff        # 0x0000: orig_address = 0xffff810002000000
"""


def test_swap_map_2616_x86_64(tmp_path: Path) -> None:
    path = image_file(
        tmp_path,
        {0: MAP_2616_PAGE0, 1: INFO_2616, 2: META_2616, 3: marker(b"PFN 0x2000"), 4: MAP_2616_MAP},
    )
    with open_image(path) as img:
        assert img.era == lg.ERA_2616
        assert (img.info.pages, img.meta_pages) == (3, 1)
        assert img.pagedir.pfns.tolist() == [0x2000]
        assert img.read_page(0x2000).startswith(b"PFN 0x2000")


# -- 2.6.17-2.6.19: swap map of swap offsets ------------------------------------------------------

MAP_2617_I386_PAGE0 = (
    SWAP_V1
    + """
    0fe8: 01 00 00 00                    # 0x0fe8: image = swp_entry(0, 1)   (N-20-4)
    0fec: 53 57 41 50 53 50 41 43 45 32  # 0x0fec: orig_sig = "SWAPSPACE2"
    0ff6: 53 31 53 55 53 50 45 4e 44 00  # 0x0ff6: sig = "S1SUSPEND\\0"
"""
)
MAP_2617_I386_MAP = """
    # struct swap_map_page (v2.6.17 swap.c): unsigned long entries[4096 / 4 - 1]; next_swap
    0000: 02 00 00 00                    # 0x0000: entries[0] = 2 (swsusp_info)
    0004: 03 00 00 00                    # 0x0004: entries[1] = 3 (metadata)
    0008: 04 00 00 00                    # 0x0008: entries[2] = 4 (data)
    0ffc: 00 00 00 00                    # 0x0ffc: next_swap = 0
"""


def info_2617_i386(version: str) -> str:
    return (
        UTS_I686
        + f"""
    # struct swsusp_info (v2.6.17 power.h), i386: ... pages @408, size @412
    0188: {version}                      # 0x0188: version_code
    018c: 00 80 00 00                    # 0x018c: num_physpages = 0x8000
    0190: 01 00 00 00                    # 0x0190: cpus = 1
    0194: 01 00 00 00                    # 0x0194: image_pages = 1
    0198: 03 00 00 00                    # 0x0198: pages = 3
    019c: 00 30 00 00                    # 0x019c: size = pages << PAGE_SHIFT = 0x3000
"""
    )


@pytest.mark.parametrize(
    ("version", "meta", "era"),
    [
        (
            "11 06 02 00",
            "0000: 00 50 34 c0   # orig_address = 0xc0345000 (pack_orig_addresses)",
            lg.ERA_2617_VA,
        ),
        (
            "13 06 02 00",
            "0000: 45 03 00 00 ff ff ff ff   # PFN 0x345, then BM_END_OF_MAP",
            lg.ERA_2619,
        ),
    ],
    ids=["2.6.17", "2.6.19"],
)
def test_swap_map_2617_i386(tmp_path: Path, version: str, meta: str, era: str) -> None:
    path = image_file(
        tmp_path,
        {
            0: MAP_2617_I386_PAGE0,
            1: MAP_2617_I386_MAP,
            2: info_2617_i386(version),
            3: meta,
            4: marker(b"PFN 0x345"),
        },
    )
    with open_image(path) as img:
        assert img.era == era
        assert img.word_size == 4
        assert img.pagedir.pfns.tolist() == [0x345]
        assert img.read_page(0x345).startswith(b"PFN 0x345")


MAP_2618_X86_64_PAGE0 = (
    SWAP_V1
    + """
    0fe4: 01 00 00 00 00 00 00 00        # 0x0fe4: image = swp_entry(0, 1)   (N-20-8)
    0fec: 53 57 41 50 53 50 41 43 45 32  # 0x0fec: orig_sig = "SWAPSPACE2"
    0ff6: 53 31 53 55 53 50 45 4e 44 00  # 0x0ff6: sig = "S1SUSPEND\\0"
"""
)
MAP_2618_X86_64_MAP = """
    0000: 02 00 00 00 00 00 00 00        # 0x0000: entries[0] = 2
    0008: 03 00 00 00 00 00 00 00        # 0x0008: entries[1] = 3
    0010: 04 00 00 00 00 00 00 00        # 0x0010: entries[2] = 4
    0ff8: 00 00 00 00 00 00 00 00        # 0x0ff8: next_swap = 0   (511 * 8)
"""
INFO_2618_X86_64 = (
    UTS_X86_64
    + """
    0188: 12 06 02 00                    # 0x0188: version_code = 0x020612 (2.6.18)
    0190: 00 80 00 00 00 00 00 00        # 0x0190: num_physpages = 0x8000
    0198: 01 00 00 00                    # 0x0198: cpus = 1
    01a0: 01 00 00 00 00 00 00 00        # 0x01a0: image_pages = 1
    01a8: 03 00 00 00 00 00 00 00        # 0x01a8: pages = 3
    01b0: 00 30 00 00 00 00 00 00        # 0x01b0: size = 0x3000
"""
)


def test_swap_map_2618_x86_64_is_not_read_as_pfns(tmp_path: Path) -> None:
    # byte for byte the 2.6.20-2.6.22 layout, except that the metadata lists addresses
    path = image_file(
        tmp_path,
        {
            0: MAP_2618_X86_64_PAGE0,
            1: MAP_2618_X86_64_MAP,
            2: INFO_2618_X86_64,
            3: "0000: 00 50 34 00 00 81 ff ff   # 0xffff810000345000",
            4: marker(b"PFN 0x345"),
        },
    )
    with open_image(path) as img:
        assert img.era == lg.ERA_2617_VA
        assert img.pagedir.pfns.tolist() == [0x345]
        assert img.read_page(0x345).startswith(b"PFN 0x345")


# -- round trips of the shapes ------------------------------------------------------------------

HYP = settings(max_examples=examples(25), deadline=None)


@pytest.mark.parametrize(
    ("word_size", "size", "location"),
    [(4, 52, False), (8, 72, False), (4, 1076, True), (8, 1096, True)],
)
def test_suspend_header_size(word_size: int, size: int, location: bool) -> None:
    obj: dict[str, Any] = {
        "version_code": 0x020413,
        "num_physpages": 7,
        "machine": b"i686\0\0\0\0",
        "version": b"#1".ljust(20, b"\0"),
        "num_cpus": 1,
        "page_size": N,
        "suspend_pagedir": 0xC0400000,
        "num_pbes": 3,
    }
    if location:
        obj["swap_location"] = [bytes(32)] * 32
    fmt = lg.suspend_header_struct(word_size, swap_location=location)
    # the C struct's tail padding is not on the shape: x86_64 rounds 68 (1092) up to 72 (1096)
    assert fmt.sizeof() == (size if word_size == 4 else size - 4)
    assert fmt.parse(fmt.build(obj)).num_pbes == 3


@pytest.mark.parametrize("word_size", [4, 8])
@given(vals=st.lists(st.integers(0, 2**32 - 1), min_size=4, max_size=4))
@HYP
def test_pbe_round_trip(word_size: int, vals: list[int]) -> None:
    obj = dict(zip(("address", "orig_address", "swap_address", "dummy"), vals, strict=True))
    round_trip(lg.pbe_struct(word_size), obj, 4 * word_size)


@pytest.mark.parametrize(
    ("word_size", "pointer", "key_iv", "at"),
    [
        (4, "swsusp_info", False, 0xFE8),
        (8, "swsusp_info", False, 0xFE4),
        (4, "swsusp_info", True, 0xFE8),
        (8, "image", False, 0xFE4),
        (8, "pmdisk_info", False, 0xFE4),
    ],
)
def test_header_pointer_offsets(word_size: int, pointer: str, key_iv: bool, at: int) -> None:
    fmt = lg.swsusp_header_struct(N, word_size, pointer=pointer, key_iv=key_iv)
    reserved = fmt.subcons[0].sizeof()
    assert reserved + (64 if key_iv else 0) == at
    obj: dict[str, Any] = {
        "reserved": bytes(reserved),
        pointer: 0x1234,
        "orig_sig": b"SWAPSPACE2",
        "sig": b"S1SUSPEND\0",
    }
    if key_iv:
        obj["key_iv"] = bytes(range(64))
    data = fmt.build(obj)
    assert int.from_bytes(data[at : at + word_size], "little") == 0x1234
    round_trip(fmt, obj, N)


@pytest.mark.parametrize(
    ("word_size", "pmdisk", "pagedir_at", "slots"),
    [(4, False, 416, 920), (8, False, 440, 457), (4, True, 412, 921), (8, True, 432, 458)],
)
def test_info_pagedir_offsets(word_size: int, pmdisk: bool, pagedir_at: int, slots: int) -> None:
    # FORMATS.md 4: pagedir[] at 440 (x86_64) / 416 (i386); 457 slots reach the disk on x86_64
    assert lg.pbe_info_fields(word_size, pmdisk=pmdisk).sizeof() == pagedir_at
    fmt = lg.pbe_info_struct(N, word_size, pmdisk=pmdisk)
    assert fmt.sizeof() == N
    assert (N - pagedir_at) // word_size == slots


@pytest.mark.parametrize(
    ("word_size", "layout", "entries"),
    [(4, "2.6.16", 1022), (8, "2.6.16", 510), (4, "2.6.17", 1023), (8, "2.6.17", 511)],
)
def test_swap_map_geometry(word_size: int, layout: str, entries: int) -> None:
    assert lg.map_geometry(N, word_size, layout) == (entries, entries)
    fmt = lg.swap_map_struct(N, word_size, layout)
    assert fmt.sizeof() == N
    obj: dict[str, Any] = {"entries": list(range(1, entries + 1)), "next_swap": 9}
    if layout == "2.6.16":
        obj["next"] = 0
    round_trip(fmt, obj, N)


@given(offset=st.integers(1, 2**20), swap_type=st.integers(0, 31))
@HYP
def test_pointer_encodings(offset: int, swap_type: int) -> None:
    for w in (4, 8):
        for enc in (lg.ENC_SWP_ENTRY, lg.ENC_I386_PTE):
            if enc == lg.ENC_I386_PTE and w == 8:
                continue
            v = lg.swp_entry(offset, w, enc, swap_type)
            assert lg.swp_offset(v, w, enc) == offset
            assert lg.swp_type(v, w, enc) == swap_type
    # include/linux/swapops.h: type in the top 5 bits
    assert lg.swp_entry(offset, 4, lg.ENC_SWP_ENTRY, swap_type) == swap_type << 27 | offset
    assert lg.swp_entry(offset, 4, lg.ENC_I386_PTE, swap_type) == swap_type << 1 | offset << 8


def test_info_2616_has_no_size() -> None:
    # struct swsusp_info (v2.6.16) ends with pages: 424 + 8 (x86_64), 408 + 4 (i386)
    assert lg.info_2616_struct(8).sizeof() == 432
    assert lg.info_2616_struct(4).sizeof() == 412
