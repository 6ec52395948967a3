"""Per-structure round trips, and hexdumps transcribed by hand from kernel source.

The round trips check that each construct definition parses what it builds and has the size
the kernel gives it.  They cannot catch a definition that is wrong in the same way both ways,
so every header variant also has an annotated hexdump written from the kernel's struct
definitions (offsets worked out by hand from the C types, never produced by our builders), and
the decoders must read back the values written there.

Kernel sources read for the hexdumps (torvalds/linux unless noted):
    kernel/power/swap.c @03c11eb3 (6.8): struct swsusp_header with hw_sig/crc32 (5.17+);
        the 3.2-5.16 struct as removed by the 5.17 hw_sig patch (``reserved[... - sizeof(u32)];
        u32 crc32;``); @008d23e4 (2.6.37): ``sector_t image; unsigned int flags;``;
        2.6.20 (``reserved[PAGE_SIZE - 20 - sizeof(sector_t)]; sector_t image;``).
    include/linux/swap.h: union swap_header (info.version at 1024).
    kernel/power/power.h (4.x): struct swsusp_info (uts, u32 version_code, unsigned long
        num_physpages, int cpus, unsigned long image_pages, pages, size).
    arch/x86/power/hibernate_64.c (2.6.25-4.6: jump_address, cr3, magic 0x0123456789ABCDEF;
        4.7: + jump_address_phys, magic 0x123456789ABCDEF0), arch/x86/power/hibernate.c
        (MD5 era: + u8 e820_digest[16], 0x23456789ABCDEF01 / i386 0x12345678; 5.13+:
        + unsigned long e820_checksum, 0x23456789ABCDEF02 / i386 0x12345679).
    arch/arm64/kernel/hibernate.c: struct arch_hibernate_hdr (uts_version[65], phys_addr_t
        ttbr1_el1, reenter_kernel, phys_addr_t __hyp_stub_vectors, u64 sleep_cpu_mpidr).
    kernel/power/snapshot.c 6.6+: ENCODED_PFN_ZERO_FLAG = 1UL << (BITS_PER_LONG - 1),
        BM_END_OF_MAP = ~0UL.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from helpers import arch_extra, examples, round_trip, unhex
from hypothesis import given, settings
from hypothesis import strategies as st

from swsusp_inspect.errors import FormatError
from swsusp_inspect.formats import pagedir, signatures, snapshot, swap, swapmap

PAGE_SIZES = (4096, 16384, 65536)
HYP = settings(max_examples=examples(40), deadline=None)

u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)


# -- swsusp_header ---------------------------------------------------------------------------


@pytest.mark.parametrize("page_size", PAGE_SIZES)
@pytest.mark.parametrize("layout", swap.LAYOUTS)
@given(
    image=st.integers(1, 2**32 - 1),
    flags=u32,
    crc32=u32,
    hw_sig=u32,
    orig=st.sampled_from([b"SWAPSPACE2", b"SWAP-SPACE"]),
)
@HYP
def test_swsusp_header_round_trip(
    page_size: int, layout: str, image: int, flags: int, crc32: int, hw_sig: int, orig: bytes
) -> None:
    fmt = swap.swsusp_header_struct(page_size, 8, layout)
    tail = 20 if layout == "2.6.23+" else 8  # hw_sig + crc32 + image + flags, or image
    # reserved[] is the swap header the kernel read back: any bytes must survive
    reserved = (bytes(range(256)) * (page_size // 256))[: page_size - 20 - tail]
    obj: dict[str, Any] = {
        "reserved": reserved,
        "image": image,
        "orig_sig": orig,
        "sig": b"S1SUSPEND\0",
    }
    if layout == "2.6.23+":
        obj.update(hw_sig=hw_sig, crc32=crc32, flags=flags)
    data = fmt.build(obj)
    round_trip(fmt, obj, page_size, data)

    page = swap.build_header(
        page_size,
        image=image,
        flags=flags,
        crc32=crc32,
        hw_sig=hw_sig,
        orig_sig=orig,
        last_page=0x1234,
        layout=layout,
    )
    hdr = swap.decode_header(page, 0, page_size)
    assert (hdr.layout, hdr.image, hdr.sig, hdr.orig_sig) == (
        layout,
        image,
        "S1SUSPEND",
        orig.decode(),
    )
    if layout == "2.6.23+":
        assert hdr.flags == flags
        assert hdr.crc32 == (crc32 if flags & 4 else None)
        assert hdr.hw_sig == (hw_sig if flags & 8 else None)
    else:
        assert hdr.flags is hdr.crc32 is hdr.hw_sig is None
    assert swap.decode_swap_info(page, 0) == (1, 0x1234)
    hit = signatures.sniff(page)
    assert hit is not None
    assert (hit.page_size, hit.offset) == (page_size, page_size - 10)


@pytest.mark.parametrize("layout", swap.LAYOUTS)
def test_swsusp_header_4byte_sector_round_trip(layout: str) -> None:
    # i386 without CONFIG_LBD(AF): 4-byte sector_t (FORMATS.md conventions)
    page = swap.build_header(4096, image=0x77, flags=2, sector_size=4, layout=layout)
    hdr = swap.decode_header(page, 0, 4096, sector_size=4)
    assert (hdr.layout, hdr.image) == (layout, 0x77)


# One hexdump per header variant.  Offsets count from the page end as the kernel's __packed
# struct lays them out: N-10 sig, N-20 orig_sig, then (newest first) flags, image, crc32, hw_sig.

SWSUSP_HEADER_5_17 = """
    # union swap_header.info (include/linux/swap.h), kept by the kernel's read-modify-write
    0400: 01 00 00 00                    # 0x0400: info.version = 1
    0404: ff ff 03 00                    # 0x0404: info.last_page = 0x3ffff
    041c: 73 77 61 70 30                 # 0x041c: info.sws_volume = "swap0"
    # struct swsusp_header (kernel/power/swap.c @03c11eb3, 6.8; layout since 5.17), 4 KiB page
    0fd8: 78 56 34 12                    # 0x0fd8: hw_sig = 0x12345678          (N-32-S)
    0fdc: ef be ad de                    # 0x0fdc: crc32 = 0xdeadbeef           (N-28-S)
    0fe0: 85 01 00 00 00 00 00 00        # 0x0fe0: image = 0x185 (sector_t)     (N-24-S)
    0fe8: 1c 00 00 00                    # 0x0fe8: flags = CRC32|HW_SIG|LZ4     (N-24)
    0fec: 53 57 41 50 53 50 41 43 45 32  # 0x0fec: orig_sig[10] = "SWAPSPACE2"  (N-20)
    0ff6: 53 31 53 55 53 50 45 4e 44 00  # 0x0ff6: sig[10] = "S1SUSPEND\\0"    (N-10)
