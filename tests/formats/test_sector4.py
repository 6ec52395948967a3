"""32-bit kernels without ``CONFIG_LBDAF``: the 4-byte ``sector_t`` layout (2.6.20 to 5.1).

The hexdumps are written from the kernel's struct definitions with S = sizeof(sector_t) = 4
(offsets worked out by hand from the C types, never produced by our builders); the decoders
must read them back.  Forged images then go through the whole reader (pattern-filled pages,
so every page read is checked against a computed value), and damaged ones must end in one
line naming the structure and its hex offset, exit 2.

Kernel sources read:
    kernel/power/swap.c 2.6.20 (``char reserved[PAGE_SIZE - 20 - sizeof(sector_t)];
        sector_t image;``); 2.6.24 (0x88888888/Linux2.6.24-comments @6e001114: ``reserved[
        PAGE_SIZE - 20 - sizeof(sector_t) - sizeof(int)]; sector_t image; unsigned int flags;
        char orig_sig[10]; char sig[10];`` packed; ``MAP_PAGE_ENTRIES (PAGE_SIZE /
        sizeof(sector_t) - 1)``; ``struct swap_map_page { sector_t entries[MAP_PAGE_ENTRIES];
        sector_t next_swap; }``); 3.6 (New-B/Linux3.6 @1d88f940: ``reserved[... -
        sizeof(u32)]; u32 crc32; sector_t image; unsigned int flags; ...``, ``#define
        LZO_HEADER sizeof(size_t)``, ``*(size_t *)data[thr].cmp = data[thr].cmp_len``).
    include/linux/types.h (3.x, 4.x): ``#ifdef CONFIG_LBDAF typedef u64 sector_t; #else
        typedef unsigned long sector_t;``; block/Kconfig: ``config LBDAF ... depends on
        !64BIT``.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import (
    assert_error_line,
    check_verify,
    examples,
    forge_to,
    pfns,
    round_trip,
    run_cli,
    unhex,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swsusp_inspect.errors import FormatError, SwsuspError
from swsusp_inspect.forge.kernel import Forged, ForgeSpec, forge, pattern_pages
from swsusp_inspect.forge.legacy import LegacySpec, forge_legacy, uts_bytes
from swsusp_inspect.formats import chunks, legacy, swap, swapmap
from swsusp_inspect.image import HibernationImage, open_image

N = 4096
ERA = "2.6.23-5.1, 4-byte sector_t"
UTS = uts_bytes("4.19.0", "armv7l")  # ARM kept the generic header (no arch record)
HYP = settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def forge4(directory: Path, name: str = "image", **spec: Any) -> Forged:
    """A 32-bit image with a 4-byte sector_t (spec: ForgeSpec fields)."""
    spec.setdefault("uts", UTS)
    spec.setdefault("version_code", 0x041300)
    return forge_to(directory, name, word_size=4, sector_size=4, **spec)


# -- swsusp_header --------------------------------------------------------------------------

HEADER_3_2_S4 = """
    0400: 01 00 00 00                    # 0x0400: info.version = 1
    0404: ff ff 00 00                    # 0x0404: info.last_page = 0xffff
    # struct swsusp_header, 3.2-5.1 (swap.c at 3.6), S = 4: reserved[4096-20-4-4-4 = 0xfe0]
    0fe0: ef cd ab 89                    # 0x0fe0: crc32 = 0x89abcdef           (N-28-S)
    0fe4: c1 03 00 00                    # 0x0fe4: image = 0x3c1 (sector_t)     (N-24-S)
    0fe8: 05 00 00 00                    # 0x0fe8: flags = PLATFORM|CRC32       (N-24)
    0fec: 53 57 41 50 53 50 41 43 45 32  # 0x0fec: orig_sig[10] = "SWAPSPACE2"  (N-20)
    0ff6: 53 31 53 55 53 50 45 4e 44 00  # 0x0ff6: sig[10] = "S1SUSPEND\\0"    (N-10)
