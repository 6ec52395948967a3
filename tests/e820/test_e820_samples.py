"""The real-kernel QEMU samples (samples/<name>/): dmesg, console.log, iomem and memmap.

e820 CRC32 of each sample's dmesg firmware map (zlib.crc32 of u32 nr_entries + <QQI entries of
its 7 BIOS-e820 lines), for the image engineer to compare with the image's arch record:
    deb12-6.1-lzo        0x92315679
    deb12-6.1-nocompress 0x92315679
    deb13-6.12-lz4       0x92315679
(all three guests ran under the same QEMU machine and memory size, so the firmware map and its
checksum are the same).  The 6.1.192 and 6.12.118 logs both match the post-2025 nosave rules.
"""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest
from helpers import provenance

from swsusp_inspect.e820 import load_memory_map

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
# real-kernel samples only (forged ones have no provenance.json from a guest run)
DIRS = sorted(
    p
    for p in SAMPLES.glob("*")
    if (p / "dmesg.txt").is_file() and (p / "provenance.json").is_file()
)
# x86 guests have an e820 map (and /sys/firmware/memmap); arm64 has neither
X86 = [p for p in DIRS if provenance(p.name)["arch"] != "arm64"]
ARM64 = [p for p in DIRS if p not in X86]
FILES = ("dmesg.txt", "console.log", "iomem.txt", "memmap.txt")

pytestmark = pytest.mark.skipif(not DIRS, reason="samples/ not generated in this checkout")

RE_E820 = re.compile(r"BIOS-e820: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] (.+)$")
RE_NOSAVE = re.compile(r"Registered nosave memory: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]")
# 7.x kernels print "System RAM" and "device reserved" for types 1 and 2 (sid-7-lzo)
NAMES = {
    "usable": 1,
    "reserved": 2,
    "ACPI data": 3,
    "ACPI NVS": 4,
    "System RAM": 1,
    "device reserved": 2,
}


def _ids(p: Path) -> str:
    return p.name


@pytest.mark.parametrize("sample", X86, ids=_ids)
@pytest.mark.parametrize("name", FILES)
def test_sample_file_parses(sample: Path, name: str) -> None:
    m = load_memory_map(sample / name)
    assert m.format == {"iomem.txt": "iomem", "memmap.txt": "sysfs"}.get(name, "dmesg")
    assert len(m.starts) > 0


@pytest.mark.parametrize("sample", X86, ids=_ids)
def test_sample_checksum_is_crc32_of_printed_table(sample: Path) -> None:
    entries = []
    for line in (sample / "dmesg.txt").read_text().splitlines():
        mm = RE_E820.search(line)
        if mm:
            a, b = int(mm.group(1), 16), int(mm.group(2), 16)
            entries.append(struct.pack("<QQI", a, b - a + 1, NAMES[mm.group(3).strip()]))
    expected = zlib.crc32(struct.pack("<I", len(entries)) + b"".join(entries))
    for name in ("dmesg.txt", "console.log"):
        assert load_memory_map(sample / name).checksum_crc32() == expected


@pytest.mark.parametrize("sample", X86, ids=_ids)
def test_dmesg_and_sysfs_agree(sample: Path) -> None:
    log = load_memory_map(sample / "dmesg.txt")
    sysfs = load_memory_map(sample / "memmap.txt")
    assert sysfs.ram_ranges() == log.ram_ranges()
    # no kexec-table edit in these boots: sysfs holds the firmware table itself
    assert sysfs.firmware_entries() == log.firmware_entries()


@pytest.mark.parametrize("sample", X86, ids=_ids)
def test_iomem_shows_the_edited_table(sample: Path) -> None:
    log = load_memory_map(sample / "dmesg.txt")
    iomem = load_memory_map(sample / "iomem.txt")
    # iomem is built from e820_table after "e820: update [mem 0x00000000-0x00000fff] usable ==>
    # reserved": its RAM starts at 0x1000, the firmware map's at 0; it equals the edited table
    assert log.modified is not None
    assert iomem.ram_ranges() == log.modified.ram_ranges()
    assert log.ram_ranges()[0][0] == 0 and iomem.ram_ranges()[0][0] == 0x1000
    assert any(r.label == "Kernel code" for r in iomem.reserved_ram_evidence)


@pytest.mark.parametrize("sample", X86, ids=_ids)
def test_derived_nosave_equals_log_lines(sample: Path) -> None:
    lines = [
        (int(a, 16) >> 12, (int(b, 16) + 1) >> 12)
        for a, b in RE_NOSAVE.findall((sample / "dmesg.txt").read_text())
    ]
    assert lines
    m = load_memory_map(sample / "dmesg.txt")
    assert m.nosave_log_calls == lines
    assert m.derive_nosave_calls("post-2025") == lines
    assert m.nosave_rules_matched() == "post-2025"
    assert m.nosave_ranges() == ([(a, b - 1) for a, b in lines], "log")


RE_NODE = re.compile(r"node +\d+: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]")
RE_IOMEM_RAM = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) : System RAM$", re.M)


@pytest.mark.parametrize("sample", ARM64, ids=_ids)
@pytest.mark.parametrize("name", ("dmesg.txt", "console.log"))
def test_arm64_log_map_is_the_node_ranges(sample: Path, name: str) -> None:
    # no e820 on arm64: RAM is what "Early memory node ranges" printed, and /proc/iomem agrees
    text = (sample / name).read_text()
    nodes = [(int(a, 16), int(b, 16)) for a, b in RE_NODE.findall(text)]
    iomem = [
        (int(a, 16), int(b, 16))
        for a, b in RE_IOMEM_RAM.findall((sample / "iomem.txt").read_text())
    ]
    assert nodes and nodes == iomem
    m = load_memory_map(sample / name)
    assert (m.format, m.has_checksum) == ("node-ranges", False)
    assert m.ram_ranges() == nodes
    assert [f.code for f in m.findings] == ["node-ranges"]


@pytest.mark.parametrize("sample", ARM64, ids=_ids)
def test_arm64_iomem(sample: Path) -> None:
    text = (sample / "iomem.txt").read_text()
    m = load_memory_map(sample / "iomem.txt")
    assert m.format == "iomem"
    assert m.ram_ranges() == [(int(a, 16), int(b, 16)) for a, b in RE_IOMEM_RAM.findall(text)]
    labels = {r.label for r in m.reserved_ram_evidence}
    assert {"Kernel code", "Kernel data"} <= labels
