"""The kernel layer on real samples, each checked against what the guest itself recorded.

Two kinds of input, the same assertions:

* ``image``: a real sample whose image is in place (samples/, or SWSUSP_EXTRA_SAMPLES);
  skipped otherwise.
* ``excerpt``: the committed memory excerpt of a sample whose image is not committed
  (tests/data/kernel/<sample>/: the real pages the layer reads, and the sample's own records),
  so a fresh clone proves the same things.

The records: ``console.log`` (the serial console of the hibernating boot), ``dmesg.txt``,
``kpageflags.bin.xz``, ``provenance.json``, and for newer samples ``vmcoreinfo.txt``
(``/sys/kernel/vmcoreinfo``), ``vmcoreinfo-note.txt`` (the note from /proc/kcore) and
``kallsyms.txt.xz`` (a /proc/kallsyms excerpt with the running, KASLR-slid, addresses).
"""

from __future__ import annotations

import lzma
import re

import numpy as np
import pytest
from kernel_helpers import (
    KNOWN,
    console,
    console_lines,
    dmesg_map,
    excerpt_names,
    kallsyms_excerpt,
    need_to_copy,
    provenance,
    struct_pages_recorded,
    system_map,
    system_map_path,
    vmcoreinfo_note_text,
    vmcoreinfo_sysfs,
)

from swsusp_inspect import load_kpageflags
from swsusp_inspect.e820 import diff_maps
from swsusp_inspect.e820.image import image_memory_map
from swsusp_inspect.inputs.kpageflags import KPF_RESERVED
from swsusp_inspect.kernel.kallsyms import Kallsyms, find_kallsyms, kallsyms_location
from swsusp_inspect.kernel.vmcoreinfo import parse_vmcoreinfo
from swsusp_inspect.model import to_data
from swsusp_inspect.summary import memory_facts

# the whole-table checks decode every name and parse a whole System.map: one committed
# sample in the default suite, every sample with -m slow
DEFAULT_WHOLE = "deb13-6.12-lz4"
WHOLE = [pytest.param(n, id=n, marks=() if n == DEFAULT_WHOLE else pytest.mark.slow) for n in KNOWN]

# deb12-6.1-nocompress is deb12-6.1-lzo's kernel saved without compression: -m slow
CASES = [
    pytest.param(
        ("image", n), id=f"image-{n}", marks=pytest.mark.slow if n == "deb12-6.1-nocompress" else ()
    )
    for n in KNOWN
] + [pytest.param(("excerpt", n), id=f"excerpt-{n}") for n in excerpt_names()]


@pytest.fixture(params=CASES)
def real(request, kernel_cache):
    kind, name = request.param
    return kernel_cache.image(name) if kind == "image" else kernel_cache.excerpt(name)


def _arch(real) -> str:
    return str(real.image.info.arch.name)


def test_reads_everything_without_errors(real):
    """Every part of the facade reads on a real kernel: no error line at all (an excerpt
    that keeps only part of the struct pages: exactly the line saying so)."""
    state = real.state.read_all()
    partial = struct_pages_recorded(real.dir)
    if partial is None:
        assert state.errors == []
    else:
        unread = real.image.pagedir.pfns.size - partial
        assert state.errors == [
            f"page_flags: struct page of {unread} of "
            f"{real.image.pagedir.pfns.size} saved PFNs not in the image "
            "or unmapped"
        ]
    d = to_data(memory_facts(state))
    assert set(d) == {
        "osrelease",
        "build_id",
        "page_size",
        "kernel_offset",
        "page_table_root",
        "paging",
        "symbols_source",
        "vmcoreinfo_address",
        "e820_checksum_matches",
        "log_records",
        "errors",
    }
    assert all(type(v) in (int, str, bool, list, type(None)) for v in d.values())


def test_vmcoreinfo_is_the_kernels(real):
    """Release = the sample's kernel; address = /sys/kernel/vmcoreinfo; every line = the note
    /proc/kcore gave (no CRASHTIME: the kernel did not crash)."""
    info = real.state.vmcoreinfo
    assert info is not None
    assert info.osrelease == provenance(real.dir)["kernel_release"]
    banner = next(line for line in console(real.dir).splitlines() if "Linux version" in line)
    assert f"Linux version {info.osrelease} " in banner
    assert info.crashtime is None
    assert info.page_size == real.image.page_size
    sysfs = vmcoreinfo_sysfs(real.dir)
    if sysfs is not None:
        assert info.address == sysfs[0]
    note = vmcoreinfo_note_text(real.dir)
    if note is not None:
        assert info.entries == parse_vmcoreinfo(note).entries
    # the raw note: header, name, text, padded as append_elf_note() writes it
    assert info.note[:4] == (11).to_bytes(4, "little")
    assert info.note[12:24] == b"VMCOREINFO\0\0"
    assert info.note[24 : 24 + len(info.text)] == info.text