"""

HEADER_3_2_S4_64K = """
    0400: 01 00 00 00                    # 0x0400: info.version = 1 (fixed offset, any N)
    # the same struct at the end of a 64 KiB page (MIPS32 with 64 KiB pages)
    ffe0: 78 56 34 12                    # 0xffe0: crc32 = 0x12345678           (N-28-S)
    ffe4: 03 00 00 00                    # 0xffe4: image = 3                    (N-24-S)
    ffe8: 04 00 00 00                    # 0xffe8: flags = SF_CRC32_MODE        (N-24)
    ffec: 53 57 41 50 53 50 41 43 45 32  # 0xffec: orig_sig[10] = "SWAPSPACE2"  (N-20)
    fff6: 53 31 53 55 53 50 45 4e 44 00  # 0xfff6: sig[10] = "S1SUSPEND\\0"    (N-10)
"""

HEADER_2_6_23_S4 = """
    0400: 00 00 00 00                    # 0x0400: info.version = 0 (a v0 swap area)
    # struct swsusp_header, 2.6.23-3.1 (swap.c at 2.6.24), S = 4: reserved[4096-20-4-4]
    0fe0: 0d f0 ad 0b                    # 0x0fe0: reserved[]: a stale value, not crc32
    0fe4: 10 27 00 00                    # 0x0fe4: image = 0x2710 (sector_t)    (N-24-S)
    0fe8: 03 00 00 00                    # 0x0fe8: flags = PLATFORM|NOCOMPRESS  (N-24)
    0fec: 53 57 41 50 2d 53 50 41 43 45  # 0x0fec: orig_sig[10] = "SWAP-SPACE"  (N-20)
    0ff6: 53 31 53 55 53 50 45 4e 44 00  # 0x0ff6: sig[10] = "S1SUSPEND\\0"    (N-10)
"""

HEADER_2_6_23_S4_NO_FLAGS = """
    0400: 01 00 00 00                    # 0x0400: info.version = 1
    # 2.6.23-3.1, S = 4, flags 0 (LZO without CRC32, not platform mode): these bytes are
    # also an 8-byte 2.6.20-2.6.22 header (sector_t image at N-20-8 = 0xfe4)
    0fe4: 10 27 00 00                    # 0x0fe4: image = 0x2710 (sector_t)    (N-24-S)
    0fe8: 00 00 00 00                    # 0x0fe8: flags = 0                    (N-24)
    0fec: 53 57 41 50 53 50 41 43 45 32  # 0x0fec: orig_sig[10] = "SWAPSPACE2"  (N-20)
    0ff6: 53 31 53 55 53 50 45 4e 44 00  # 0x0ff6: sig[10] = "S1SUSPEND\\0"    (N-10)
"""

HEADER_2_6_20_S4 = """
    0400: 01 00 00 00                    # 0x0400: info.version = 1
    # struct swsusp_header, 2.6.20-2.6.22 (swap.c 2.6.20), S = 4: reserved[4096-20-4]
    0fe8: 2a 00 00 00                    # 0x0fe8: image = 0x2a (sector_t)      (N-20-S)
    0fec: 53 57 41 50 53 50 41 43 45 32  # 0x0fec: orig_sig[10] = "SWAPSPACE2"  (N-20)
    0ff6: 53 31 53 55 53 50 45 4e 44 00  # 0x0ff6: sig[10] = "S1SUSPEND\\0"    (N-10)
"""


@pytest.mark.parametrize(
    ("dump", "page_size", "expected"),
    [
        (
            HEADER_3_2_S4,
            N,
            {"image": 0x3C1, "flags": 5, "crc32": 0x89ABCDEF, "orig_sig": "SWAPSPACE2"},
        ),
        (
            HEADER_3_2_S4_64K,
            65536,
            {"image": 3, "flags": 4, "crc32": 0x12345678, "orig_sig": "SWAPSPACE2"},
        ),
        (
            HEADER_2_6_23_S4,
            N,
            {"image": 0x2710, "flags": 3, "crc32": None, "orig_sig": "SWAP-SPACE"},
        ),
    ],
    ids=["3.2-5.1", "3.2-5.1-64K", "2.6.23-3.1"],
)
def test_header_hexdump(dump: str, page_size: int, expected: dict[str, Any]) -> None:
    page = unhex(page_size, dump)
    (hdr,) = swap.decode_headers(page, 0, page_size)  # the only plausible reading
    got = {"image": hdr.image, "flags": hdr.flags, "crc32": hdr.crc32, "orig_sig": hdr.orig_sig}
    assert got == expected
    assert (hdr.sector_size, hdr.layout, hdr.hw_sig, hdr.sig) == (4, "2.6.23+", None, "S1SUSPEND")
    assert swap.decode_header(page, 0, page_size) == hdr
    assert swap.decode_header(page, 0, page_size, sector_size=4) == hdr


# Seen on real kernels: 4.19.72 built without CONFIG_LBDAF (LZO, the default) for i386 (QEMU pc)
# and for 32-bit ARM (QEMU virt, Cortex-A15, armv7l), each hibernating to a 64 MiB virtio disk;
# both resumed from their images.  The images are not committed (the kernels were built from a
# fetched tree, not Debian packages); these bytes are read off them.
REAL_4_19_HEADER = """
    0400: 01 00 00 00 ff 3f 00 00        # info.version = 1, info.last_page = 0x3fff
    0fe0: {crc}                          # 0x0fe0: crc32 (verify computes the same)
    0fe4: 01 00 00 00                    # 0x0fe4: image = 1
    0fe8: 04 00 00 00                    # 0x0fe8: flags = SF_CRC32_MODE
    0fec: 53 57 41 50 53 50 41 43 45 32  # 0x0fec: orig_sig[10] = "SWAPSPACE2"
    0ff6: 53 31 53 55 53 50 45 4e 44 00  # 0x0ff6: sig[10] = "S1SUSPEND\\0"