"""

SWSUSP_HEADER_3_2 = """
    0400: 01 00 00 00                    # 0x0400: info.version = 1
    # struct swsusp_header, 3.2-5.16 (kernel/power/swap.c before the 5.17 hw_sig patch)
    0fd8: aa aa aa aa                    # 0x0fd8: still reserved[] here: bytes kept as read
    0fdc: 0d f0 ad 0b                    # 0x0fdc: crc32 = 0x0badf00d           (N-28-S)
    0fe0: 01 00 00 00 00 00 00 00        # 0x0fe0: image = 1                    (N-24-S)
    0fe8: 04 00 00 00                    # 0x0fe8: flags = SF_CRC32_MODE        (N-24)
    0fec: 53 57 41 50 53 50 41 43 45 32  # 0x0fec: orig_sig[10] = "SWAPSPACE2"  (N-20)
    0ff6: 53 31 53 55 53 50 45 4e 44 00  # 0x0ff6: sig[10] = "S1SUSPEND\\0"    (N-10)
"""

SWSUSP_HEADER_2_6_23 = """
    0400: 00 00 00 00                    # 0x0400: info.version = 0 (a v0 swap area)
    # struct swsusp_header, 2.6.23-3.1 (kernel/power/swap.c @008d23e4, 2.6.37)
    0fdc: 0d f0 ad 0b                    # 0x0fdc: reserved[]: a stale value, not crc32
    0fe0: 10 27 00 00 00 00 00 00        # 0x0fe0: image = 0x2710               (N-24-S)
    0fe8: 03 00 00 00                    # 0x0fe8: flags = PLATFORM|NOCOMPRESS  (N-24)
    0fec: 53 57 41 50 2d 53 50 41 43 45  # 0x0fec: orig_sig[10] = "SWAP-SPACE"  (N-20)
    0ff6: 53 31 53 55 53 50 45 4e 44 00  # 0x0ff6: sig[10] = "S1SUSPEND\\0"    (N-10)
"""

SWSUSP_HEADER_2_6_20 = """
    0400: 01 00 00 00                    # 0x0400: info.version = 1
    # struct swsusp_header, 2.6.20-2.6.22 (kernel/power/swap.c 2.6.20, packed, no flags)
    0fe4: 2a 00 00 00 00 00 00 00        # 0x0fe4: image = 0x2a (sector_t)      (N-20-S)
    0fec: 53 57 41 50 53 50 41 43 45 32  # 0x0fec: orig_sig[10] = "SWAPSPACE2"  (N-20)
    0ff6: 53 31 53 55 53 50 45 4e 44 00  # 0x0ff6: sig[10] = "S1SUSPEND\\0"    (N-10)
"""

SWSUSP_HEADER_5_17_64K = """
    0400: 01 00 00 00                    # 0x0400: info.version = 1 (fixed offset, any N)
    # struct swsusp_header (5.17+) at the end of a 64 KiB page (arm64 CONFIG_ARM64_64K_PAGES)
    ffd8: 00 00 00 00                    # 0xffd8: hw_sig (SF_HW_SIG clear)     (N-32-S)
    ffdc: 44 33 22 11                    # 0xffdc: crc32 = 0x11223344           (N-28-S)
    ffe0: 03 00 00 00 00 00 00 00        # 0xffe0: image = 3                    (N-24-S)
    ffe8: 04 00 00 00                    # 0xffe8: flags = SF_CRC32_MODE        (N-24)
    ffec: 53 57 41 50 53 50 41 43 45 32  # 0xffec: orig_sig[10] = "SWAPSPACE2"  (N-20)
    fff6: 53 31 53 55 53 50 45 4e 44 00  # 0xfff6: sig[10] = "S1SUSPEND\\0"    (N-10)
