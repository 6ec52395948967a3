"""VMCOREINFO: parsing the lines and the note, and finding it among saved pages."""

from __future__ import annotations

import pytest
from kernel_helpers import SynthImage, note

from swsusp_inspect.kernel import NO_VMCOREINFO, KernelDataError, PhysicalMemory
from swsusp_inspect.kernel.vmcoreinfo import find_vmcoreinfo, parse_note, parse_vmcoreinfo

# lines as kernel/vmcore_info.c and arch/x86/kernel/vmcore_info_64.c print them (6.12)
TEXT = (
    "OSRELEASE=6.12.118+deb13-amd64\n"
    "BUILD-ID=67e5e727aeb3cb468dfe1bb8f9738f944c3a7d50\n"
    "PAGESIZE=4096\n"
    "SYMBOL(init_uts_ns)=ffffffff82e1f500\n"  # %lx, no 0x
    "OFFSET(uts_namespace.name)=0\n"
    "SIZE(page)=64\n"
    "LENGTH(mem_section)=4096\n"
    "NUMBER(VMALLOC_START)=0xffffc90000000000\n"  # appended with 0x%lx
    "NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)=-184549376\n"  # %ld, negative
    "NUMBER(phys_base)=-262144000\n"  # a KASLR boot's phys_base, %ld
    "KERNELOFFSET=14a00000\n"  # %lx
    "CONFIG_X86_PAE=y\n"
)


def test_every_kind_of_line():
    info = parse_vmcoreinfo(TEXT)
    assert info.osrelease == "6.12.118+deb13-amd64"
    assert info.build_id == "67e5e727aeb3cb468dfe1bb8f9738f944c3a7d50"
    assert info.page_size == 4096
    assert info.symbol("init_uts_ns") == 0xFFFFFFFF82E1F500
    assert info.offset("uts_namespace", "name") == 0
    assert info.size("page") == 64
    assert info.length("mem_section") == 4096
    assert info.number("VMALLOC_START") == 0xFFFFC90000000000
    assert info.number("PAGE_SLAB_MAPCOUNT_VALUE") == -184549376
    assert info.number("phys_base") == -262144000
    assert info.kernel_offset == 0x14A00000
    assert info.configs == {"X86_PAE": "y"}
    assert info.crashtime is None
    assert info.problems == ()
    assert len(info.entries) == 12
    assert dict(info.symbols) == {"init_uts_ns": 0xFFFFFFFF82E1F500}


def test_bad_lines_are_problems_not_errors():
    info = parse_vmcoreinfo("OSRELEASE=6.1\nSYMBOL(x)=zz\ngarbage line\nPAGESIZE=4095\nWHAT(x)=1\n")
    assert info.osrelease == "6.1"
    assert info.page_size is None
    assert len(info.problems) == 4
    assert any("SYMBOL: value is not a number" in p for p in info.problems)
    assert any("not KEY=value" in p for p in info.problems)
    assert any("PAGESIZE" in p for p in info.problems)
    assert any("unknown kind WHAT(x)" in p for p in info.problems)


def test_the_note_bytes():
    body = b"OSRELEASE=6.1.0-56-amd64\nPAGESIZE=4096\n"
    raw = note(body)
    # 0x00: n_namesz = 11, n_descsz, n_type = 0; 0x0c: "VMCOREINFO\0" padded to 12
    assert raw[:12] == bytes.fromhex("0b000000") + len(body).to_bytes(4, "little") + bytes(4)
    info = parse_note(raw, address=0x5140000)
    assert info.osrelease == "6.1.0-56-amd64"
    assert info.address == 0x5140000
    assert info.note == raw[: 24 + len(body) + (-len(body) % 4)]
    assert info.text == body


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (note(b"OSRELEASE=6.1\n", name=b"VMCOREINF0\0"), "n_namesz/name"),
        (note(b"OSRELEASE=6.1\n", ntype=1), "n_type: expected 0x0, got 0x1"),
        (note(b"OSRELEASE=6.1\n", descsz=0), "n_descsz"),
        (note(b"OSRELEASE=6.1\n", descsz=0x10001), "n_descsz"),
        (note(b"OSRELEASE=6.1\n", descsz=0x100)[:0x80], "n_descsz"),
        (note(b"PAGESIZE=4096\n"), "OSRELEASE"),
        (b"\x0b\0\0\0", "header"),
    ],
)
def test_bad_notes(raw, says):
    with pytest.raises(KernelDataError, match=says) as exc:
        parse_note(raw, address=0x1000)
    assert "VMCOREINFO note at phys 0x1000" in str(exc.value)