"""
REAL_4_19_MAP_PAGE = """
    0000: 02 00 00 00 03 00 00 00        # entries[0] = 2 (swsusp_info), entries[1] = 3, ...
    0ffc: 01 04 00 00                    # next_swap = 0x401: after entries 2..0x400 (1023)
"""


@pytest.mark.parametrize(
    ("crc_bytes", "crc32"),
    [
        ("72 f6 06 d8", 0xD806F672),  # i386: main refused it, "got 0x1d806f672"
        ("23 66 46 d9", 0xD9466623),  # armv7l: main refused it, "got 0x1d9466623"
    ],
    ids=["i386", "arm"],
)
def test_real_4_19_without_lbdaf(crc_bytes: str, crc32: int) -> None:
    page = unhex(N, REAL_4_19_HEADER.format(crc=crc_bytes))
    (hdr,) = swap.decode_headers(page, 0, N)
    assert (hdr.sector_size, hdr.layout, hdr.image, hdr.flags, hdr.crc32) == (
        4,
        "2.6.23+",
        1,
        4,
        crc32,
    )
    # what the 8-byte reading made of it: "swsusp_header at 0xfe0: image: expected < 0x4000
    # (device pages), got 0x1...": main before this change, run on the real images
    assert swap.decode_header(page, 0, N, sector_size=8).image == 1 << 32 | crc32
    # both kernels' first map page (the same on both)
    words = np.frombuffer(unhex(N, REAL_4_19_MAP_PAGE), "<u4")
    per = swapmap.map_page_entries(N, 4)
    assert (per, int(words[0]), int(words[per])) == (1023, 2, 1 + per + 1)


def test_header_read_with_8_byte_sector_t_is_what_was_rejected() -> None:
    # the 8-byte reading takes crc32 for image's low half and image for its high half: the
    # "expected < ... (device pages), got 0x...00000000"-style value the old reader refused
    page = unhex(N, HEADER_3_2_S4)
    hdr = swap.decode_header(page, 0, N, sector_size=8)
    assert (hdr.layout, hdr.image, hdr.flags) == ("2.6.23+", 0x3C1 << 32 | 0x89ABCDEF, 5)


def test_header_without_flags_is_read_both_ways() -> None:
    page = unhex(N, HEADER_2_6_23_S4_NO_FLAGS)
    readings = swap.decode_headers(page, 0, N)
    assert [(h.sector_size, h.layout, h.image, h.flags) for h in readings] == [
        (8, "2.6.20-2.6.22", 0x2710, None),  # tried first: the swap map decides
        (4, "2.6.23+", 0x2710, 0),
    ]


def test_2_6_20_header_is_left_to_the_legacy_reader() -> None:
    # byte for byte 2.6.19's i386 header: read with sector_size=4 when asked, otherwise the
    # 8-byte 2.6.23+ reading's empty image slot is the complaint (formats/legacy reads it)
    page = unhex(N, HEADER_2_6_20_S4)
    hdr = swap.decode_header(page, 0, N, sector_size=4)
    assert (hdr.sector_size, hdr.layout, hdr.image, hdr.flags) == (4, "2.6.20-2.6.22", 0x2A, None)
    with pytest.raises(FormatError) as exc:
        swap.decode_headers(page, 0, N)
    assert (exc.value.offset, exc.value.field) == (0xFE0, "image")


@pytest.mark.parametrize("page_size", [4096, 16384, 65536])
@given(
    image=st.integers(1, 2**32 - 1),
    flags=st.integers(0, swap.S4_FLAGS),
    crc32=st.integers(0, 2**32 - 1),
)
@HYP
def test_header_round_trip(page_size: int, image: int, flags: int, crc32: int) -> None:
    fmt = swap.swsusp_header_struct(page_size, 4, "2.6.23+")
    # reserved[] is the swap header the kernel read back: any bytes must survive
    reserved = (bytes(range(256)) * (page_size // 256))[: page_size - 20 - 12]
    obj = {
        "reserved": reserved,
        "crc32": crc32,
        "image": image,
        "flags": flags,
        "orig_sig": b"SWAPSPACE2",
        "sig": b"S1SUSPEND\0",
    }
    round_trip(fmt, obj, page_size)
    page = swap.build_header(page_size, image=image, flags=flags, crc32=crc32, sector_size=4)
    readings = swap.decode_headers(page, 0, page_size)
    ours = [h for h in readings if h.sector_size == 4]
    assert [(h.layout, h.image, h.flags, h.crc32) for h in ours] == [
        ("2.6.23+", image, flags, crc32 if flags & 4 else None)
    ]
    # first unless the bytes are also the 8-byte 2.6.20 header (flags 0, crc32 slot empty)
    assert (readings[0] is ours[0]) == bool(flags or crc32)


@given(
    image=st.integers(1, 2**32 - 1),
    flags=st.integers(0, 0x1F),
    crc32=st.integers(0, 2**32 - 1),
    hw_sig=st.integers(0, 2**32 - 1),
)
@HYP
def test_8_byte_headers_are_never_read_as_4_byte(
    image: int, flags: int, crc32: int, hw_sig: int
) -> None:
    for layout in swap.LAYOUTS:
        page = swap.build_header(
            N, image=image, flags=flags, crc32=crc32, hw_sig=hw_sig, layout=layout
        )
        (hdr, *_) = swap.decode_headers(page, 0, N)
        assert (hdr.sector_size, hdr.layout, hdr.image) == (8, layout, image)


# -- swap_map_page, chunk header --------------------------------------------------------------

SWAP_MAP_PAGE_S4 = """
    # struct swap_map_page, S = 4: MAP_PAGE_ENTRIES = 4096 / 4 - 1 = 1023
    0000: 02 00 00 00                    # 0x000: entries[0] = 2 (the swsusp_info page)
    0004: 03 00 00 00                    # 0x004: entries[1] = 3
    0008: 09 01 00 00                    # 0x008: entries[2] = 0x109 (not contiguous)
    000c: 00 00 00 00                    # 0x00c: entries[3] = 0: the data ends here
    0ffc: 05 00 00 00                    # 0xffc: next_swap = 5 (slot 1023)