"""


@pytest.mark.parametrize(
    ("dump", "page_size", "expected"),
    [
        (
            SWSUSP_HEADER_5_17,
            4096,
            {
                "layout": "2.6.23+",
                "image": 0x185,
                "flags": 0x1C,
                "crc32": 0xDEADBEEF,
                "hw_sig": 0x12345678,
                "orig_sig": "SWAPSPACE2",
                "version": 1,
            },
        ),
        (
            SWSUSP_HEADER_3_2,
            4096,
            {
                "layout": "2.6.23+",
                "image": 1,
                "flags": 4,
                "crc32": 0x0BADF00D,
                "hw_sig": None,
                "orig_sig": "SWAPSPACE2",
                "version": 1,
            },
        ),
        (
            SWSUSP_HEADER_2_6_23,
            4096,
            {
                "layout": "2.6.23+",
                "image": 0x2710,
                "flags": 3,
                "crc32": None,
                "hw_sig": None,
                "orig_sig": "SWAP-SPACE",
                "version": 0,
            },
        ),
        (
            SWSUSP_HEADER_2_6_20,
            4096,
            {
                "layout": "2.6.20-2.6.22",
                "image": 0x2A,
                "flags": None,
                "crc32": None,
                "hw_sig": None,
                "orig_sig": "SWAPSPACE2",
                "version": 1,
            },
        ),
        (
            SWSUSP_HEADER_5_17_64K,
            65536,
            {
                "layout": "2.6.23+",
                "image": 3,
                "flags": 4,
                "crc32": 0x11223344,
                "hw_sig": None,
                "orig_sig": "SWAPSPACE2",
                "version": 1,
            },
        ),
    ],
    ids=["5.17+", "3.2-5.16", "2.6.23-3.1", "2.6.20-2.6.22", "5.17+-64K"],
)
def test_swsusp_header_hexdump(dump: str, page_size: int, expected: dict[str, Any]) -> None:
    page = unhex(page_size, dump)
    hit = signatures.sniff(page)
    assert hit is not None
    assert (hit.signature.name, hit.page_size, hit.offset) == (
        "S1SUSPEND",
        page_size,
        page_size - 10,
    )
    hdr = swap.decode_header(page, 0, page_size)
    got = {
        "layout": hdr.layout,
        "image": hdr.image,
        "flags": hdr.flags,
        "crc32": hdr.crc32,
        "hw_sig": hdr.hw_sig,
        "orig_sig": hdr.orig_sig,
        "version": swap.decode_swap_info(page, 0)[0],
    }
    assert got == expected
    assert hdr.sig == "S1SUSPEND"


def test_swsusp_header_hexdump_last_page() -> None:
    page = unhex(4096, SWSUSP_HEADER_5_17)
    assert swap.decode_swap_info(page, 0) == (1, 0x3FFFF)


def test_swsusp_header_zero_image_names_the_slot() -> None:
    page = bytearray(unhex(4096, SWSUSP_HEADER_5_17))
    page[0xFE0:0xFE8] = bytes(8)
    with pytest.raises(FormatError) as exc:
        swap.decode_header(bytes(page), 0, 4096)
    assert exc.value.offset == 0xFE0
    assert exc.value.field == "image"


# -- swap_map_page ---------------------------------------------------------------------------

SWAP_MAP_PAGE = """
    # struct swap_map_page { sector_t entries[MAP_PAGE_ENTRIES]; sector_t next_swap; }
    # (kernel/power/swap.c, 2.6.20+), MAP_PAGE_ENTRIES = 4096 / 8 - 1 = 511
    0000: 02 00 00 00 00 00 00 00        # 0x000: entries[0] = 2 (the swsusp_info page)
    0008: 03 00 00 00 00 00 00 00        # 0x008: entries[1] = 3
    0010: 09 01 00 00 00 00 00 00        # 0x010: entries[2] = 0x109 (not contiguous)
    0018: 00 00 00 00 00 00 00 00        # 0x018: entries[3] = 0: the data ends here
    0ff8: 00 00 00 00 00 00 00 00        # 0xff8: next_swap = 0: last map page
