"""e820 tables, memblock, the nosave list, struct page lookup, BTF enums and the excerpt file,
each built from the kernel's struct definitions, plus corrupt copies."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from helpers import QEMU_E820, e820_table_bytes
from kernel_helpers import SynthImage, SynthKernel

from swsusp_inspect.e820.image import e820_memory_map, memblock_memory_map
from swsusp_inspect.errors import FormatError
from swsusp_inspect.kernel import KernelDataError, PhysicalMemory, load_excerpt, write_excerpt
from swsusp_inspect.kernel.btf import btf_enum_value, enum_value_in
from swsusp_inspect.kernel.memmap import read_e820_tables, read_memblock
from swsusp_inspect.kernel.nosave import read_nosave_regions
from swsusp_inspect.kernel.pageflags import read_page_flags
from swsusp_inspect.kernel.vmcoreinfo import parse_vmcoreinfo

VARS = 0xFFFFFFFF82E20000  # kernel .data holding the symbols
HEAP = 0xFFFF888004000000  # kmalloc / memblock memory


def lookup_in(table: dict[str, int]):
    return table.get


def test_e820_pointer_era_tables_and_checksum():
    k = SynthKernel()
    kernel = [(0x0, 0x1000, 2), (0x1000, 0x9EC00, 1), *QEMU_E820[1:]]  # e820: update [0-fff]
    k.place(HEAP, e820_table_bytes(QEMU_E820).ljust(0x800, b"\0") + e820_table_bytes(kernel))
    k.place(VARS, struct.pack("<QQQ", HEAP, HEAP, HEAP + 0x800))
    syms = {"e820_table_firmware": VARS, "e820_table_kexec": VARS + 8, "e820_table": VARS + 16}
    tables = read_e820_tables(k.vm, lookup_in(syms))
    assert tables.era == "pointer"
    assert list(tables.firmware.entries) == QEMU_E820
    assert list(tables.kernel.entries) == kernel
    assert tables.firmware.crc32 == zlib.crc32(e820_table_bytes(QEMU_E820))
    mm = e820_memory_map(tables, source="img", nosave=[(0, 0), (0x9F, 0xFF)])
    assert mm.format == "image"
    assert mm.firmware_table_bytes() == e820_table_bytes(QEMU_E820)
    assert mm.checksum_crc32() == zlib.crc32(e820_table_bytes(QEMU_E820))
    assert mm.modified.firmware_entries() == kernel
    assert mm.nosave_ranges() == ([(0, 0), (0x9F, 0xFF)], "image")
    d = mm.document().to_dict()
    assert d["entries"][0] == {"start": 0, "end": 0x9FBFF, "type": 1, "name": "usable"}


def test_e820_struct_era_before_4_12():
    """struct e820map e820, e820_saved: the tables themselves are the variables."""
    k = SynthKernel()
    k.place(
        VARS, e820_table_bytes(QEMU_E820).ljust(0x1000, b"\0") + e820_table_bytes(QEMU_E820[:3])
    )
    tables = read_e820_tables(k.vm, lookup_in({"e820_saved": VARS, "e820": VARS + 0x1000}))
    assert tables.era == "struct"
    assert list(tables.firmware.entries) == QEMU_E820
    assert list(tables.kernel.entries) == QEMU_E820[:3]
    assert tables.kexec is None


def test_e820_corrupt():
    k = SynthKernel()
    k.place(HEAP, struct.pack("<I", 100000))
    k.place(VARS, struct.pack("<Q", HEAP))
    with pytest.raises(KernelDataError, match="nr_entries: expected <= 3200"):
        read_e820_tables(k.vm, lookup_in({"e820_table_firmware": VARS}))
    with pytest.raises(KernelDataError, match="neither"):
        read_e820_tables(k.vm, lookup_in({}))
    k.place(HEAP + 0x1000, e820_table_bytes([(0xFFFFFFFFFFFFF000, 0x2000, 1)]))
    k.place(VARS + 0x1000, struct.pack("<Q", HEAP + 0x1000))
    with pytest.raises(KernelDataError, match=r"below 2\^64"):
        read_e820_tables(k.vm, lookup_in({"e820_table_firmware": VARS + 0x1000}))


def nosave_list(
    regions: list[tuple[int, int]], *, loop: bool = False, bad: bool = False
) -> tuple[SynthKernel, dict[str, int]]:
    """static LIST_HEAD(nosave_regions) -> struct nosave_region {list_head; start_pfn;
    end_pfn (exclusive)}."""
    k = SynthKernel()
    head = VARS
    nodes = [HEAP + 0x40 * i for i in range(len(regions))]
    heap = bytearray(0x1000)
    for i, (start, end) in enumerate(regions):
        nxt = nodes[i + 1] if i + 1 < len(regions) else head
        if loop and i == len(regions) - 1:
            nxt = nodes[0]
        prv = nodes[i - 1] if i else head
        struct.pack_into("<QQQQ", heap, 0x40 * i, nxt, prv, start, start if bad else end)
    k.place(HEAP, bytes(heap))
    k.place(VARS, struct.pack("<QQ", nodes[0] if nodes else head, nodes[-1] if nodes else head))
    return k, {"nosave_regions": head}


def test_nosave_list():
    k, syms = nosave_list([(0, 1), (0x9F, 0x100)])
    assert read_nosave_regions(k.vm, lookup_in(syms)) == [(0, 0), (0x9F, 0xFF)]
    k, syms = nosave_list([])
    assert read_nosave_regions(k.vm, lookup_in(syms)) == []


@pytest.mark.parametrize(("kw", "says"), [({"loop": True}, "loop"), ({"bad": True}, "start < end")])
def test_nosave_list_corrupt(kw, says):
    k, syms = nosave_list([(0, 1), (0x9F, 0x100)], **kw)
    with pytest.raises(KernelDataError, match=says):
        read_nosave_regions(k.vm, lookup_in(syms))


def test_memblock_regions():
    k = SynthKernel()
    regions = struct.pack("<QQIi", 0x40000000, 0x10000000, 0, 0)  # base, size, flags, nid
    reserved = struct.pack("<QQIi", 0x40210000, 0x2000000, 0, 0) + struct.pack(
        "<QQIi", 0x4FF00000, 0x100000, 4, 0
    )
    k.place(HEAP, regions.ljust(0x100, b"\0") + reserved)
    # bool bottom_up; phys_addr_t current_limit; memblock_type memory, reserved
    mb = struct.pack("<?7xQ", False, 0xFFFFFFFFFFFFFFFF)
    mb += struct.pack("<QQQQQ", 1, 128, 0x10000000, HEAP, 0)
    mb += struct.pack("<QQQQQ", 2, 128, 0x2100000, HEAP + 0x100, 0)
    k.place(VARS, mb)
    got = read_memblock(k.vm, lookup_in({"memblock": VARS}))
    assert [(r.base, r.size) for r in got.memory] == [(0x40000000, 0x10000000)]
    assert [(r.base, r.size, r.flags) for r in got.reserved] == [
        (0x40210000, 0x2000000, 0),
        (0x4FF00000, 0x100000, 4),
    ]
    mm = memblock_memory_map(got, source="img", nosave=[])
    assert mm.ram_ranges() == [(0x40000000, 0x4FFFFFFF)] and not mm.has_checksum
    k.place(VARS + 0x1000, struct.pack("<?7xQ", False, 0) + struct.pack("<QQQQQ", 9, 2, 0, 0, 0))
    with pytest.raises(KernelDataError, match="cnt / max"):
        read_memblock(k.vm, lookup_in({"memblock": VARS + 0x1000}))


# -- struct page -------------------------------------------------------------------------

VMEMMAP = 0xFFFFEA0000000000


def test_page_flags_through_vmemmap_and_mem_section():
    """The same struct pages found through SYMBOL(vmemmap) and through mem_section (the
    section_mem_map encoding of mm/sparse.c: mem_map - section start PFN, flags in the low
    bits, SECTION_HAS_MEM_MAP = bit 1)."""
    k = SynthKernel()
    pfns = np.array([0x10, 0x11, 0x8000, 0x8001], dtype=np.uint64)
    flags = [1 << 12, 0, (1 << 12) | (1 << 4), 1 << 5]
    pages = bytearray(0x4000)
    for p, f in zip(pfns.tolist(), flags, strict=True):
        struct.pack_into("<Q", pages, (p * 64) % 0x2000 + (0x2000 if p >= 0x8000 else 0), f)
    k.place(VMEMMAP, bytes(pages[:0x2000]))
    k.place(VMEMMAP + 0x8000 * 64, bytes(pages[0x2000:]))
    # SPARSEMEM_EXTREME: mem_section -> roots[]; 128 sections of 32 bytes per root page
    roots = HEAP
    sections = HEAP + 0x1000
    k.place(roots, struct.pack("<Q", sections))
    sec = bytearray(4096)
    struct.pack_into("<Q", sec, 0, VMEMMAP | 0x3 | (1 << 3))  # section 0 (PFNs 0..0x7fff)
    struct.pack_into("<Q", sec, 32, VMEMMAP | 0x3)  # section 1: mem_map - 0x8000 pages
    k.place(sections, bytes(sec))
    common = "SIZE(page)=64\nOFFSET(page.flags)=0\nNUMBER(PG_private)=13\n"
    by_vmemmap = parse_vmcoreinfo(common + f"SYMBOL(vmemmap)={VMEMMAP:x}\n")
    by_section = parse_vmcoreinfo(
        common + f"SYMBOL(mem_section)={roots:x}\n"
        "LENGTH(mem_section)=4096\nSIZE(mem_section)=32\n"
        "OFFSET(mem_section.section_mem_map)=0\n"
        "NUMBER(SECTION_SIZE_BITS)=27\nNUMBER(MAX_PHYSMEM_BITS)=46\n"
    )
    for info, kind in ((by_vmemmap, "vmemmap"), (by_section, "sparse")):
        pf = read_page_flags(k.vm, info, pfns, page_size=4096)
        assert pf.memmap == kind
        assert pf.flags.tolist() == flags
        assert pf.pg_reserved == 12 and pf.pg_reserved_source.startswith("VMCOREINFO")
        assert pf.reserved.tolist() == [True, False, True, False]
    # a PFN whose section has no mem_map reads as unreadable, not as zero flags
    pf = read_page_flags(
        k.vm, by_section, np.array([0x10, 0x20000], dtype=np.uint64), page_size=4096
    )
    assert pf.readable.tolist() == [True, False]


def test_flat_mem_map():
    k = SynthKernel()
    mem_map = HEAP
    k.place(VARS, struct.pack("<Q", mem_map))
    k.place(mem_map, struct.pack("<Q", 0) * 4 + struct.pack("<Q", 1 << 12))  # PFN 1
    info = parse_vmcoreinfo(f"SYMBOL(mem_map)={VARS:x}\nSIZE(page)=32\nNUMBER(PG_private)=13\n")
    pf = read_page_flags(k.vm, info, np.array([0, 1], dtype=np.uint64), page_size=4096)
    assert pf.memmap == "flat" and pf.reserved.tolist() == [False, True]


def test_no_memory_model():
    k = SynthKernel()
    with pytest.raises(KernelDataError, match="SIZE\\(page\\)"):
        read_page_flags(k.vm, parse_vmcoreinfo("OSRELEASE=1\n"), [1], page_size=4096)


# -- BTF -----------------------------------------------------------------------------------


def btf(enum_kind: int = 6) -> bytes:
    """struct btf_header + an INT type + enum pageflags {PG_locked = 0, ..., PG_reserved =
    12} + the string section (include/uapi/linux/btf.h)."""
    strings = b"\0int\0pageflags\0PG_locked\0PG_reserved\0"
    off = {
        s: strings.index(b"\0" + s.encode() + b"\0") + 1
        for s in ("int", "pageflags", "PG_locked", "PG_reserved")
    }
    types = struct.pack("<III", off["int"], 1 << 24, 4) + struct.pack("<I", 32)  # BTF_KIND_INT
    if enum_kind == 6:
        types += struct.pack("<III", off["pageflags"], (6 << 24) | 2, 4)
        types += struct.pack("<Ii", off["PG_locked"], 0) + struct.pack(
            "<Ii", off["PG_reserved"], 12
        )
    else:  # BTF_KIND_ENUM64: {name_off, val_lo32, val_hi32}
        types += struct.pack("<III", off["pageflags"], (19 << 24) | 2, 8)
        types += struct.pack("<III", off["PG_locked"], 0, 0)
        types += struct.pack("<III", off["PG_reserved"], 12, 0)
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return header + types + strings


@pytest.mark.parametrize("kind", [6, 19])
def test_btf_enum(kind):
    blob = btf(kind)
    assert enum_value_in(blob, "pageflags", "PG_reserved") == 12
    assert enum_value_in(blob, "pageflags", "PG_locked") == 0
    assert enum_value_in(blob, "pageflags", "PG_nothing") is None
    k = SynthKernel()
    k.place(VARS, blob)
    assert (
        btf_enum_value(k.vm, VARS, VARS + len(blob), "pageflags", "PG_reserved", step=16) == 12
    )  # read 16 bytes at a time


def test_btf_bad_header():
    with pytest.raises(KernelDataError, match="magic"):
        enum_value_in(b"\0" * 64, "pageflags", "PG_reserved")
    blob = bytearray(btf())
    struct.pack_into("<I", blob, 12, 1 << 20)  # type_len past the section
    with pytest.raises(KernelDataError, match="type/string sections"):
        enum_value_in(bytes(blob), "pageflags", "PG_reserved")


# -- excerpt file ----------------------------------------------------------------------------


def test_excerpt_round_trip(tmp_path):
    img = SynthImage()
    for pfn in (3, 4, 9):
        img.pages[pfn] = bytearray(bytes([pfn]) * 4096)
    img.zero_pfns = {5}
    path = tmp_path / "x.kexc.xz"
    write_excerpt(path, img, [3, 9], provenance={"sample": "synthetic"})
    exc = load_excerpt(path)
    assert exc.pagedir.pfns.tolist() == [3, 4, 5, 9]
    assert exc.pagedir.zero.tolist() == [False, False, True, False]
    assert exc.read_page(9) == bytes([9]) * 4096
    assert exc.read_page(5) == bytes(4096)  # a zero page of the image
    with pytest.raises(KeyError, match="not in this excerpt"):
        exc.read_page(4)  # saved by the image, not recorded
    with pytest.raises(KeyError, match="not saved"):
        exc.read_page(6)
    assert [p.tolist() for p, _ in exc.iter_data_pages()] == [[3, 9]]
    assert exc.provenance == {"sample": "synthetic"}
    mem = PhysicalMemory(exc)
    assert mem.read(9 * 4096 + 4094, 2) == b"\x09\x09"
    from swsusp_inspect.kernel import NotInImageError

    with pytest.raises(NotInImageError, match="page frame 0x4 is not in the image"):
        mem.read(3 * 4096 + 4094, 4)  # crosses into page 4: saved, but not recorded


def test_excerpt_garbage(tmp_path):
    p = tmp_path / "bad.kexc.xz"
    p.write_bytes(b"not xz at all")
    with pytest.raises(FormatError, match="memory excerpt"):
        load_excerpt(p)
    import lzma

    p.write_bytes(lzma.compress(b"SWSKEXC1" + struct.pack("<I", 2) + b"{}"))
    with pytest.raises(FormatError, match="header"):
        load_excerpt(p)


# -- physical memory -------------------------------------------------------------------------


def test_physical_reads_cache_zero_pages_and_holes():
    from swsusp_inspect.kernel import NotInImageError

    img = SynthImage()
    img.pages[2] = bytearray(b"\x11" * 4096)
    img.pages[3] = bytearray(b"\x22" * 4096)
    img.zero_pfns = {4}
    mem = PhysicalMemory(img)
    assert mem.read(2 * 4096 + 4095, 2) == b"\x11\x22"
    reads = img.reads
    for _ in range(10):  # a page read again comes from the cache, not from the image
        assert mem.read_u32(2 * 4096) == 0x11111111
    assert img.reads == reads
    assert mem.read(4 * 4096, 8) == bytes(8)  # saved as a zero page: zeros are its data
    with pytest.raises(
        NotInImageError, match="physical address 0x5000: page frame 0x5 is not in the image"
    ):
        mem.read(4 * 4096 + 4090, 8)  # runs into PFN 5, never saved
    assert mem.is_saved([2, 3, 4, 5]).tolist() == [True, True, True, False]
    values, ok = mem.gather([2 * 4096, 3 * 4096 + 8, 5 * 4096, 4 * 4096 + 4092], "<u8")
    assert ok.tolist() == [True, True, False, False]  # unsaved; crosses the page end
    assert values.tolist()[:2] == [0x1111111111111111, 0x2222222222222222]