"""


def test_swap_map_page_hexdump() -> None:
    buf = bytearray(6 * N)
    buf[N : 2 * N] = unhex(N, SWAP_MAP_PAGE_S4)  # map pages at device pages 1 and 5 (empty)
    smap = swapmap.walk(bytes(buf), 1, N, sector_size=4)
    assert smap.entries.tolist() == [2, 3, 0x109]
    assert smap.map_pages == (1, 5)
    assert swapmap.map_page_entries(N, 4) == 1023
    assert swapmap.entry_offset((1, 5), 1023, N, 4) == 5 * N  # entry 1023: the second page
    # with 8-byte entries the same page says entries[0] = 3 << 32 | 2
    with pytest.raises(FormatError):
        swapmap.walk(bytes(buf), 1, N, sector_size=8, device_pages=6)


def test_chunk_length_is_a_4_byte_size_t() -> None:
    # save_image_lzo(): [size_t cmp_len][LZO data] from the start of a page; a 32-bit kernel's
    # size_t is 4 bytes, so the data start at byte 4
    page = pattern_pages(np.array([0x1234], np.uint64))
    cmp = chunks.compress("lzo", page)
    buf = bytearray(3 * N)
    struct.pack_into("<I", buf, 2 * N, len(cmp))
    buf[2 * N + 4 : 2 * N + 4 + len(cmp)] = cmp
    entries = np.array([1, 2], np.uint64)  # swsusp_info page, then the chunk
    table = chunks.build_table(bytes(buf), entries, N, 4, stream_pages=2)
    assert (table.cmp_len.tolist(), table.n_pages.tolist()) == ([len(cmp)], [1])
    data = bytes(buf[2 * N + 4 : 2 * N + 4 + len(cmp)])
    assert chunks.Decompressor("lzo", N).decompress(data, 1, where="chunk 0", offset=2 * N) == page
    # an 8-byte size_t reads the first 4 data bytes into cmp_len's high half
    with pytest.raises(FormatError):
        chunks.build_table(bytes(buf), entries, N, 8, stream_pages=2)


# -- whole images -----------------------------------------------------------------------------


def check_image(img: HibernationImage, forged: Forged, pfn_arr: np.ndarray) -> None:
    """Header, map and every page of a forged 4-byte-sector_t image."""
    n = img.page_size
    assert img.header is not None
    assert (img.era, img.header.sector_size, img.header.layout, img.word_size) == (
        ERA,
        4,
        "2.6.23+",
        4,
    )
    assert img.header.image == forged.map_pages[0]
    assert list(img.map_pages) == forged.map_pages
    # the map pages really are 4-byte sector_t arrays: 1023 entries (at 4 KiB) and the link
    per = n // 4 - 1
    assert len(img.map_pages) == -(-img.entries.size // per)
    first = np.frombuffer(img.buf, "<u4", count=per + 1, offset=forged.map_pages[0] * n)
    k = min(per, img.entries.size)
    assert first[:k].tolist() == img.entries[:k].tolist()
    assert int(first[per]) == (forged.map_pages[1] if len(forged.map_pages) > 1 else 0)
    assert img.pagedir.pfns.tolist() == pfn_arr.tolist()
    for pfn in pfn_arr.tolist():
        assert img.read_page(pfn) == pattern_pages(np.array([pfn], np.uint64), n), hex(pfn)
    check_verify(img, forged)


@pytest.mark.parametrize(
    ("compression", "crc32_mode", "scatter"),
    [
        # 2.6.37+ nocompress (and every 2.6.23-2.6.36 image)
        pytest.param("none", True, False, id="contiguous-none-True"),
        pytest.param("none", True, True, id="scattered-none-True"),
        # 3.2-5.1: LZO with the image CRC32
        pytest.param("lzo", True, True, id="scattered-lzo-True"),
        pytest.param("lzo", True, False, id="contiguous-lzo-True", marks=pytest.mark.slow),
        # 2.6.37-3.1: LZO, no CRC32 (flags 0: also an 8-byte 2.6.20 header)
        pytest.param("lzo", False, False, id="contiguous-lzo-False"),
        pytest.param("lzo", False, True, id="scattered-lzo-False", marks=pytest.mark.slow),
    ],
)
def test_forged_reads_back(
    tmp_path: Path, compression: str, crc32_mode: bool, scatter: bool
) -> None:
    # 0x500 PFNs: more entries than one map page holds (1023) when uncompressed
    pfn_arr = np.concatenate([pfns(0x10, 0x200), pfns(0x1000, 0x1300), pfns(0x3FF00, 0x40000)])
    forged = forge4(
        tmp_path, pfns=pfn_arr, compression=compression, crc32_mode=crc32_mode, scatter=scatter
    )
    with open_image(forged.path) as img:
        assert img.compression == compression
        assert img.flags == (2 if compression == "none" else 4 if crc32_mode else 0)
        check_image(img, forged, pfn_arr)


@pytest.mark.parametrize("page_size", [16384, pytest.param(65536, marks=pytest.mark.slow)])
def test_large_pages(tmp_path: Path, page_size: int) -> None:
    pfn_arr = pfns(0x40, 0x40 + 100)  # one map page (N / 4 - 1 entries: 4095, 16383)
    forged = forge4(tmp_path, pfns=pfn_arr, page_size=page_size, compression="lzo")
    with open_image(forged.path) as img:
        assert img.page_size == page_size
        check_image(img, forged, pfn_arr)


def test_resume_offset(tmp_path: Path) -> None:
    # pointers count from the start of the device (sector_t), as with 8 bytes
    pfn_arr = pfns(0x100, 0x180)
    forged = forge4(tmp_path, pfns=pfn_arr, compression="lzo", resume_offset=37, scatter=True)
    with open_image(forged.path, resume_offset=37) as img:
        assert img.header is not None and img.header.offset == 37 * N
        assert int(img.entries.min()) > 37
        check_image(img, forged, pfn_arr)


def test_the_same_image_with_config_lbdaf_is_2_6_20_plus(tmp_path: Path) -> None:
    # i386 with CONFIG_LBDAF: 4-byte longs, 8-byte sector_t (the real Debian 686 samples)
    pfn_arr = pfns(0x100, 0x180)
    forged = forge_to(tmp_path, pfns=pfn_arr, compression="lzo", word_size=4, uts=UTS)
    with open_image(forged.path) as img:
        assert img.header is not None
        assert (img.era, img.header.sector_size, img.word_size) == ("2.6.20+", 8, 4)


def test_forge_refuses_what_no_kernel_wrote(tmp_path: Path) -> None:
    for bad in ({"word_size": 8}, {"compression": "lz4"}):
        spec = {"pfns": pfns(1, 2), "sector_size": 4, "word_size": 4, "uts": UTS, **bad}
        with pytest.raises(ValueError, match="4-byte sector_t"):
            forge(ForgeSpec(**spec), tmp_path / "x")  # type: ignore[arg-type]


def test_info_and_verify_json(tmp_path: Path) -> None:
    forged = forge4(tmp_path, pfns=pfns(0x100, 0x180), compression="lzo")
    result = run_cli("info", "--json", forged.path)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["era"], doc["word_size"], doc["flags"], doc["compression"]) == (
        ERA,
        4,
        ["SF_CRC32_MODE"],
        "lzo",
    )
    assert doc["header"] == {
        "layout": "2.6.23+",
        "offset": 0,
        "image": forged.map_pages[0],
        "hw_sig": None,
        "map_pages": 1,
    }
    assert (doc["uts"]["machine"], doc["crc32"]["stored"]) == ("armv7l", forged.crc32)
    result = run_cli("verify", "--json", forged.path)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["verify_ok"], doc["crc32"]["ok"]) == (True, True)


# -- 2.6.20-2.6.22 without CONFIG_LBD (formats/legacy): named and shaped the same way ----------


@pytest.mark.parametrize(
    ("version", "era"),
    [
        (0x020615, "2.6.20-2.6.22, 4-byte sector_t"),
        (0x020613, legacy.ERA_2619),  # the same bytes written by 2.6.19 (swp_entry_t header)
    ],
)
def test_2_6_20_without_lbd(tmp_path: Path, version: int, era: str) -> None:
    f = forge_legacy(
        LegacySpec("2.6.19", pfns(0x100, 0x140), word_size=4, version_code=version), tmp_path / "i"
    )
    raw = Path(f.path).read_bytes()
    with open_image(f.path) as img:
        assert img.era == era
        assert img.header is not None and img.details is not None
        assert img.header.sector_size == 4
        if version >= 0x020614:
            assert era == swap.ERA_S4["2.6.20-2.6.22"]
            # the current reader's own header, decoded by the current layout's definitions
            assert img.header.layout == "2.6.20-2.6.22"
            mine = swap.decode_header(raw, 0, N, sector_size=4)
            assert (mine.layout, mine.image, mine.flags) == (
                img.header.layout,
                img.header.image,
                None,
            )
            assert (img.details.swap_type, img.details.pointers) == (
                None,
                legacy.swapmaps.POINTERS_2620,
            )
        else:
            assert img.header.layout.startswith("swsusp_header (4-byte swp_entry_t image)")
            assert img.details.swap_type == 0


# -- bad input ------------------------------------------------------------------------------


def damaged(tmp_path: Path, forged: Forged, offset: int, value: int) -> str:
    data = bytearray(Path(forged.path).read_bytes())
    struct.pack_into("<I", data, offset, value)
    path = tmp_path / "damaged"
    path.write_bytes(bytes(data))
    return str(path)


@pytest.mark.parametrize("crc32_mode", [True, False], ids=["3.2-5.1", "2.6.37-3.1"])
def test_image_pointer_past_the_device(tmp_path: Path, crc32_mode: bool) -> None:
    forged = forge4(tmp_path, compression="lzo", crc32_mode=crc32_mode)
    path = damaged(tmp_path, forged, 0xFE4, 0x7FFFFFFF)  # swsusp_header.image (N-24-S)
    assert_error_line(
        run_cli("info", path), "swsusp_header", "0xfe4", "image", "(device pages)", "got 0x7fffffff"
    )


@pytest.mark.parametrize("crc32_mode", [True, False], ids=["3.2-5.1", "2.6.37-3.1"])
def test_swap_map_loop(tmp_path: Path, crc32_mode: bool) -> None:
    forged = forge4(tmp_path, compression="lzo", crc32_mode=crc32_mode)
    m = forged.map_pages[0]
    path = damaged(tmp_path, forged, m * N + 1023 * 4, m)  # next_swap (slot 1023) -> itself
    assert_error_line(run_cli("info", path), "swap map page", hex(m * N), "next_swap", "loops")


@pytest.mark.parametrize("compression", ["none", "lzo"])
def test_entry_past_the_device(tmp_path: Path, compression: str) -> None:
    forged = forge4(tmp_path, compression=compression)
    data = Path(forged.path).read_bytes()
    device_pages = struct.unpack_from("<I", data, 0x404)[0] + 1
    m = forged.map_pages[0]
    path = damaged(tmp_path, forged, m * N + 3 * 4, device_pages + 10)
    where = ("swap map page", hex(m * N + 3 * 4), "entries[3]", f"< {device_pages:#x}")
    if compression == "none":  # verify reads around the one page lost, names it (exit 1)
        line = assert_error_line(
            run_cli("verify", path), "1 saved pages unreadable", *where, exit_code=1
        )
    else:  # entry 3 is in chunk 0, which holds the PFN directory: nothing can be read
        line = assert_error_line(run_cli("verify", path), *where)
    assert f"got {device_pages + 10:#x}" in line


def test_swsusp_info_counts(tmp_path: Path) -> None:
    forged = forge4(tmp_path, compression="lzo")
    at = forged.info_page * N + 412  # swsusp_info.size with 4-byte longs
    path = damaged(tmp_path, forged, at, 0x1234)
    assert_error_line(run_cli("info", path), "swsusp_info", hex(at), "size")


def test_bad_cmp_len(tmp_path: Path) -> None:
    forged = forge4(tmp_path, compression="lzo")
    at = forged.chunk_pages[0] * N  # the 4-byte size_t cmp_len of chunk 0
    path = damaged(tmp_path, forged, at, 0)
    assert_error_line(run_cli("verify", path), "compressed chunk 0", hex(at), "cmp_len", "got 0x0")


def test_truncated_in_the_data(tmp_path: Path) -> None:
    forged = forge4(tmp_path, pfns=pfns(0x100, 0x400), compression="lzo")
    data = Path(forged.path).read_bytes()
    cut = forged.chunk_pages[3] * N + 100
    path = tmp_path / "cut"
    path.write_bytes(data[:cut])
    # the chunks before the cut are read; the rest are named unreadable (exit 1)
    assert_error_line(
        run_cli("verify", str(path)),
        "saved pages unreadable",
        "compressed chunk 3",
        f"{cut:#x}",
        exit_code=1,
    )


@pytest.mark.parametrize(
    "crc32_mode",
    [
        pytest.param(True, id="3.2-5.1"),
        pytest.param(False, id="2.6.37-3.1", marks=pytest.mark.slow),
    ],
)
@given(data=st.data())
@HYP
def test_flip_or_truncate_anywhere(tmp_path: Path, crc32_mode: bool, data: st.DataObject) -> None:
    forged = forge4(tmp_path, pfns=pfns(0x100, 0x140), compression="lzo", crc32_mode=crc32_mode)
    image = bytearray(Path(forged.path).read_bytes())
    hot = st.one_of(
        st.integers(0xFD0, 0xFFF), st.integers(N, 2 * N - 1), st.integers(0, len(image) - 1)
    )
    at = data.draw(hot)
    if data.draw(st.booleans()):
        image[at] ^= data.draw(st.integers(1, 255))
    else:
        del image[at:]
    path = tmp_path / "f"
    path.write_bytes(bytes(image))
    try:
        with open_image(path) as img:
            img.verify()
            for pfn in img.pagedir.pfns[:4].tolist():
                img.read_page(pfn)
    except SwsuspError:
        pass
