"""Hand-written inputs and every reader: old formats, prefixes, boots, binary, sysfs, JSON."""

from __future__ import annotations

import io
import json
import struct
import tarfile
import zlib
from pathlib import Path

import pytest
from helpers import QEMU_E820, e820_table_bytes

from swsusp_inspect.e820 import E820Type, diff_maps, load_memory_map, merge_evidence
from swsusp_inspect.e820.readers.binary import build_boot_params, build_e820_raw
from swsusp_inspect.errors import MapError

MAPS = Path(__file__).parent.parent / "data" / "maps"


def test_old_format_exclusive_ends_and_old_nosave_lines() -> None:
    m = load_memory_map(MAPS / "old-2.6.25-i386.dmesg.txt")
    assert m.firmware_entries()[0] == (0, 0x9F800, 1)
    assert m.firmware_entries()[4] == (0x3FFF0000, 0x10000, 3)
    # "000000000009f000 - 00000000000a0000" ... merged by the kernel into one region
    assert m.nosave_log_calls == [(0x9F, 0xA0), (0xA0, 0xE8), (0xE8, 0x100)]
    assert m.nosave_log == [(0x9F, 0xFF)]
    assert m.nosave_rules_matched() == "pre-2025"
    # page 0x9f is half RAM: both rule sets make it nosave (pre-2025 through the hole before
    # the reserved entry, [PFN_DOWN(0x9f800), PFN_UP(0x9f800)); post-2025 by PFN_DOWN(RAM end))
    assert m.derive_nosave("post-2025")[0] == (0x9F, 0xFF)


def test_journald_boots_last_and_chosen() -> None:
    last = load_memory_map(MAPS / "journald-two-boots.dmesg.txt")
    assert (last.boot, last.boots) == (2, 2)
    assert any(f.code == "boot" for f in last.findings)
    first = load_memory_map(MAPS / "journald-two-boots.dmesg.txt", boot=1)
    assert len(first.raw_entries) == 4 and len(last.raw_entries) == 5
    d = diff_maps(first, last)
    kinds = sorted(c.kind for c in d.changes)
    assert kinds == ["added", "moved", "resized"]
    moved = next(c for c in d.changes if c.kind == "moved")
    # ACPI data 0x80000000-0x80003fff -> 0x7fffc000-0x7fffffff
    assert moved.text.startswith("ACPI data moved down 4 pages")
    with pytest.raises(MapError, match="holds 2 boot"):
        load_memory_map(MAPS / "journald-two-boots.dmesg.txt", boot=3)


def test_every_prefix_flavour() -> None:
    m = load_memory_map(MAPS / "prefixes.dmesg.txt")
    assert [e[0] for e in m.firmware_entries()] == [
        0x0,
        0x9FC00,
        0xF0000,
        0x100000,
        0x1FFE0000,
        0xFFFC0000,
    ]


def test_newest_kernel_names_and_gap_lines() -> None:
    m = load_memory_map(MAPS / "newest-7.x.dmesg.txt")
    assert m.firmware_entries() == QEMU_E820
    assert m.checksum_crc32() == zlib.crc32(e820_table_bytes(QEMU_E820))


def test_arm64_node_ranges() -> None:
    m = load_memory_map(MAPS / "arm64-nodes.dmesg.txt")
    assert m.format == "node-ranges"
    assert m.ram_ranges() == [(0x40000000, 0x4BFFFFFF)]
    assert m.document().to_dict()["checksum"]["meaningful"] is False


def test_extended_map_over_128_entries(tmp_path: Path) -> None:
    # 128 BIOS-e820 entries, then an extended block of 130 (SETUP_E820_EXT): alternating
    # usable/reserved pages; the extended table is the firmware table
    def lines(who: str, n: int) -> list[str]:
        out = []
        for i in range(n):
            start = i * 0x2000
            name = "usable" if i % 2 == 0 else "reserved"
            out.append(f"[    0.000000] {who}: [mem {start:#018x}-{start + 0x1FFF:#018x}] {name}")
        return out

    text = [
        "[    0.000000] BIOS-provided physical RAM map:",
        *lines("BIOS-e820", 128),
        "[    0.000000] extended physical RAM map:",
        *lines("extended", 130),
    ]
    f = tmp_path / "ext.txt"
    f.write_text("\n".join(text) + "\n")
    m = load_memory_map(f)
    assert len(m.raw_entries) == 130 and len(m.starts) == 130
    expected = [(i * 0x2000, 0x2000, 1 if i % 2 == 0 else 2) for i in range(130)]
    assert m.checksum_crc32() == zlib.crc32(e820_table_bytes(expected))


def test_checksums_are_zlib_and_md5_of_the_table() -> None:
    import hashlib

    m = load_memory_map(MAPS / "newest-7.x.dmesg.txt")
    raw = e820_table_bytes(QEMU_E820)
    assert m.firmware_table_bytes() == raw
    assert len(raw) == 4 + 20 * 7
    assert m.checksum_md5() == hashlib.md5(raw).digest()


@pytest.mark.parametrize(
    ("name", "line", "words"),
    [
        ("bad-overflow.dmesg.txt", 2, "64 bits"),
        ("bad-end-before-start.dmesg.txt", 3, "before start"),
        ("bad-type.dmesg.txt", 2, "unknown e820 type name 'rezerved'"),
        ("bad-nomap.txt", 1, "no memory map"),
        ("bad-iomem.iomem.txt", 3, "not an iomem line"),
    ],
)
def test_bad_inputs(name: str, line: int, words: str) -> None:
    with pytest.raises(MapError) as info:
        load_memory_map(MAPS / name)
    assert info.value.line == line
    assert words in str(info.value)
    assert str(info.value).startswith(f"{MAPS / name}:{line}:")