"""


def test_swap_map_page_hexdump() -> None:
    buf = bytes(4096) + unhex(4096, SWAP_MAP_PAGE)  # map page at device page 1
    smap = swapmap.walk(buf, 1, 4096)
    assert smap.entries.tolist() == [2, 3, 0x109]
    assert smap.map_pages == (1,)


@pytest.mark.parametrize("page_size", PAGE_SIZES)
@pytest.mark.parametrize("sector_size", [8, 4])
@given(data=st.data())
@HYP
def test_swap_map_page_round_trip(page_size: int, sector_size: int, data: st.DataObject) -> None:
    per_page = swapmap.map_page_entries(page_size, sector_size)
    assert per_page == page_size // sector_size - 1
    n_pages = data.draw(st.integers(1, 3))
    n_entries = data.draw(st.integers((n_pages - 1) * per_page + 1, n_pages * per_page))
    # map pages at 1..n_pages, entries beyond them, scattered
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    entries = rng.permutation(np.arange(n_pages + 1, n_pages + 1 + n_entries)).tolist()
    next_pages = [*range(2, n_pages + 1), 0]
    built = swapmap.build_map_pages(list(entries), next_pages, page_size, sector_size)
    assert [len(p) for p in built] == [page_size] * n_pages
    dtype = "<u8" if sector_size == 8 else "<u4"
    # parse(data) == obj, per page: entries then next_swap
    for i, page in enumerate(built):
        arr = np.frombuffer(page, dtype)
        want = list(entries[i * per_page : (i + 1) * per_page])
        assert arr[: len(want)].tolist() == want
        assert not arr[len(want) : per_page].any()
        assert int(arr[per_page]) == next_pages[i]
    buf = bytes(page_size) + b"".join(built)
    smap = swapmap.walk(buf, 1, page_size, sector_size)
    assert smap.entries.tolist() == list(entries)
    assert smap.map_pages == tuple(range(1, n_pages + 1))
    # build(parse(data)) == data
    again = swapmap.build_map_pages(smap.entries.tolist(), next_pages, page_size, sector_size)
    assert again == built


def test_entry_offset_points_at_the_slot() -> None:
    assert swapmap.entry_offset((5, 9), 0, 4096) == 5 * 4096
    assert swapmap.entry_offset((5, 9), 510, 4096) == 5 * 4096 + 510 * 8
    assert swapmap.entry_offset((5, 9), 511, 4096) == 9 * 4096
    # one past the last slot: the last page's next_swap
    assert swapmap.entry_offset((5, 9), 1022, 4096) == 9 * 4096 + 511 * 8


# -- swsusp_info -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "size", "offsets"),
    [
        (
            8,
            440,
            {
                "version_code": 392,
                "num_physpages": 400,
                "cpus": 408,
                "image_pages": 416,
                "pages": 424,
                "size": 432,
            },
        ),
        (
            4,
            416,
            {
                "version_code": 392,
                "num_physpages": 396,
                "cpus": 400,
                "image_pages": 404,
                "pages": 408,
                "size": 412,
            },
        ),
    ],
)
@given(
    uts=st.binary(min_size=390, max_size=390),
    version_code=u32,
    num_physpages=st.integers(0, 2**32 - 1),
    cpus=st.integers(-(2**31), 2**31 - 1),
    image_pages=st.integers(0, 2**31),
    extra=st.integers(1, 2**20),
)
@HYP
def test_swsusp_info_round_trip(
    word: int,
    size: int,
    offsets: dict[str, int],
    uts: bytes,
    version_code: int,
    num_physpages: int,
    cpus: int,
    image_pages: int,
    extra: int,
) -> None:
    fmt = snapshot.swsusp_info_struct(word)
    pages = image_pages + extra
    obj = {
        "uts": uts,
        "version_code": version_code,
        "num_physpages": num_physpages,
        "cpus": cpus,
        "image_pages": image_pages,
        "pages": pages,
        "size": (pages * 4096) % 2 ** (8 * word),
    }
    data = fmt.build(obj)
    round_trip(fmt, obj, size, data)
    for name, off in offsets.items():
        width = 4 if name in ("version_code", "cpus") else word
        assert int.from_bytes(data[off : off + width], "little", signed=name == "cpus") == obj[name]


@pytest.mark.parametrize("word", [8, 4])
def test_swsusp_info_build_decode(word: int) -> None:
    page = snapshot.build_info(
        page_size=4096,
        num_physpages=0x40000,
        image_pages=100,
        pages=102,
        word_size=word,
        uts=b"Linux",
        version_code=0x20617,
        cpus=1,
    )
    info = snapshot.decode_info(page, 0, 4096, word)
    assert (
        info.word_size,
        info.num_physpages,
        info.image_pages,
        info.pages,
        info.size,
        info.meta_pages,
        info.version_code,
        info.cpus,
    ) == (word, 0x40000, 100, 102, 102 * 4096, 1, 0x20617, 1)
    assert info.uts is not None
    assert info.uts.sysname == "Linux"


SWSUSP_INFO_X86_64_GENERIC = """
    # struct swsusp_info (kernel/power/power.h, 2.6.17+), x86_64: long = 8 bytes.
    # A generic header (no arch record, before 2.6.24 on x86_64): uts + version_code.
    0000: 4c 69 6e 75 78                 # 0x000: uts.sysname[65] = "Linux"
    0041: 68 6f 73 74                    # 0x041: uts.nodename[65] = "host"
    0082: 32 2e 36 2e 32 33              # 0x082: uts.release[65] = "2.6.23"
    00c3: 23 31 20 53 4d 50              # 0x0c3: uts.version[65] = "#1 SMP"
    0104: 78 38 36 5f 36 34              # 0x104: uts.machine[65] = "x86_64"
    0145: 28 6e 6f 6e 65 29              # 0x145: uts.domainname[65] = "(none)"
    0188: 17 06 02 00                    # 0x188: u32 version_code = KERNEL_VERSION(2,6,23)
    0190: 00 ff 03 00 00 00 00 00        # 0x190: num_physpages = 0x3ff00 (8-aligned)
    0198: 02 00 00 00                    # 0x198: int cpus = 2
    01a0: 34 12 00 00 00 00 00 00        # 0x1a0: image_pages = 0x1234 (8-aligned)
    01a8: 3f 12 00 00 00 00 00 00        # 0x1a8: pages = 0x123f = 0x1234 + 10 meta + 1
    01b0: 00 f0 23 01 00 00 00 00        # 0x1b0: size = pages << 12 = 0x123f000