def _image(placements: dict[int, bytes], filler: int = 8) -> SynthImage:
    img = SynthImage()
    for pfn in range(filler):  # some ordinary pages, one holding the name as .rodata does
        img.fill(pfn * 4096, b"x" * 100 + b"VMCOREINFO\0" + b"y" * 100)
    for phys, data in placements.items():
        img.write(phys, data)
    return img


def test_page_aligned_note_is_found():
    body = b"OSRELEASE=6.12.0\nPAGESIZE=4096\nKERNELOFFSET=0\n"
    info = find_vmcoreinfo(PhysicalMemory(_image({0x20000: note(body)})))
    assert info.address == 0x20000
    assert info.kernel_offset == 0


def test_page_aligned_note_wins_over_an_earlier_stale_copy():
    """A stale copy (e.g. slab memory where /proc/kcore built its notes) earlier in PFN
    order does not hide the kernel's page-aligned note."""
    real = b"OSRELEASE=6.12.0\nPAGESIZE=16384\nSYMBOL(_stext)=ffff800080000000\n"
    stale = b"OSRELEASE=6.12.0\nPAGESIZE=16384\n"
    img = _image({0x9000 + 0x2CC: note(stale), 0x40000: note(real)})
    info = find_vmcoreinfo(PhysicalMemory(img))
    assert info.address == 0x40000
    assert info.symbol("_stext") == 0xFFFF800080000000


def test_unaligned_notes_the_longest_wins():
    """2.6.24-4.12 kept the note in .bss (anywhere, 4-byte aligned)."""
    short = b"OSRELEASE=4.9.0\n"
    full = b"OSRELEASE=4.9.0\nPAGESIZE=4096\nSYMBOL(swapper_pg_dir)=ffffffff81c09000\n"
    img = _image({0x10000 + 0x104: note(short), 0x30000 + 0x7F0: note(full)})
    info = find_vmcoreinfo(PhysicalMemory(img))
    assert info.address == 0x307F0
    assert info.symbol("swapper_pg_dir") == 0xFFFFFFFF81C09000


def test_no_note_says_what_that_costs():
    with pytest.raises(KernelDataError) as exc:
        find_vmcoreinfo(PhysicalMemory(_image({})))
    msg = str(exc.value)
    assert NO_VMCOREINFO in msg
    assert "places name VMCOREINFO without a valid note header" in msg  # the .rodata names


def test_a_note_crossing_into_an_unsaved_page_is_rejected():
    body = b"OSRELEASE=6.1\n" + b"A=1\n" * 1100  # 4.4 KiB: runs into the next page
    img = _image({0x20000: note(body)[:4096]})  # the second page is not saved
    with pytest.raises(KernelDataError, match="no VMCOREINFO"):
        find_vmcoreinfo(PhysicalMemory(img))


def test_hint_skips_the_sweep():
    body = b"OSRELEASE=6.1\n"
    img = _image({0x20000: note(body)})
    assert find_vmcoreinfo(PhysicalMemory(img), hint=0x20000).address == 0x20000
    assert img.sweeps == 0
    assert find_vmcoreinfo(PhysicalMemory(img), hint=0x30000).address == 0x20000
    assert img.sweeps == 1  # a wrong hint costs the sweep, nothing else
