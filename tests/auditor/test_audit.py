"""The audit API on forged images: each finding code from a corner no real kernel writes.

Expected values are set by construction (the PFNs forged, the map written), never read back
from the audit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import forge_to

from swsusp_inspect.auditor import arch_limit_pfn, audit
from swsusp_inspect.auditor.notes import FINDING_CODES
from swsusp_inspect.e820 import MemoryMap, load_memory_map
from swsusp_inspect.formats.snapshot import build_restore_record
from swsusp_inspect.image import open_image
from swsusp_inspect.inputs.kpageflags import KPF_RESERVED
from swsusp_inspect.inputs.system_map import load_system_map
from swsusp_inspect.model import to_data
from swsusp_inspect.model.report import Report

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SEED = SAMPLES / "forged-seed-2004"
CRC32_LAYOUT = "5.13+ (CRC32 e820 checksum)"

# 1 GiB machine: RAM 0-0x9fbff, EBDA, BIOS, RAM 1 MiB - 1 GiB, ACPI data at the top of RAM
E820 = [
    (0x0, 0x9FBFF, "usable"),
    (0x9FC00, 0x9FFFF, "reserved"),
    (0xF0000, 0xFFFFF, "reserved"),
    (0x100000, 0x3FFEFFFF, "usable"),
    (0x3FFF0000, 0x3FFFFFFF, "ACPI data"),
]


def dmesg(entries: list[tuple[int, int, str]]) -> str:
    return "".join(
        f"[    0.000000] BIOS-e820: [mem {a:#018x}-{b:#018x}] {t}\n" for a, b, t in entries
    )


def forged(
    tmp_path: Path,
    pfns: list[int] | np.ndarray,
    *,
    entries: list | None = None,
    checksum: bool = True,
    **spec: Any,
) -> tuple[Path, MemoryMap]:
    mpath = tmp_path / "dmesg.txt"
    mpath.write_text(dmesg(E820 if entries is None else entries))
    m = load_memory_map(mpath)
    if "arch_record" not in spec:
        spec["arch_record"] = build_restore_record(
            CRC32_LAYOUT,
            jump_address=0xFFFFFFFF81800000,
            jump_address_phys=0x1800000,
            e820_checksum=m.checksum_crc32() if checksum else 0,
        )
    f = forge_to(tmp_path, "image", pfns=np.asarray(pfns, dtype=np.uint64), **spec)
    return Path(f.path), m


def run(path: Path, **kw: Any) -> Report:
    with open_image(path) as img:
        return audit(img, **kw)


def codes(r: Report) -> list[str]:
    return [f.code for f in r.findings]


def test_seed_scenario_flags_exactly_the_bios_and_mmio_ranges() -> None:
    r = run(SEED / "swap.img.xz", maps=[load_memory_map(SEED / "dmesg.txt")])
    assert r.labels is not None and to_data(r.labels)["reserved-non-ram"] == 96 + 256
    assert r.unsafe_pages == 352 and to_data(r.labels)["nosave"] == 0
    (f,) = r.findings_with("saved-non-ram")
    assert f.severity.value == "error"
    assert [(x.start_pfn, x.end_pfn, x.region, x.type) for x in f.ranges] == [
        (0xA0, 0xE5, "hole 0xa0000-0xe5fff", None),
        (0xE6, 0xFF, "reserved 0xe6000-0xfffff", 2),
        (0xE0000, 0xE00FF, "hole 0xc0000000-0xff77ffff", None),
    ]
    assert (f.ranges[0].start_address, f.ranges[-1].end_address) == (0xA0000, 0xE00FFFFF)
    assert r.map is not None and r.map.checksum_matches_image is True
    assert codes(r) == ["saved-non-ram"]
    assert r.exit_code() == 1


def test_clean_forged_image_exits_0(tmp_path: Path) -> None:
    path, m = forged(tmp_path, list(range(1, 0x9F)) + list(range(0x100, 0x400)))
    r = run(path, maps=[m])
    assert to_data(r.labels) == {
        "normal": 0x9E + 0x300,
        "reserved-ram": 0,
        "reserved-non-ram": 0,
        "nosave": 0,
    }
    assert r.findings == () and r.exit_code(strict=True) == 0
    assert to_data(r.evidence)["reserved-ram"]["source"] is None
    assert "cannot be told" in to_data(r.evidence)["reserved-ram"]["cannot_see"]


def test_partly_ram_is_a_warning(tmp_path: Path) -> None:
    path, m = forged(tmp_path, [0x9E, 0x9F, 0x100])
    r = run(path, maps=[m])
    (f,) = r.findings
    assert (f.code, f.severity.value, f.pages) == ("saved-partly-ram", "warning", 1)
    assert [(x.start_pfn, x.region) for x in f.ranges] == [(0x9F, "reserved 0x9fc00-0x9ffff")]
    assert r.unsafe_pages == 0 and to_data(r.labels)["reserved-non-ram"] == 1
    assert r.exit_code() == 0 and r.exit_code(strict=True) == 1


def test_beyond_map_and_nosave_and_acpi(tmp_path: Path) -> None:
    top = 0x40000  # the map ends at 1 GiB
    pfns = [0, 0x200, 0x3FFF0, 0x3FFF1, top, top + 7]
    path, m = forged(tmp_path, pfns)
    r = run(path, maps=[m])
    assert to_data(r.labels) == {"normal": 2, "reserved-ram": 0, "reserved-non-ram": 4, "nosave": 0}
    beyond = r.findings_with("saved-beyond-map")[0]
    assert [(x.start_pfn, x.end_pfn) for x in beyond.ranges] == [(top, top), (top + 7, top + 7)]
    assert beyond.pages == 2 and beyond.severity.value == "error"
    acpi = r.findings_with("saved-non-ram")[0]
    assert [(x.start_pfn, x.end_pfn, x.type) for x in acpi.ranges] == [(0x3FFF0, 0x3FFF1, 3)]
    # page 0 is RAM in this table and no log line says nosave: the post-2025 rules derive
    # nosave only where RAM is not, so page 0 is normal here (real logs add it, see below)
    assert to_data(r.evidence)["nosave"][0]["source"] == "post-2025 rules"
    assert r.unsafe_pages == 4
    assert r.exit_code() == 1


def test_log_nosave_lines_win_over_derived_rules(tmp_path: Path) -> None:
    lines = dmesg(E820) + (
        "[    0.043012] PM: hibernation: Registered nosave memory: [mem 0x00000000-0x00000fff]\n"
    )
    path, _ = forged(tmp_path, [0, 1, 2])
    mpath = tmp_path / "dmesg-nosave.txt"
    mpath.write_text(lines)
    r = run(path, maps=[load_memory_map(mpath)])
    (f,) = r.findings_with("saved-nosave")
    assert [(x.start_pfn, x.end_pfn) for x in f.ranges] == [(0, 0)]
    assert to_data(f.details)["sources"] == ["log"]
    assert r.labels is not None and to_data(r.labels)["nosave"] == 1 and r.unsafe_pages == 1


def test_system_map_nosave_section(tmp_path: Path) -> None:
    # restore_registers at phys 0x1800000; .data..nosave one page at +0x400000
    smap = tmp_path / "System.map"
    smap.write_text(
        "ffffffff81000000 T _text\n"
        "ffffffff81800000 T restore_registers\n"
        "ffffffff81c00000 D __nosave_begin\n"
        "ffffffff81c01000 D __nosave_end\n"
    )
    path, m = forged(tmp_path, [0x1BFF, 0x1C00, 0x1C01])
    r = run(path, maps=[m], system_map=load_system_map(smap))
    (f,) = r.findings_with("saved-nosave")
    assert [(x.start_pfn, x.end_pfn) for x in f.ranges] == [(0x1C00, 0x1C00)]
    assert to_data(f.details)["sources"] == ["System.map"]
    # without a map there are no labels, but the nosave section is still checked
    r = run(path, system_map=load_system_map(smap))
    assert r.labels is None and r.map is None
    assert codes(r) == ["saved-nosave"] and r.exit_code() == 1


def test_reserved_ram_evidence_iomem_then_kpageflags(tmp_path: Path) -> None:
    path, m = forged(tmp_path, [*range(0x1000, 0x1010), 0x5000, 0x5001])
    iomem = tmp_path / "iomem.txt"
    iomem.write_text(
        "00000000-0009fbff : System RAM\n"
        "00100000-3ffeffff : System RAM\n  01000000-01007fff : Kernel code\n"
        "  01008000-01008fff : Kernel data\n"
    )
    r = run(path, maps=[m, load_memory_map(iomem)])
    (f,) = r.findings_with("saved-reserved-ram")
    assert to_data(f.details)["by_evidence"] == {"Kernel code": 8, "Kernel data": 1}
    assert to_data(r.evidence)["reserved-ram"]["source"] == "iomem"
    assert r.exit_code(strict=True) == 0
    # kpageflags (covering PFNs < 0x5001) wins; the PFN beyond it falls back to iomem (none)
    flags = np.zeros(0x5001, dtype="<u8")
    flags[[0x1001, 0x5000]] = np.uint64(1) << np.uint64(KPF_RESERVED)
    kpath = tmp_path / "kpageflags"
    kpath.write_bytes(flags.tobytes())
    r = run(path, maps=[m, load_memory_map(iomem)], kpageflags=kpath)
    (f,) = r.findings_with("saved-reserved-ram")
    assert to_data(f.details)["by_evidence"] == {"kpageflags": 2}
    assert [(x.start_pfn, x.end_pfn) for x in f.ranges] == [(0x1001, 0x1001), (0x5000, 0x5000)]
    (p,) = r.findings_with("kpageflags-partial")
    assert p.pages == 1 and p.severity.value == "info"
    assert to_data(r.evidence)["reserved-ram"]["kpageflags"]["covered"] == 17


def test_unsorted_and_duplicate_directory(tmp_path: Path) -> None:
    pfns = [0x300, 0x100, 0x101, 0x101, 0x9F, 0x200]
    path, m = forged(tmp_path, pfns)
    r = run(path, maps=[m])
    assert {"pfn-unsorted", "pfn-duplicate", "saved-partly-ram"} <= set(codes(r))
    (u,) = r.findings_with("pfn-unsorted")
    assert to_data(u.details) == {"descents": 2, "first_index": 1}
    (d,) = r.findings_with("pfn-duplicate")
    assert d.pages == 1 and [(x.start_pfn, x.end_pfn) for x in d.ranges] == [(0x101, 0x101)]
    # labels count directory entries, sorted or not
    assert r.labels is not None and sum(to_data(r.labels).values()) == len(pfns)
    assert to_data(r.labels)["reserved-non-ram"] == 1 and r.exit_code() == 1
    assert not r.pfn_stats.sorted and r.pfn_stats.duplicates == 1


def test_pfn_beyond_the_architecture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert arch_limit_pfn("x86_64", 8, 4096) == 1 << 40
    assert arch_limit_pfn("i386", 4, 4096) == 1 << 24  # PAE: 36-bit physical addresses
    assert arch_limit_pfn(None, 8, 4096) == 1 << 51
    # the reader already refuses PFNs past 52-bit addresses; below that, an i386 image can
    # still list a PFN its machine cannot have: emulate its limit on a forged x86_64 image
    monkeypatch.setattr("swsusp_inspect.auditor.findings.arch_limit_pfn", lambda *a: 0x1000)
    path, _ = forged(tmp_path, [0x100, 0x1000, 0x1001, 0x2000])
    r = run(path)
    (f,) = r.findings_with("pfn-beyond-arch")
    assert [(x.start_pfn, x.end_pfn) for x in f.ranges] == [(0x1000, 0x1001), (0x2000, 0x2000)]
    assert f.pages == 3 and "num_physpages is a page count" in (f.note or "")
    assert r.exit_code() == 1


def test_checksum_mismatch_is_a_warning(tmp_path: Path) -> None:
    path, m = forged(tmp_path, [0x100], checksum=False)
    r = run(path, maps=[m])
    (f,) = r.findings
    assert (f.code, f.severity.value) == ("map-checksum-mismatch", "warning")
    assert r.map is not None and r.map.checksum_matches_image is False
    assert r.exit_code() == 0 and r.exit_code(strict=True) == 1


def test_verify_crc32_mismatch_is_an_error(tmp_path: Path) -> None:
    path, m = forged(tmp_path, list(range(0x100, 0x140)), crc32_override=0x12345678)
    assert run(path, maps=[m]).exit_code() == 0  # not read without verify
    r = run(path, maps=[m], verify=True)
    (f,) = r.findings_with("crc32-mismatch")
    assert f.severity.value == "error" and "0x12345678" in f.message
    assert r.exit_code() == 1


def test_json_document_is_plain_integers(tmp_path: Path) -> None:
    path, m = forged(tmp_path, [0x9F, 0xA0, 0x100, 0x101])
    doc = json.loads(run(path, maps=[m]).to_json())
    assert doc["schema_version"] == 1
    for key in ("image", "map", "evidence", "labels", "unsafe_pages", "findings"):
        assert key in doc
    assert set(doc["labels"]) == {"normal", "reserved-ram", "reserved-non-ram", "nosave"}
    assert doc["map"]["checksum_matches_image"] is True
    for f in doc["findings"]:
        assert {"severity", "code", "message", "pages", "ranges"} <= set(f)
        assert f["code"] in FINDING_CODES and f["severity"] == FINDING_CODES[f["code"]][0].value
        for x in f["ranges"]:
            assert {"start_pfn", "end_pfn", "region", "type"} <= set(x)

    def walk(v: Any) -> None:
        assert not isinstance(v, float), v
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(doc)


@pytest.mark.parametrize("width", [1, 7, 64])
def test_strip_covers_the_saved_pages(tmp_path: Path, width: int) -> None:
    path, m = forged(tmp_path, [0x9F, 0xA0, 0x100, 0x101, 0x3FFF0])
    r = run(path, maps=[m], strip_width=width)
    assert r.strip is not None and len(to_data(r.strip)["columns"]) == width
    assert sum(c["saved"] for c in to_data(r.strip)["columns"]) == 5
    assert sum(c["reserved-non-ram"] for c in to_data(r.strip)["columns"]) == 3
    assert r.strip.end_pfn == 0x3FFF1  # the highest saved PFN + 1 (above the last RAM page)


def test_damaged_data_chunk_is_an_error_finding_not_a_crash(tmp_path: Path) -> None:
    path, m = forged(tmp_path, list(range(0x100, 0x100 + 300)))
    raw = bytearray(path.read_bytes())
    with open_image(path) as img:
        table = img.chunk_table.ensure_all()
        last = int(img.entries[int(table.first_entry[-1])])  # device page of chunk 9
    raw[last * 4096 + 16 : last * 4096 + 200] = bytes(184)  # zeros: not valid LZO any more
    path.write_bytes(raw)
    for verify in (False, True):
        r = run(path, maps=[m], verify=verify)
        (f,) = r.findings_with("chunk-unreadable")
        assert f.severity.value == "error" and "compressed chunk 9" in f.message
        assert r.labels is not None and to_data(r.labels)["normal"] == 300 and r.exit_code() == 1


@pytest.mark.parametrize(
    ("word", "machine", "version", "registered", "sector"),
    [
        (4, "i686", 0x020616, False, 8),  # i386 2.6.22 (CONFIG_LBD: the 2.6.20+ header layout)
        (4, "i686", 0x020617, True, 8),  # i386 2.6.23: e820_mark_nosave_regions()
        (4, "i686", 0x020617, True, 4),  # the same without CONFIG_LBD: a 4-byte sector_t
        (8, "x86_64", 0x020616, True, 8),  # x86_64 registered them from 2.6.19
    ],
)
def test_e820_nosave_registration_follows_the_writers_version(
    tmp_path: Path, word: int, machine: str, version: int, registered: bool, sector: int
) -> None:
    from swsusp_inspect.forge.legacy import uts_bytes

    release = f"2.6.{version & 0xFF}"
    path, m = forged(
        tmp_path,
        list(range(0x9D, 0x200)),
        compression="none",
        arch_record=b"",
        uts=uts_bytes(release, machine),
        version_code=version,
        word_size=word,
        sector_size=sector,
    )
    r = run(path, maps=[m]).to_dict()
    assert (r["image"]["word_size"], r["image"]["era"]) == (
        word,
        "2.6.20+" if sector == 8 else "2.6.23-5.1, 4-byte sector_t",
    )
    (ev,) = [e for e in r["evidence"]["nosave"] if e["file"] == m.source]
    if registered:
        assert (ev["source"], ev["usable"]) == ("post-2025 rules", True)
        assert [(x["start_pfn"], x["end_pfn"]) for x in ev["ranges"]][:1] == [(0x9F, 0xFF)]
    else:
        assert (ev["source"], ev["usable"], ev["ranges"]) == ("none", False, [])
        assert ev["what"] == (
            f"i386 {release} (before 2.6.23, by swsusp_info.version_code) "
            "registered no e820 nosave regions"
        )
    # either way the BIOS hole 0xa0-0xef and the partly-RAM page 0x9f are non-RAM saves
    assert r["labels"]["reserved-non-ram"] == 0x100 - 0x9F


def test_legacy_eras_registered_no_e820_nosave() -> None:
    d = SAMPLES / "forged-legacy" / "2.4.19-susp2r-i386"
    r = run(d / "swap.img.xz", maps=[load_memory_map(d / "dmesg.txt")]).to_dict()
    (ev,) = r["evidence"]["nosave"]
    assert (ev["source"], ev["usable"], ev["ranges"]) == ("none", False, [])
    assert ev["what"] == (
        "this kernel era (2.4/2.5 patch (SUSP1R/SUSP2R, link.next)) "
        "registered no e820 nosave regions"
    )