def test_page_tables_translate_the_arch_records_addresses(real):
    state = real.state
    rec = real.image.info.arch
    paging = state.paging
    assert paging is not None
    if rec.name in ("x86_64", "i386"):
        # the record holds restore_registers' address both ways (arch/x86/power/hibernate.c)
        assert paging.translate(rec.jump_address) == rec.jump_address_phys
        assert state.page_table_root == rec.cr3 & ~0xFFF
        # PAE exactly when VMCOREINFO says CONFIG_X86_PAE (vmcore_info_32.c)
        expected = {
            "x86_64": "x86_64 4-level",
            "i386": "i386 PAE" if state.vmcoreinfo.configs.get("X86_PAE") == "y" else "i386",
        }[rec.name]
        assert paging.name == expected
    else:
        info = state.vmcoreinfo
        sw = info.symbol("swapper_pg_dir")
        assert state.page_table_root == rec.ttbr1_el1
        assert paging.translate(sw) == sw - info.number("kimage_voffset")
        assert paging.name.startswith(f"arm64 {real.image.page_size // 1024}K")


def test_kaslr_offset_is_kallsyms_text_minus_system_map_text(real):
    """kernel_offset = the guest's /proc/kallsyms _text minus the System.map's _text."""
    state = real.state
    prov = provenance(real.dir)
    smap = system_map_path(real.dir)
    excerpt = kallsyms_excerpt(real.dir)
    if smap is not None and excerpt is not None and smap.name != "System.map":
        text = {n: a for a, _t, n in excerpt}.get("_text")
        if text is not None:
            assert state.kernel_offset == text - system_map(smap)["_text"]
    if "nokaslr" in prov["kernel_cmdline"]:
        assert state.kernel_offset == 0
    else:
        assert state.kernel_offset != 0  # a KASLR boot that happened to slide by 0: look
        assert state.kernel_offset == state.vmcoreinfo.kernel_offset


def test_symbols_equal_the_guests_kallsyms(real):
    """Every name the layer resolved that the guest's /proc/kallsyms excerpt lists has the
    address the guest saw (KASLR-slid where the boot had KASLR)."""
    excerpt = kallsyms_excerpt(real.dir)
    if excerpt is None:
        pytest.skip("sample has no kallsyms excerpt")
    state = real.state
    ks = state.symbols.kallsyms
    assert ks is not None
    seen = {}
    for addr, _t, name in excerpt:
        seen.setdefault(name, set()).add(addr)
    names = [
        "_text",
        "_stext",
        "linux_banner",
        "init_uts_ns",
        "e820_table_firmware",
        "nosave_regions",
    ]
    checked = 0
    for name in names:
        if name in seen:
            got = [a for a, _ in ks.lookup_all(name)]
            assert got and set(got) <= seen[name] | set(got), name
            assert state.lookup(name) in seen[name], name
            checked += 1
    assert checked >= 1


@pytest.mark.parametrize("name", WHOLE)
def test_whole_kallsyms_table_equals_system_map_or_guest(name, kernel_cache):
    """The whole decoded table: equal to the System.map (nokaslr: every name in both) and to
    every core-kernel line of the guest's /proc/kallsyms excerpt."""
    real = kernel_cache.image(name)
    ks = real.state.symbols.kallsyms
    table = ks.table()
    assert len(table) == ks.count
    assert np.all(table.addresses[1:] >= table.addresses[:-1])  # kallsyms is address-sorted
    addrs, kinds = table.mapping()
    assert addrs["_stext"] == real.state.vmcoreinfo.symbol("_stext") and kinds["_stext"] == "T"
    excerpt = kallsyms_excerpt(real.dir)
    if excerpt is not None:
        listed = {}
        for a, t, n in table:
            listed.setdefault(n, set()).add((a, t))
        missing = [(hex(a), t, n) for a, t, n in excerpt if (a, t) not in listed.get(n, set())]
        assert missing == []
    smap = system_map_path(real.dir)
    if smap is not None and "nokaslr" in provenance(real.dir)["kernel_cmdline"]:
        # every (address, type, name) of kallsyms is a System.map line (text-only kallsyms
        # of i386/arm64 included); the map's own reader agrees on the names in both
        with lzma.open(smap, "rt") as fh:
            lines = {(int(a, 16), t, n) for a, t, n in (ln.split()[:3] for ln in fh)}
        # scripts/kallsyms.c make_percpus_absolute(): per-CPU symbols become type 'A'
        # (CONFIG_KALLSYMS_ABSOLUTE_PERCPU), whatever System.map says
        anytype = {(a, n) for a, _t, n in lines}
        extra = [
            (hex(a), t, n)
            for a, t, n in table
            if (a, t, n) not in lines
            and not (t == "A" and table.mode == "absolute-percpu" and (a, n) in anytype)
        ]
        assert extra == []
        assert (
            len(table) > 0.9 * len({n for _a, _t, n in lines if not n.startswith("$")})
            or real.image.info.arch.name != "x86_64"
        )  # amd64 has CONFIG_KALLSYMS_ALL


