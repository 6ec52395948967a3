"""Page-table walks on hand-built tables of every supported format, and on hostile ones.

Entries are written as the hardware reads them (Intel SDM vol. 3A ch. 4; ARM ARM D8):
x86 P = bit 0, PS = bit 7, address bits 12..51; arm64 bits[1:0] = 0b11 table/page, 0b01 block.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from kernel_helpers import SynthImage

from swsusp_inspect.kernel import KernelDataError, PhysicalMemory, TranslationError
from swsusp_inspect.kernel.pagetables import VirtualMemory, arm64_paging, i386_paging, x86_64_paging

P, RW, PS = 0x1, 0x2, 0x80


def put(img: SynthImage, phys: int, value: int, size: int = 8) -> None:
    img.pages.setdefault(phys // img.page_size, bytearray(img.page_size))
    struct.pack_into(
        "<Q" if size == 8 else "<I", img.pages[phys // img.page_size], phys % img.page_size, value
    )


def x86_64_image() -> SynthImage:
    """PML4 0x1000; kernel text VA 0xffffffff81000000 -> 2 MiB page at 0x1000000;
    direct map VA 0xffff888000000000 -> 1 GiB page at 0; a 4 KiB page VA
    0xffffc90000001000 -> 0x7000."""
    img = SynthImage()
    for pfn in (1, 2, 3, 4, 5, 6, 7):
        img.pages[pfn] = bytearray(4096)
    # kernel text: PML4[511] -> PDPT 0x2000; PDPT[510] -> PD 0x3000; PD[8] = 2 MiB page
    put(img, 0x1000 + 511 * 8, 0x2000 | P | RW)
    put(img, 0x2000 + 510 * 8, 0x3000 | P | RW)
    put(img, 0x3000 + 8 * 8, 0x1000000 | P | RW | PS)
    # direct map: PML4[273] -> PDPT 0x4000; PDPT[0] = 1 GiB page at 0
    put(img, 0x1000 + 273 * 8, 0x4000 | P | RW)
    put(img, 0x4000, 0x0 | P | RW | PS)
    # vmalloc-ish 4 KiB page: PML4[402] -> PDPT 0x5000 -> PD 0x6000 -> PT 0x6000?
    put(img, 0x1000 + 402 * 8, 0x5000 | P)
    put(img, 0x5000, 0x6000 | P)
    put(img, 0x6000, 0x3000 | P)  # PD[0] -> PT at 0x3000 (shares the page: fine)
    put(img, 0x3000 + 1 * 8, 0x7000 | P | (1 << 63))  # NX set: not an address bit
    return img


def test_x86_64_large_and_small_pages():
    img = x86_64_image()
    pg = x86_64_paging(PhysicalMemory(img), 0x1000)
    assert pg.translate(0xFFFFFFFF81000000) == 0x1000000
    assert pg.translate(0xFFFFFFFF811ABCDE) == 0x11ABCDE
    assert pg.translate_leaf(0xFFFFFFFF81000000)[1] == 21
    assert pg.translate(0xFFFF888000000000 + 0x3ABCDEF1) == 0x3ABCDEF1
    assert pg.translate_leaf(0xFFFF888000000000)[1] == 30
    assert pg.translate(0xFFFFC90000001234) == 0x7234
    # the vector walk agrees with the scalar one
    vas = np.array(
        [
            0xFFFFFFFF81000000,
            0xFFFFFFFF811ABCDE,
            0xFFFF888000000000 + 0x3ABCDEF1,
            0xFFFFC90000001234,
            0xFFFFC90000002000,
            0x00007F0000000000,
            0x0000800000000000,
        ],
        dtype=np.uint64,
    )
    phys, ok = pg.translate_many(vas)
    assert ok.tolist() == [True, True, True, True, False, False, False]
    assert phys[:4].tolist() == [0x1000000, 0x11ABCDE, 0x3ABCDEF1, 0x7234]


@pytest.mark.parametrize(
    ("va", "says"),
    [
        (0xFFFFC90000002000, "PT entry 0x3010: entry not present"),
        (0x00007F0000000000, "PML4 entry 0x17f0: entry not present"),
        (0x0000800000000000, "outside the translated range"),  # not canonical
    ],
)
def test_x86_64_unmapped(va, says):
    pg = x86_64_paging(PhysicalMemory(x86_64_image()), 0x1000)
    with pytest.raises(TranslationError, match=says):
        pg.translate(va)


def test_x86_64_table_not_in_the_image_and_absurd_entries():
    img = x86_64_image()
    put(img, 0x1000 + 300 * 8, 0x9000000 | P)  # a PDPT in a page the image did not save
    put(img, 0x1000 + 301 * 8, (1 << 47) | P)  # past MAX_PHYSMEM_BITS = 46
    pg = x86_64_paging(PhysicalMemory(img), 0x1000, max_physmem_bits=46)
    with pytest.raises(
        TranslationError, match="PDPT entry 0x9000000: page-table page not in the image"
    ):
        pg.translate(0xFFFF960000000000)
    with pytest.raises(TranslationError, match="past the largest physical address"):
        pg.translate(0xFFFF968000000000)


def test_x86_64_loops_end():
    """Every entry of the PML4 points at the PML4 itself: a walk has four steps whatever the
    tables say, so it ends (with a meaningless address the caller then checks)."""
    img = SynthImage()
    img.pages[1] = bytearray(struct.pack("<Q", 0x1000 | P | RW) * 512)
    pg = x86_64_paging(PhysicalMemory(img), 0x1000)
    phys, ok = pg.translate_many(
        np.arange(10000, dtype=np.uint64) * np.uint64(0x10000000) | np.uint64(0xFFFF800000000000)
    )
    assert ok.all() and set((phys >> np.uint64(12)).tolist()) == {1}
    vm = VirtualMemory(pg)
    assert vm.read(0xFFFF800000000000, 8) == struct.pack("<Q", 0x1000 | P | RW)


def test_x86_64_five_level():
    img = SynthImage()
    for pfn in (1, 2, 3, 4, 5):
        img.pages[pfn] = bytearray(4096)
    va = 0xFF11000000000000 + 0x1234  # PML5 index 0x1e2 (57-bit VA)
    put(img, 0x1000 + ((va >> 48) & 511) * 8, 0x2000 | P)
    put(img, 0x2000 + ((va >> 39) & 511) * 8, 0x3000 | P)
    put(img, 0x3000 + ((va >> 30) & 511) * 8, 0x4000 | P)
    put(img, 0x4000 + ((va >> 21) & 511) * 8, 0x5000 | P)
    put(img, 0x5000 + ((va >> 12) & 511) * 8, 0xABC000 | P)
    pg = x86_64_paging(PhysicalMemory(img), 0x1000, five_level=True)
    assert pg.translate(va) == 0xABC234
    assert x86_64_paging(PhysicalMemory(img), 0x1000).name == "x86_64 4-level"
    with pytest.raises(TranslationError, match="outside"):
        x86_64_paging(PhysicalMemory(img), 0x1000).translate(va)


def test_sme_bit_is_not_an_address_bit():
    img = x86_64_image()
    sme = 1 << 47
    put(img, 0x3000 + 9 * 8, 0x1200000 | sme | P | PS)
    pg = x86_64_paging(PhysicalMemory(img), 0x1000, sme_mask=sme)
    assert pg.translate(0xFFFFFFFF81200010) == 0x1200010


def test_i386_pae():
    """3 levels, 8-byte entries, a 4-entry PDPT at a 32-byte aligned CR3."""
    img = SynthImage(word_size=4)
    for pfn in (1, 2, 3):
        img.pages[pfn] = bytearray(4096)
    cr3 = 0x1020
    put(img, cr3 + 3 * 8, 0x2000 | P)  # PDPT[3]: 0xc0000000..
    put(img, 0x2000 + 0 * 8, 0x0 | P | PS)  # PD[0]: 2 MiB page at 0 (lowmem)
    put(img, 0x2000 + 8 * 8, 0x3000 | P)  # PD[8]: 0xc1000000 -> PT
    put(img, 0x3000 + 5 * 8, (0x1_2345_6000) | P | (1 << 63))  # above 4 GiB, NX
    pg = i386_paging(PhysicalMemory(img), cr3, pae=True)
    assert pg.name == "i386 PAE"
    assert pg.translate(0xC0012345) == 0x12345
    assert pg.translate(0xC1005ABC) == 0x123456ABC
    with pytest.raises(TranslationError, match="PDPT"):
        pg.translate(0x40000000)


def test_i386_two_level_with_pse36():
    img = SynthImage(word_size=4)
    for pfn in (1, 2):
        img.pages[pfn] = bytearray(4096)
    # PD[0x300] (0xc0000000): 4 MiB page at 0; PD[0x304]: 4 MiB page at 0x3_0000_0000
    # via PSE-36 (bits 13..20 = physical bits 32..39); PD[0x305] -> PT 0x2000
    put(img, 0x1000 + 0x300 * 4, 0x0 | P | PS, 4)
    put(img, 0x1000 + 0x304 * 4, (0x3 << 13) | P | PS, 4)
    put(img, 0x1000 + 0x305 * 4, 0x2000 | P, 4)
    put(img, 0x2000 + 7 * 4, 0x5000 | P, 4)
    pg = i386_paging(PhysicalMemory(img), 0x1000, pae=False)
    assert pg.translate(0xC0123456) == 0x123456
    assert pg.translate(0xC1000010) == 0x3_0000_0010
    assert pg.translate(0xC1407ABC) == 0x5ABC
    with pytest.raises(TranslationError, match="PT entry 0x2020: entry not present"):
        pg.translate(0xC1408000)


@pytest.mark.parametrize(
    ("page_size", "va_bits", "levels"),
    [
        (4096, 48, ["L0", "L1", "L2", "L3"]),
        (4096, 39, ["L1", "L2", "L3"]),
        (16384, 47, ["L1", "L2", "L3"]),
        (16384, 48, ["L0", "L1", "L2", "L3"]),
        (65536, 48, ["L1", "L2", "L3"]),
        (65536, 52, ["L1", "L2", "L3"]),
    ],
)
def test_arm64_granules(page_size, va_bits, levels):
    img = SynthImage(page_size=page_size)
    pg0 = arm64_paging(PhysicalMemory(img), page_size, page_size=page_size, va_bits=va_bits)
    assert [lv.name for lv in pg0.levels] == levels
    assert pg0.levels[-1].shift == page_size.bit_length() - 1
    assert sum(lv.bits for lv in pg0.levels) + pg0.levels[-1].shift == va_bits
    # one page mapped through every level: tables at page 1, 2, ...
    va = ((1 << 64) - (1 << va_bits)) + 0x12345 * page_size + 0x678
    table = page_size
    for k, lv in enumerate(pg0.levels):
        idx = (va >> lv.shift) & ((1 << lv.bits) - 1)
        nxt = (k + 2) * page_size
        last = k == len(pg0.levels) - 1
        target = 0x4000_0000 if last else nxt
        img.pages.setdefault(table // page_size, bytearray(page_size))
        put(img, table + idx * 8, target | 0x3 | (1 << 10))  # AF set, like the kernel
        table = nxt
    pg = arm64_paging(PhysicalMemory(img), page_size, page_size=page_size, va_bits=va_bits)
    assert pg.translate(va) == 0x4000_0000 + 0x678
    with pytest.raises(TranslationError, match="outside"):
        pg.translate(0x0000_1234_5000_0000)  # a TTBR0 (user) address


def test_arm64_blocks_and_reserved_descriptors():
    img = SynthImage()
    for pfn in (1, 2, 3):
        img.pages[pfn] = bytearray(4096)
    va = 0xFFFF000000000000  # linear map start, 48-bit VA
    put(img, 0x1000 + ((va >> 39) & 511) * 8, 0x2000 | 3)  # L0 table
    put(img, 0x2000 + 0 * 8, 0x4000_0000 | 1)  # L1 block: 1 GiB at 0x40000000
    put(img, 0x2000 + 1 * 8, 0x3000 | 3)  # L1 table -> L2 at 0x3000
    put(img, 0x3000 + 0 * 8, 0x8020_0000 | 1)  # L2 block: 2 MiB
    put(img, 0x3000 + 1 * 8, 0x0 | 2)  # bit 0 clear: invalid
    pg = arm64_paging(PhysicalMemory(img), 0x1000, page_size=4096, va_bits=48)
    assert pg.translate(va + 0x1234_5678) == 0x4000_0000 + 0x1234_5678
    assert pg.translate(va + (1 << 30) + 0x1234) == 0x8020_1234
    with pytest.raises(TranslationError, match="L2 entry 0x3008: entry not present"):
        pg.translate(va + (1 << 30) + (1 << 21))
    # a block descriptor at the top level does not exist in the architecture
    put(img, 0x1000 + ((0xFFFF800000000000 >> 39) & 511) * 8, 0x4000_0000 | 1)
    pg = arm64_paging(PhysicalMemory(img), 0x1000, page_size=4096, va_bits=48)
    with pytest.raises(TranslationError, match="L0 entry 0x1800: reserved descriptor"):
        pg.translate(0xFFFF800000000000)


def test_bad_roots():
    mem = PhysicalMemory(SynthImage())
    with pytest.raises(KernelDataError, match="root"):
        arm64_paging(mem, 0x1004, page_size=4096, va_bits=48)  # bit 0 (CnP) is allowed
    with pytest.raises(KernelDataError, match="root"):
        x86_64_paging(mem, 1 << 50, max_physmem_bits=46)  # past MAX_PHYSMEM_BITS
    with pytest.raises(KernelDataError, match="granule"):
        arm64_paging(mem, 0x1000, page_size=8192, va_bits=48)


def test_virtual_reads_cross_mappings_and_refuse_unsaved_pages():
    img = x86_64_image()
    img.fill(0x1000000, bytes(range(256)) * 16)
    img.fill(0x1001000, b"\xaa" * 4096)
    vm = VirtualMemory(x86_64_paging(PhysicalMemory(img), 0x1000))
    assert vm.read(0xFFFFFFFF81000FFE, 4) == b"\xfe\xff\xaa\xaa"
    data = vm.read(0xFFFFFFFF81000000, 8192)  # > 4 pages path? no: 2 pages
    assert data[4096:] == b"\xaa" * 4096
    from swsusp_inspect.kernel import NotInImageError

    with pytest.raises(NotInImageError, match="0x1002"):
        vm.read(0xFFFFFFFF81000000, 6 * 4096)  # the vectorised path; page 0x1002 unsaved
    runs = vm.readable_runs(0xFFFFFFFF81000000, 6 * 4096)
    assert runs == [(0xFFFFFFFF81000000, 8192)]
    with pytest.raises(KernelDataError, match="all the memory the image saved"):
        vm.read(0xFFFFFFFF81000000, 1 << 40)
