"""Every real-world capture parses, or fails with a line-numbered error where it is broken.

Expected values are read off the captures (quoted in comments) or computed independently here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from swsusp_inspect.e820 import E820Type, diff_maps, load_memory_map
from swsusp_inspect.errors import MapError

DATA = Path(__file__).parent.parent / "data" / "realworld"

# file -> (format, number of firmware-table entries as printed/read)
PARSES = {
    "ahuang007-linux-command-1.dmesg.txt": ("dmesg", 21),
    "avml-1.iomem.txt": ("iomem", 8),
    "avml-2.iomem.txt": ("iomem", 16),
    "avml-3.iomem.txt": ("iomem", 12),
    "avml-4.iomem.txt": ("iomem", 17),
    "avml-5.iomem.txt": ("iomem", 27),
    "amdgfx-2022-msi-1.dmesg.txt": ("dmesg", 26),
    "linuxmm-2018-hotplug-1.dmesg.txt": ("dmesg", 24),
    "lkml-2003-ibm-p3-1.dmesg.txt": ("dmesg", 10),
    "lkml-2005-kdump-1.dmesg.txt": ("dmesg", 6),
    "lkml-2005-serialcon-1.dmesg.txt": ("dmesg", 9),
    "lkml-2006-toshiba-p3-1.dmesg.txt": ("dmesg", 9),
    "lkml-2017-precision5810-2.dmesg.txt": ("dmesg", 15),
    "lkml-2023-t3600-mtrr-1.dmesg.txt": ("dmesg", 28),
    "nvdimm-2020-dax-kmem-1.memmap.txt": ("sysfs", 9),
    "nvdimm-2020-dax-kmem-2.memmap.txt": ("sysfs", 8),
    "nvdimm-2020-dax-kmem-3.iomem.txt": ("iomem", 1),
    "nvdimm-2020-dax-kmem-4.iomem.txt": ("iomem", 1),
    "pmem-docs-1.dmesg.txt": ("dmesg", 8),
    "pmem-docs-2.dmesg.txt": ("dmesg", 8),
    "starlabs-fw81-1.dmesg.txt": ("dmesg", 10),
    "ubuntuforums-2010-inspiron1520-1.dmesg.txt": ("dmesg", 11),
    "xendevel-2013-msi-h61-1.dmesg.txt": ("dmesg", 21),
    "xendevel-2013-msi-h61-2.dmesg.txt": ("dmesg", 22),
    "xendevel-2022-amd-1.dmesg.txt": ("dmesg", 9),
    "xendevel-2022-amd-2.dmesg.txt": ("dmesg", 12),
}

# file -> (line, words in the message): captures broken in transport or holding no map
FAILS = {
    # 15-digit ends and no type: "BIOS-e820: [mem 0x0000000000000000-0x000000000009fbf]"
    "kodekloud-notes-1.dmesg.txt": (9, "no type"),
    # "BIOS-e820: [mem 0x0000000100000000-0x000000047e358fff" (user cut the columns)
    "system76-fw545-1.dmesg.txt": (1, "no closing ']'"),
    "system76-fw545-2.dmesg.txt": (1, "no closing ']'"),
    # "@@ -11,10 +11,10 @@ BIOS-e820: ..."
    "nixos-discourse-37650-1.dmesg.txt": (1, "unified diff"),
    # only "Marking nosave pages" lines (resume side), no table
    "mrchromebox-fw311-1.dmesg.txt": (9, "no memory map"),
    "skulls-51-1.dmesg.txt": (7, "no memory map"),
    # `grep PM:` of 5 boots: nosave lines only
    "ubuntuforums-2013-n210-1.dmesg.txt": (60, "no memory map"),
}


def test_every_capture_is_classified() -> None:
    names = {p.name for p in DATA.glob("*.txt")}
    assert names == set(PARSES) | set(FAILS)


@pytest.mark.parametrize("name", sorted(PARSES))
def test_capture_parses(name: str) -> None:
    fmt, count = PARSES[name]
    m = load_memory_map(DATA / name)
    assert m.format == fmt
    assert len(m.raw_entries) == count
    # sanitized: sorted, non-overlapping
    assert all(int(a) <= int(b) for a, b in zip(m.starts, m.ends, strict=True))
    assert all(int(e) < int(s) for e, s in zip(m.ends[:-1], m.starts[1:], strict=True))


@pytest.mark.parametrize("name", sorted(FAILS))
def test_broken_capture_fails_with_line(name: str) -> None:
    line, words = FAILS[name]
    with pytest.raises(MapError) as info:
        load_memory_map(DATA / name)
    assert info.value.line == line
    assert words in info.value.reason
    assert str(info.value).startswith(f"{DATA / name}:{line}: ")


def _printed_table(name: str, who: str) -> list[tuple[int, int, str]]:
    """The inclusive-format table lines of ``who`` in a capture, read with a plain regex."""
    pat = re.compile(who + r": \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] (.+)$")
    out = []
    for line in (DATA / name).read_text().splitlines():
        m = pat.search(line)
        if m:
            out.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3).strip()))
    return out


def test_precision5810_table_and_nosave_lines() -> None:
    name = "lkml-2017-precision5810-2.dmesg.txt"
    m = load_memory_map(DATA / name)
    printed = _printed_table(name, "BIOS-e820")
    assert [(r["start"], r["end"], r["name"]) for r in m.document().to_dict()["entries"]] == printed
    # 16 "PM: Registered nosave memory" lines, first [mem 0x00000000-0x00000fff]
    calls = m.nosave_log_calls
    assert calls is not None and len(calls) == 16
    assert calls[0] == (0, 1)
    # a 4.15 kernel: the printed pieces are those of the pre-2025 rules
    assert m.derive_nosave_calls("pre-2025") == calls
    assert m.nosave_rules_matched() == "pre-2025"
    # both rule sets give the same merged ranges here (no sub-page RAM edge)
    assert m.derive_nosave("post-2025") == m.nosave_log


def test_t3600_modified_table_is_the_printed_one() -> None:
    name = "lkml-2023-t3600-mtrr-1.dmesg.txt"
    m = load_memory_map(DATA / name)
    assert m.modified is not None
    printed = _printed_table(name, "modified")
    assert len(printed) == 28
    got = [(int(a), int(b)) for a, b in zip(m.modified.starts, m.modified.ends, strict=True)]
    assert got == [(a, b) for a, b, _ in printed]
    # 7 type 20 entries in the firmware map
    assert sum(1 for r in m.raw_entries if r.type == 20) == 7
    # only the first 7 nosave lines were copied: they are the first pre-2025 calls
    assert m.nosave_rules_matched() == "pre-2025"


def test_amdgfx_wrapped_lines_and_edits() -> None:
    m = load_memory_map(DATA / "amdgfx-2022-msi-1.dmesg.txt")
    # "> [ 0.000000] BIOS-e820: [mem 0x00000000ed17d000-0x00000000ed1fefff] type" / "> 20"
    assert any(r.start == 0xED17D000 and r.type == 20 for r in m.raw_entries)
    assert any(r.start == 0xA200000 and r.type == E820Type.NVS for r in m.raw_entries)
    calls = m.nosave_log_calls
    assert calls is not None and len(calls) == 32
    # the esrt edit "e820: update [mem 0xe87cb000-0xe87cbfff] usable ==> reserved" gives
    # "[mem 0xe87cb000-0xe87cbfff]": only the edited table explains that line
    assert (0xE87CB, 0xE87CC) in calls
    assert m.derive_nosave_calls("pre-2025")[: len(calls)] == calls
    assert m.nosave_rules_matched() == "pre-2025"


def test_setup_data_usable_to_usable_is_reserved_kern() -> None:
    m = load_memory_map(DATA / "ahuang007-linux-command-1.dmesg.txt")
    # "e820: update [mem 0x7f54c018-0x7f56bc57] usable ==> usable"
    labels = {(r.start, r.end) for r in m.reserved_ram_evidence}
    assert (0x7F54C018, 0x7F56BC57) in labels
    assert (0x7F53B018, 0x7F54BE57) in labels
    assert m.is_ram(128) and m.is_ram(1) and not m.is_ram(2)


def test_old_exclusive_format_and_user_map() -> None:
    m = load_memory_map(DATA / "lkml-2003-ibm-p3-1.dmesg.txt")
    # " BIOS-e820: 0000000000000000 - 000000000009fc00 (usable)"
    assert (int(m.starts[0]), int(m.ends[0]), int(m.types[0])) == (0, 0x9FBFF, 1)
    # " BIOS-e820: 0000000007ee2ec0 - 0000000007ee6ec0 (ACPI data)"
    assert any(r.start == 0x7EE2EC0 and r.size == 0x4000 and r.type == 3 for r in m.raw_entries)
    assert any(f.code == "unaligned" for f in m.findings)
    # the "user:" map is the kernel's table: 4 entries, last 0x100000 - 0x7ee2c00
    assert m.modified is not None
    assert int(m.modified.ends[-1]) == 0x7EE2BFF
    kdump = load_memory_map(DATA / "lkml-2005-kdump-1.dmesg.txt")
    assert int(kdump.starts[0]) == 0x100


def test_serial_console_bogus_timestamp_is_one_boot() -> None:
    m = load_memory_map(DATA / "lkml-2005-serialcon-1.dmesg.txt")
    assert m.boots is None
    assert len(m.raw_entries) == 9


def test_xen_hypervisor_formats() -> None:
    old = load_memory_map(DATA / "xendevel-2013-msi-h61-1.dmesg.txt")
    # "(XEN)  0000000000000000 - 000000000009ec00 (usable)" exclusive
    assert int(old.ends[0]) == 0x9EBFF
    new = load_memory_map(DATA / "xendevel-2022-amd-1.dmesg.txt")
    # "[0000000000000000, 00000000000963ff] (usable)" inclusive
    assert int(new.ends[0]) == 0x963FF
    assert any(f.code == "hypervisor-map" for f in new.findings)


def test_iomem_captures() -> None:
    avml5 = load_memory_map(DATA / "avml-5.iomem.txt")
    # 9 top-level System RAM pieces 00100000-0a6f3017 ... 0a703058-0e655fff merge into one
    assert (0x100000, 0xE655FFF) in avml5.ram_ranges()
    labels = {(r.start, r.end, r.label) for r in avml5.reserved_ram_evidence}
    assert (0x1A000000, 0x1B00251F, "Kernel code") in labels
    avml3 = load_memory_map(DATA / "avml-3.iomem.txt")
    # "reserved" nested under "PCI MMCONFIG" under "PCI Bus" is still an e820 entry
    text = (DATA / "avml-3.iomem.txt").read_text()
    nested = re.search(r"^ {4}([0-9a-f]+)-([0-9a-f]+) : reserved$", text, re.M)
    assert nested is not None
    assert int(nested.group(1), 16) in {int(s) for s in avml3.starts}
    avml2 = load_memory_map(DATA / "avml-2.iomem.txt")
    assert sum(1 for r in avml2.raw_entries if r.type == E820Type.UNKNOWN) == 6
    kmem = load_memory_map(DATA / "nvdimm-2020-dax-kmem-3.iomem.txt")
    # kmem "System RAM" under dax0.0 under "Persistent Memory" is not an e820 entry
    assert [
        (int(s), int(e), int(t)) for s, e, t in zip(kmem.starts, kmem.ends, kmem.types, strict=True)
    ] == [(0x140000000, 0x33FFFFFFF, 7)]


def test_pmem_pair_diff() -> None:
    d = diff_maps(
        load_memory_map(DATA / "pmem-docs-1.dmesg.txt"),
        load_memory_map(DATA / "pmem-docs-2.dmesg.txt"),
    )
    assert [c.kind for c in d.changes] == ["retyped"]
    assert d.changes[0].new is not None and d.changes[0].new.type == 12
    assert "usable to persistent (type 12)" in d.changes[0].text


def test_nvdimm_kexec_leak_diff() -> None:
    d = diff_maps(
        load_memory_map(DATA / "nvdimm-2020-dax-kmem-2.memmap.txt"),
        load_memory_map(DATA / "nvdimm-2020-dax-kmem-1.memmap.txt"),
    )
    # "0000000150000000-0000000340000000 (System RAM)", exclusive end
    assert [(c.kind, c.new.start, c.new.end) for c in d.changes if c.new] == [
        ("added", 0x150000000, 0x33FFFFFFF)
    ]
    assert d.checksum_changed


def test_precision_pair_is_unchanged_against_itself() -> None:
    m = load_memory_map(DATA / "lkml-2017-precision5810-2.dmesg.txt")
    d = diff_maps(m, m)
    assert d.same and not d.checksum_changed