@pytest.mark.parametrize("name", WHOLE)
def test_kallsyms_found_by_its_shape_is_the_one_vmcoreinfo_names(name, kernel_cache):
    """Older kernels have no kallsyms in VMCOREINFO: the structural search (from the arch
    record's kernel text address) finds exactly the arrays VMCOREINFO names here."""
    real = kernel_cache.image(name)
    state = real.state
    loc = kallsyms_location(state.vmcoreinfo)
    found = find_kallsyms(state.vm, state._kernel_text(), 96 << 20, word_size=real.image.word_size)
    for field in (
        "num_syms",
        "names",
        "token_table",
        "token_index",
        "offsets",
        "relative_base",
        "addresses",
    ):
        assert getattr(found, field) == getattr(loc, field), field
    ks = Kallsyms(state.vm, found)
    assert ks.lookup("_stext") == state.vmcoreinfo.symbol("_stext")


def test_log_at_the_snapshot(real):
    """The banner first; ``Need to copy N pages`` with the console's N; no ``Image created``
    (printed after the copy); every record, formatted like dmesg, is a console line."""
    state = real.state
    records = state.log
    assert records is not None
    # the banner is the first record (arm64 prints "Booting Linux on physical CPU" before it)
    banner = [r for r in records[:2] if r.text.startswith(f"Linux version {state.osrelease} ")]
    assert len(banner) == 1 and banner[0].ts_nsec == 0 and records[0].seq == 0
    text = "\n".join(r.text for r in records)
    assert need_to_copy(text) == need_to_copy(console(real.dir))
    assert need_to_copy(text) == int(real.image.pagedir.pfns.size)
    assert "Image created" not in text
    seqs = [r.seq for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    lines = console_lines(real.dir)
    dmesg = state.dmesg()
    missing = [line for line in dmesg if line not in lines]
    assert missing == []
    assert all(r.level is not None and 0 <= r.level <= 7 for r in records)
    assert state.log_format == "printk_ringbuffer"


def test_firmware_e820_equals_the_boot_log_and_its_checksum_the_record(real):
    if _arch(real) not in ("x86_64", "i386"):
        pytest.skip("no e820 on arm64")
    state = real.state
    mm = image_memory_map(state)
    log = dmesg_map(real.dir)
    assert mm.format == "image"
    assert mm.firmware_entries() == log.firmware_entries()
    assert state.e820_checksum_matches is True
    assert mm.checksum_crc32() == real.image.info.arch.e820_checksum
    assert state.e820.firmware.crc32 == real.image.info.arch.e820_checksum
    diff = diff_maps(log, mm)  # `map diff IMAGE LOG` works on the image's map
    assert diff.same and not diff.checksum_changed
    # the kernel's table: the firmware one with the kernel's edits (e820: update ...)
    assert state.e820.kernel is not None and mm.modified is not None


def test_nosave_list_equals_the_registered_lines(real):
    """The kernel's merged list equals the log's ``Registered nosave memory`` lines merged
    (inclusive ends there, exclusive end_pfn in the list)."""
    state = real.state
    log = dmesg_map(real.dir)
    if log.nosave_log is None:
        assert state.nosave == []  # arm64 registers none and prints none
        return
    assert state.nosave == log.nosave_log
    # the kernel's rules applied to its own table give the list it registered
    assert image_memory_map(state).nosave_rules_matched() is not None


def test_arm64_memblock_memory_equals_the_node_ranges(real):
    if _arch(real) != "arm64":
        pytest.skip("memblock is read on arm64")
    state = real.state
    log = dmesg_map(real.dir)
    assert state.memblock is not None
    assert image_memory_map(state).ram_ranges() == log.ram_ranges()
    assert image_memory_map(state).has_checksum is False
    assert state.e820_checksum_matches is None
    # the kernel image is reserved memblock memory
    text_phys = state.paging.translate(state.vmcoreinfo.symbol("_stext"))
    assert any(r.base <= text_phys < r.base + r.size for r in state.memblock.reserved)


def test_pg_reserved_equals_kpageflags(real):
    """PG_reserved read from the image's struct pages equals the guest's /proc/kpageflags
    KPF_RESERVED for every saved PFN (counted: none differ on these samples)."""
    state = real.state
    flags = state.page_flags
    assert flags is not None
    partial = struct_pages_recorded(real.dir)
    assert np.count_nonzero(flags.readable) == (flags.pfns.size if partial is None else partial)
    kpf = load_kpageflags(real.dir / "kpageflags.bin.xz")
    theirs = kpf.bit(flags.pfns, KPF_RESERVED) & flags.readable
    mine = flags.reserved
    differ = np.flatnonzero(mine != theirs)
    assert differ.size == 0, [hex(int(p)) for p in flags.pfns[differ[:20]]]
    assert 0 < np.count_nonzero(mine) < mine.size
    info = state.vmcoreinfo
    # BTF (where the kernel has it) and the PG_private - 1 rule agree
    if flags.pg_reserved_source == "BTF enum pageflags" and info.number("PG_private"):
        assert flags.pg_reserved == info.number("PG_private") - 1


def test_zero_pages_read_as_zeros_and_unsaved_as_not_in_image(real):
    from swsusp_inspect.kernel import NotInImageError

    mem = real.state.memory
    pd = real.image.pagedir
    if pd.zero.any():
        z = int(pd.pfns[np.flatnonzero(pd.zero)[0]])
        assert mem.page(z) == bytes(real.image.page_size)
    saved = set(pd.pfns.tolist())
    hole = next(p for p in range(int(pd.pfns.min()), int(pd.pfns.max())) if p not in saved)
    with pytest.raises(NotInImageError, match=re.escape(f"{hole:#x}")):
        mem.read(hole * real.image.page_size, 8)


class _CountSweeps:
    """An ImageLike that counts full sweeps of the data pages."""

    def __init__(self, image) -> None:
        self._image = image
        self.sweeps = 0
        for name in ("page_size", "word_size", "info", "pagedir", "read_page"):
            setattr(self, name, getattr(image, name))

    def iter_data_pages(self):
        self.sweeps += 1
        return self._image.iter_data_pages()


@pytest.mark.parametrize("name", ["deb12-6.1-i386-lzo", "deb13-6.12-arm64-16k-lzo"])
def test_a_system_map_spares_the_vmcoreinfo_sweep(name, kernel_cache):
    """With a System.map, the note is where its ``vmcoreinfo_note`` pointer says (page tables
    from the arch record alone; on arm64 the VA size is tried, 16K kernels use 47 bits)."""
    from swsusp_inspect.kernel import read_kernel

    real = kernel_cache.excerpt(name)
    counted = _CountSweeps(real.image)
    state = read_kernel(counted, str(real.dir / "System.map"))
    assert state.vmcoreinfo.address == vmcoreinfo_sysfs(real.dir)[0]
    assert counted.sweeps == 0
    counted = _CountSweeps(real.image)
    assert read_kernel(counted).vmcoreinfo.address == vmcoreinfo_sysfs(real.dir)[0]
    assert counted.sweeps == 1


class _NoShortlist(_CountSweeps):
    """The image without its file search: the note is found by sweeping alone."""


class _WithShortlist(_CountSweeps):
    """The image with its file search (``pages_holding``) forwarded."""

    def __init__(self, image) -> None:
        super().__init__(image)
        self.pages_holding = image.pages_holding


@pytest.mark.parametrize(
    "name",
    [
        "deb12-6.1-lzo",
        pytest.param("deb12-6.1-nocompress", marks=pytest.mark.slow),
        pytest.param("deb13-6.12-lz4", marks=pytest.mark.slow),
    ],
)
def test_the_files_shortlist_finds_the_note_the_sweep_finds(name, kernel_cache):
    """Searched in the file (the compressed chunk holds the note's name literally), the note
    is found with no sweep at all, and it is the note a whole sweep finds."""
    from swsusp_inspect.kernel.memory import PhysicalMemory
    from swsusp_inspect.kernel.vmcoreinfo import NOTE_NAME, find_vmcoreinfo

    image = kernel_cache.image(name).image
    fast = _WithShortlist(image)
    found = find_vmcoreinfo(PhysicalMemory(fast))
    assert fast.sweeps == 0
    slow = _NoShortlist(image)
    swept = find_vmcoreinfo(PhysicalMemory(slow))
    assert slow.sweeps == 1
    assert (found.address, found.entries) == (swept.address, swept.entries)
    shortlist = image.pages_holding(NOTE_NAME)
    assert found.address // image.page_size in shortlist.tolist()
    # stream order without repeats (a real kernel saves its pages in PFN order), whole
    # chunks of saved data pages
    assert np.all(np.diff(shortlist.astype(np.int64)) > 0)
    assert np.isin(shortlist, image.pagedir.data_pfns).all()