def test_zero_size_inclusive_entry_is_a_finding(tmp_path: Path) -> None:
    # the kernel prints addr + size - 1, so a zero-size entry prints its end one below its start
    f = tmp_path / "z.txt"
    f.write_text(
        "BIOS-e820: [mem 0x0000000000000000-0x000000000009ffff] usable\n"
        "BIOS-e820: [mem 0x00000000000a0000-0x000000000009ffff] reserved\n"
    )
    m = load_memory_map(f)
    assert [x.code for x in m.findings if x.code == "zero-size"] == ["zero-size"]
    assert len(m.starts) == 1


def test_boot_params_page_from_offsets() -> None:
    # built by hand at the documented offsets, not with the reader's construct definitions
    page = bytearray(4096)
    page[0x202:0x206] = b"HdrS"
    page[0x1E8] = len(QEMU_E820)
    for i, e in enumerate(QEMU_E820):
        struct.pack_into("<QQI", page, 0x2D0 + 20 * i, *e)
    assert build_boot_params(QEMU_E820) == bytes(page)


def test_binary_readers(tmp_path: Path) -> None:
    bp = tmp_path / "boot_params.bin"
    bp.write_bytes(build_boot_params(QEMU_E820))
    m = load_memory_map(bp)
    assert m.format == "boot_params"
    assert m.firmware_entries() == QEMU_E820
    raw = tmp_path / "table.bin"
    raw.write_bytes(build_e820_raw(list(reversed(QEMU_E820))))
    r = load_memory_map(raw)
    assert r.format == "e820_raw"
    assert r.firmware_entries() == QEMU_E820  # sanitized: sorted
    assert any(f.code == "unsorted" for f in r.findings)
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\0" * 21)
    with pytest.raises(MapError, match="multiple of 20"):
        load_memory_map(bad)
    over = tmp_path / "over.bin"
    over.write_bytes(build_e820_raw([(0xFFFFFFFFFFFFF000, 0x2000, 1), (0, 0x1000, 1)]))
    with pytest.raises(MapError, match="overflows"):
        load_memory_map(over)


def _sysfs_files() -> dict[str, str]:
    names = {1: "System RAM", 2: "Reserved"}
    files = {}
    for i, (a, z, t) in enumerate(QEMU_E820):
        files[f"{i}/start"] = f"{a:#x}\n"
        files[f"{i}/end"] = f"{a + z - 1:#x}\n"
        files[f"{i}/type"] = names[t] + "\n"
    return files


def test_sysfs_directory_tar_and_grep(tmp_path: Path) -> None:
    d = tmp_path / "memmap"
    for name, value in _sysfs_files().items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(value)
    assert load_memory_map(d).firmware_entries() == QEMU_E820
    tar_path = tmp_path / "memmap.tar"
    with tarfile.open(tar_path, "w") as tar:
        for name, value in _sysfs_files().items():
            data = value.encode()
            info = tarfile.TarInfo("sys/firmware/memmap/" + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert load_memory_map(tar_path).firmware_entries() == QEMU_E820
    # grep output in glob order: 10 sorts before 2 once there are more than 10 entries
    grep = tmp_path / "grep.txt"
    grep.write_text(
        "".join(f"/sys/firmware/memmap/{k}:{v}" for k, v in sorted(_sysfs_files().items()))
    )
    assert load_memory_map(grep).firmware_entries() == QEMU_E820


def test_json_round_trip(tmp_path: Path) -> None:
    m = load_memory_map(
        Path(__file__).parent.parent / "data" / "realworld" / "lkml-2017-precision5810-2.dmesg.txt"
    )
    f = tmp_path / "m.json"
    f.write_text(m.document().to_json())
    back = load_memory_map(f)
    assert back.format == "json"
    assert back.firmware_entries() == m.firmware_entries()
    assert back.checksum_crc32() == m.checksum_crc32()
    assert back.nosave_log == m.nosave_log
    assert back.modified is not None
    doc = json.loads(f.read_text())
    assert doc["schema_version"] == 1
    bad = tmp_path / "bad.json"
    bad.write_text('{"entries": [\n  {"start": 1,}\n]}')
    with pytest.raises(MapError) as info:
        load_memory_map(bad)
    assert info.value.line == 2


def test_merge_evidence_log_and_iomem() -> None:
    real = Path(__file__).parent.parent / "data" / "realworld"
    log = load_memory_map(MAPS / "newest-7.x.dmesg.txt")
    iomem = load_memory_map(real / "avml-1.iomem.txt")
    merged = merge_evidence([iomem, log])
    assert merged.format == "dmesg"
    assert merged.checksum_crc32() == log.checksum_crc32()
    assert any(r.label == "Kernel code" for r in merged.reserved_ram_evidence)
    assert any(f.code == "ram-differs" for f in merged.findings)


def test_types() -> None:
    from swsusp_inspect.e820 import dmesg_name, iomem_name

    assert dmesg_name(E820Type.PRAM) == "persistent (type 12)"
    assert dmesg_name(20) == "type 20"
    assert iomem_name(E820Type.NVS) == "ACPI Non-volatile Storage"
    assert iomem_name(20) == "Unknown E820 type"