"""

SWSUSP_INFO_I386_CRC32 = """
    # struct swsusp_info on i386 (long = 4 bytes), arch record in place of uts (4.20+ i386)
    # struct restore_data_record (arch/x86/power/hibernate.c, 5.13+), all unsigned long:
    0000: c0 b3 a2 c1                    # 0x000: jump_address = 0xc1a2b3c0 (VA)
    0004: c0 b3 a2 01                    # 0x004: jump_address_phys = 0x01a2b3c0 (VA - 3G)
    0008: 00 c0 d3 01                    # 0x008: cr3 = 0x01d3c000
    000c: 79 56 34 12                    # 0x00c: magic = RESTORE_MAGIC 0x12345679 (i386)
    0010: f0 de bc 9a                    # 0x010: e820_checksum = 0x9abcdef0
    # swsusp_info after uts[390] + u32 version_code (392, left 0 with an arch record):
    018c: 00 f7 07 00                    # 0x18c: num_physpages = 0x7f700
    0190: 00 00 00 00                    # 0x190: int cpus = 0 (not set since 2.6.24)
    0194: 00 30 00 00                    # 0x194: image_pages = 0x3000
    0198: 0d 30 00 00                    # 0x198: pages = 0x300d = 0x3000 + 12 meta + 1
    019c: 00 d0 00 03                    # 0x19c: size = pages << 12 = 0x300d000
"""


def test_swsusp_info_hexdump_x86_64_generic() -> None:
    info = snapshot.decode_info(unhex(4096, SWSUSP_INFO_X86_64_GENERIC), 0, 4096, 8)
    assert info.arch is None
    assert info.uts is not None
    assert (
        info.uts.sysname,
        info.uts.nodename,
        info.uts.release,
        info.uts.version,
        info.uts.machine,
        info.uts.domainname,
    ) == ("Linux", "host", "2.6.23", "#1 SMP", "x86_64", "(none)")
    assert (
        info.version_code,
        info.num_physpages,
        info.cpus,
        info.image_pages,
        info.pages,
        info.size,
        info.meta_pages,
    ) == (0x20617, 0x3FF00, 2, 0x1234, 0x123F, 0x123F000, 10)


def test_swsusp_info_hexdump_i386_crc32() -> None:
    info = snapshot.decode_info(unhex(4096, SWSUSP_INFO_I386_CRC32), 0, 4096, 4)
    assert info.uts is None
    assert (
        info.num_physpages,
        info.cpus,
        info.image_pages,
        info.pages,
        info.size,
        info.meta_pages,
    ) == (0x7F700, 0, 0x3000, 0x300D, 0x300D000, 12)
    arch = info.arch
    assert arch is not None
    assert (
        arch.name,
        arch.magic,
        arch.jump_address,
        arch.jump_address_phys,
        arch.cr3,
        arch.e820_checksum_kind,
        arch.e820_checksum,
    ) == ("i386", 0x12345679, 0xC1A2B3C0, 0x01A2B3C0, 0x01D3C000, "crc32", 0x9ABCDEF0)


def test_swsusp_info_counts_are_checked() -> None:
    page = bytearray(unhex(4096, SWSUSP_INFO_X86_64_GENERIC))
    page[0x1B0:0x1B8] = (0x123E000).to_bytes(8, "little")
    with pytest.raises(FormatError) as exc:
        snapshot.decode_info(bytes(page), 0, 4096, 8)
    assert (exc.value.offset, exc.value.field) == (0x1B0, "size")


# -- x86 restore_data_record ---------------------------------------------------------------

RECORDS = {
    # arch/x86/power/hibernate_64.c 2.6.25-4.6 (arch/x86/kernel/suspend_64.c in 2.6.24)
    ("x86_64", "2.6.24-4.6"): """
        0000: 60 45 23 81 ff ff ff ff    # 0x00: jump_address = 0xffffffff81234560
        0008: 00 e0 c0 01 00 00 00 00    # 0x08: cr3 = 0x1c0e000
        0010: ef cd ab 89 67 45 23 01    # 0x10: magic = 0x0123456789ABCDEF
    """,
    # arch/x86/power/hibernate_64.c 4.7 ("Fix kernel text mapping corruption ...")
    ("x86_64", "4.7-4.9"): """
        0000: 60 45 23 81 ff ff ff ff    # 0x00: jump_address = 0xffffffff81234560
        0008: 60 45 23 01 00 00 00 00    # 0x08: jump_address_phys = 0x1234560
        0010: 00 e0 c0 01 00 00 00 00    # 0x10: cr3 = 0x1c0e000
        0018: f0 de bc 9a 78 56 34 12    # 0x18: magic = 0x123456789ABCDEF0
    """,
    # arch/x86/power/hibernate.c, MD5 era (u8 e820_digest[MD5_DIGEST_SIZE])
    ("x86_64", "4.9-5.12 (MD5 e820 digest)"): """
        0000: 60 45 23 81 ff ff ff ff    # 0x00: jump_address = 0xffffffff81234560
        0008: 60 45 23 01 00 00 00 00    # 0x08: jump_address_phys = 0x1234560
        0010: 00 e0 c0 01 00 00 00 00    # 0x10: cr3 = 0x1c0e000
        0018: 01 ef cd ab 89 67 45 23    # 0x18: magic = 0x23456789ABCDEF01
        0020: 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff  # 0x20: e820_digest[16]
    """,
    # arch/x86/power/hibernate.c 5.13+ (unsigned long e820_checksum)
    ("x86_64", "5.13+ (CRC32 e820 checksum)"): """
        0000: 60 45 23 81 ff ff ff ff    # 0x00: jump_address = 0xffffffff81234560
        0008: 60 45 23 01 00 00 00 00    # 0x08: jump_address_phys = 0x1234560
        0010: 00 e0 c0 01 00 00 00 00    # 0x10: cr3 = 0x1c0e000
        0018: 02 ef cd ab 89 67 45 23    # 0x18: magic = 0x23456789ABCDEF02
        0020: 78 56 34 12 00 00 00 00    # 0x20: e820_checksum = 0x12345678 (u32 in a long)
    """,
    # arch/x86/power/hibernate.c MD5 era built for i386: RESTORE_MAGIC 0x12345678UL
    ("i386", "4.20-5.12 (MD5 e820 digest)"): """
        0000: c0 b3 a2 c1                # 0x00: jump_address = 0xc1a2b3c0
        0004: c0 b3 a2 01                # 0x04: jump_address_phys = 0x01a2b3c0
        0008: 00 c0 d3 01                # 0x08: cr3 = 0x01d3c000
        000c: 78 56 34 12                # 0x0c: magic = 0x12345678
        0010: 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff  # 0x10: e820_digest[16]
    """,
    ("i386", "5.13+ (CRC32 e820 checksum)"): """
        0000: c0 b3 a2 c1                # 0x00: jump_address = 0xc1a2b3c0
        0004: c0 b3 a2 01                # 0x04: jump_address_phys = 0x01a2b3c0
        0008: 00 c0 d3 01                # 0x08: cr3 = 0x01d3c000
        000c: 79 56 34 12                # 0x0c: magic = 0x12345679
        0010: 78 56 34 12                # 0x10: e820_checksum = 0x12345678
    """,
}
RECORD_SIZES = {
    ("x86_64", "2.6.24-4.6"): 24,
    ("x86_64", "4.7-4.9"): 32,
    ("x86_64", "4.9-5.12 (MD5 e820 digest)"): 48,
    ("x86_64", "5.13+ (CRC32 e820 checksum)"): 40,
    ("i386", "4.20-5.12 (MD5 e820 digest)"): 32,
    ("i386", "5.13+ (CRC32 e820 checksum)"): 20,
}
RECORD_MAGICS = {  # RESTORE_MAGIC of each file/version, as written in the hexdumps above
    ("x86_64", "2.6.24-4.6"): 0x0123456789ABCDEF,
    ("x86_64", "4.7-4.9"): 0x123456789ABCDEF0,
    ("x86_64", "4.9-5.12 (MD5 e820 digest)"): 0x23456789ABCDEF01,
    ("x86_64", "5.13+ (CRC32 e820 checksum)"): 0x23456789ABCDEF02,
    ("i386", "4.20-5.12 (MD5 e820 digest)"): 0x12345678,
    ("i386", "5.13+ (CRC32 e820 checksum)"): 0x12345679,
}
DIGEST = bytes.fromhex("00112233445566778899aabbccddeeff")


@pytest.mark.parametrize("key", list(RECORDS), ids=[f"{a} {b}" for a, b in RECORDS])
def test_restore_record_hexdump(key: tuple[str, str]) -> None:
    name, layout = key
    word = 8 if name == "x86_64" else 4
    page = unhex(4096, RECORDS[key])
    arch = snapshot.decode_arch(page, word)
    assert arch is not None
    assert (arch.name, arch.layout) == (name, layout)
    va, phys, cr3 = (
        (0xFFFFFFFF81234560, 0x1234560, 0x1C0E000)
        if word == 8
        else (0xC1A2B3C0, 0x01A2B3C0, 0x01D3C000)
    )
    assert arch.jump_address == va
    assert arch.cr3 == cr3
    assert arch.jump_address_phys == (None if layout == "2.6.24-4.6" else phys)
    if "MD5" in layout:
        assert (arch.e820_checksum_kind, arch.e820_digest) == ("md5", DIGEST)
    elif "CRC32" in layout:
        assert (arch.e820_checksum_kind, arch.e820_checksum) == ("crc32", 0x12345678)
    else:
        assert arch.e820_checksum_kind is None
    assert arch.magic == RECORD_MAGICS[key]


@pytest.mark.parametrize("key", list(RECORDS), ids=[f"{a} {b}" for a, b in RECORDS])
@given(jump=u32, phys=u32, cr3=u32, extra=st.binary(min_size=16, max_size=16), csum=u32)
@HYP
def test_restore_record_round_trip(
    key: tuple[str, str], jump: int, phys: int, cr3: int, extra: bytes, csum: int
) -> None:
    name, layout = key
    word = 8 if name == "x86_64" else 4
    fmt = snapshot.restore_record_struct(word, layout)
    magic = RECORD_MAGICS[key]
    obj: dict[str, Any] = {"jump_address": jump, "cr3": cr3, "magic": magic}
    if layout != "2.6.24-4.6":
        obj["jump_address_phys"] = phys
    if "MD5" in layout:
        obj["e820_digest"] = extra
    elif "CRC32" in layout:
        obj["e820_checksum"] = csum
    data = fmt.build(obj)
    round_trip(fmt, obj, RECORD_SIZES[key], data)
    built = snapshot.build_restore_record(layout, word, **obj)
    assert built == data
    arch = snapshot.decode_arch(data.ljust(4096, b"\0"), word)
    assert arch is not None
    assert (arch.layout, arch.magic, arch.cr3) == (layout, magic, cr3)


# -- arm64 arch_hibernate_hdr ----------------------------------------------------------------

ARM64_HDR = """
    # struct arch_hibernate_hdr (arch/arm64/kernel/hibernate.c), overlaying swsusp_info
    0000: 23 31 20 53 4d 50 20 44 65 62 69 61 6e 20 36 2e 31 2e 37 36 2d 31
    #     0x00: invariants.uts_version[65] = "#1 SMP Debian 6.1.76-1" (init_utsname()->version)
    0048: 00 f0 31 41 00 00 00 00        # 0x48: phys_addr_t ttbr1_el1 = 0x4131f000 (65 -> 72)
    0050: 00 c0 f6 08 00 80 ff ff        # 0x50: reenter_kernel = 0xffff800008f6c000
    0058: 00 00 00 00 00 00 00 00        # 0x58: phys_addr_t __hyp_stub_vectors = 0 (EL1/VHE)
    0060: 01 00 00 80 00 00 00 00        # 0x60: u64 sleep_cpu_mpidr = 0x80000001
"""


def test_arm64_header_hexdump() -> None:
    arch = snapshot.decode_arch(unhex(4096, ARM64_HDR), 8)
    assert arch is not None
    assert (arch.name, arch.magic) == ("arm64", None)
    assert arch_extra(arch) == {
        "uts_version": "#1 SMP Debian 6.1.76-1",
        "ttbr1_el1": 0x4131F000,
        "reenter_kernel": 0xFFFF800008F6C000,
        "hyp_stub_vectors": 0,
        "sleep_cpu_mpidr": 0x80000001,
    }


# reenter_kernel is a kernel virtual address (TTBR1 half: top nibble 0xf with every VA size,
# 36 to 52 bits); riscv's saved_satp in that slot has MODE 8/9/10 there, which is how the two
# records with the same uts_version head are told apart (test below)
KERNEL_VA = st.integers(0xF << 60, 2**64 - 1)


@given(
    version=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=63),
    ttbr=u64,
    reenter=KERNEL_VA,
    hyp=u64,
    mpidr=u64,
)
@HYP
def test_arm64_header_round_trip(
    version: str, ttbr: int, reenter: int, hyp: int, mpidr: int
) -> None:
    fmt = snapshot.arm64_hdr
    obj = {
        "uts_version": ("#" + version).encode().ljust(65, b"\0"),
        "ttbr1_el1": ttbr,
        "reenter_kernel": reenter,
        "__hyp_stub_vectors": hyp,
        "sleep_cpu_mpidr": mpidr,
    }
    data = fmt.build(obj)
    round_trip(fmt, obj, 104, data)
    arch = snapshot.decode_arch(data.ljust(4096, b"\0"), 8)
    assert arch is not None
    assert arch.name == "arm64"
    assert arch_extra(arch)["uts_version"] == "#" + version
    assert (arch_extra(arch)["ttbr1_el1"], arch_extra(arch)["sleep_cpu_mpidr"]) == (ttbr, mpidr)


@pytest.mark.parametrize(
    ("word_at_80", "name"),
    [
        (0xFFFF800008F6C000, "arm64"),  # reenter_kernel, 48-bit VA
        (0xFFFFFF8008F6C000, "arm64"),  # 39-bit VA
        (0x8000000000080A3F, "riscv64"),  # saved_satp, MODE 8 (Sv39)
        (0xA000000000080A3F, "riscv64"),  # MODE 10 (Sv57)
    ],
)
def test_arm64_and_riscv_told_apart_by_the_word_at_80(word_at_80: int, name: str) -> None:
    head = b"#1 SMP PREEMPT".ljust(72, b"\0")
    page = head + (0x41858000).to_bytes(8, "little") + word_at_80.to_bytes(8, "little")
    arch = snapshot.decode_arch(page.ljust(4096, b"\0"), 8)
    assert arch is not None and arch.name == name


# -- PFN directory ---------------------------------------------------------------------------

PFN_DIRECTORY_6_6 = """
    # metadata page as pack_pfns() writes it (kernel/power/snapshot.c 6.6+), long = 8 bytes
    0000: 00 01 00 00 00 00 00 00        # 0x00: PFN 0x100
    0008: 01 01 00 00 00 00 00 80        # 0x08: PFN 0x101 | ENCODED_PFN_ZERO_FLAG (bit 63)
    0010: 05 01 00 00 00 00 00 00        # 0x10: PFN 0x105
    0018: ff ff ff ff ff ff ff ff        # 0x18: BM_END_OF_MAP (~0UL); rest of the page 0
"""


def test_pfn_directory_hexdump() -> None:
    raw = np.frombuffer(unhex(4096, PFN_DIRECTORY_6_6), np.uint8)
    pd = pagedir.decode(raw, 8, image_pages=2)
    assert pd.pfns.tolist() == [0x100, 0x101, 0x105]
    assert pd.zero.tolist() == [False, True, False]
    assert pd.data_pfns.tolist() == [0x100, 0x105]
    assert (pd.terminated, pd.saved_pfns, pd.zero_pages) == (True, 3, 1)


@st.composite
def directories(draw: st.DrawFn, word: int) -> tuple[np.ndarray, np.ndarray]:
    top = 2**40 if word == 8 else 2**31 - 1
    values = draw(st.lists(st.integers(0, top - 1), min_size=1, max_size=1200, unique=True))
    pfn_arr = np.array(sorted(values), dtype=np.uint64)
    zero = np.array(
        draw(st.lists(st.booleans(), min_size=pfn_arr.size, max_size=pfn_arr.size)), dtype=bool
    )
    return pfn_arr, zero


@pytest.mark.parametrize("page_size", PAGE_SIZES)
@pytest.mark.parametrize("word", [8, 4])
@given(data=st.data())
@HYP
def test_pfn_directory_round_trip(page_size: int, word: int, data: st.DataObject) -> None:
    pfn_arr, zero = data.draw(directories(word))
    built = pagedir.build(pfn_arr, zero, word, page_size)
    n_meta = pagedir.meta_pages_for(pfn_arr.size, word, page_size)
    assert len(built) == n_meta * page_size
    image_pages = int((~zero).sum())
    pd = pagedir.decode(np.frombuffer(built, np.uint8), word, image_pages)
    assert pd.pfns.tolist() == pfn_arr.tolist()
    assert pd.zero.tolist() == zero.tolist()
    assert pd.terminated == (pfn_arr.size * word < len(built))
    assert pagedir.build(pd.pfns, pd.zero, word, page_size) == built


@pytest.mark.parametrize(("word", "page_size"), [(8, 4096), (4, 4096), (8, 16384)])
def test_pfn_directory_exactly_full_has_no_terminator(word: int, page_size: int) -> None:
    per_page = page_size // word
    pfn_arr = np.arange(7, 7 + 2 * per_page, dtype=np.uint64)  # two pages, both full
    zero = pfn_arr % 3 == 0
    built = pagedir.build(pfn_arr, zero, word, page_size)
    assert len(built) == 2 * page_size
    words = np.frombuffer(built, "<u8" if word == 8 else "<u4")
    assert int(words[-1]) == (int(pfn_arr[-1]) | (int(zero[-1]) << (8 * word - 1)))
    assert not (words == np.iinfo(words.dtype).max).any()
    pd = pagedir.decode(np.frombuffer(built, np.uint8), word, int((~zero).sum()))
    assert pd.terminated is False
    assert pd.pfns.tolist() == pfn_arr.tolist()
    assert pd.zero_pages == int(zero.sum())


def test_pfn_directory_zero_flag_is_the_top_bit() -> None:
    for word in (8, 4):
        built = pagedir.build(np.array([5], np.uint64), np.array([True]), word, 4096)
        first = int.from_bytes(built[:word], "little")
        assert first == 5 | 1 << (8 * word - 1)
        terminator = int.from_bytes(built[word : 2 * word], "little")
        assert terminator == 2 ** (8 * word) - 1


def test_pfn_directory_without_terminator_is_an_error() -> None:
    # a full page of data PFNs, but image_pages says fewer: the terminator is missing
    raw = np.arange(1, 513, dtype="<u8").view(np.uint8)
    with pytest.raises(FormatError) as exc:
        pagedir.decode(raw, 8, image_pages=500, offset=0x5000)
    assert exc.value.offset == 0x5000 + 500 * 8
    assert "BM_END_OF_MAP" in str(exc.value)


@pytest.mark.parametrize(("page_size", "limit"), [(4096, 1 << 40), (65536, 1 << 36)])
def test_pfn_directory_rejects_impossible_pfns(page_size: int, limit: int) -> None:
    # a PFN whose physical address needs more than 52 bits cannot be a page frame
    good = pagedir.build(np.array([1, limit - 1], np.uint64), None, 8, page_size)
    assert pagedir.decode(
        np.frombuffer(good, np.uint8), 8, 2, page_size=page_size
    ).pfns.tolist() == [1, limit - 1]
    bad = pagedir.build(np.array([1, limit], np.uint64), None, 8, page_size)
    with pytest.raises(FormatError) as exc:
        pagedir.decode(np.frombuffer(bad, np.uint8), 8, 2, offset=0x9000, page_size=page_size)
    assert (exc.value.offset, exc.value.field, exc.value.found) == (0x9008, "entry 1", limit)
