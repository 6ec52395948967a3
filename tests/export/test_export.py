"""extract --format raw|elf|lime on the real samples, checked with the real clients.

Truth comes from the guest: marker pages (markers.json: PFN and sha256 computed from the fill
rule), ``uname -r`` (provenance), System.map and the guest's /proc/kallsyms; the outputs are
read back with independent parsers here, with drgn (which must open the ELF core as a Linux
kernel) and, marked slow, with Volatility 3.  Each sample is decompressed once per session;
the uncompressed sample and the samples not committed (git-ignored images) run with
``-m slow``.
"""

from __future__ import annotations

import hashlib
import json
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import (
    SAMPLES,
    elf_loads,
    elf_page,
    file_sha256,
    kaslr_offset,
    provenance,
    real_samples,
    run_cli,
)

from swsusp_inspect.image import open_image
from swsusp_inspect.inputs.system_map import load_system_map

# by default the committed LZO and LZ4 samples; the others (the uncompressed one, the
# git-ignored images) with -m slow
DEFAULT = ("deb13-6.12-lz4",)
KERNEL = [n for n in real_samples() if provenance(n).get("writer", "kernel") == "kernel"]
PARAMS = [pytest.param(n, marks=() if n in DEFAULT else pytest.mark.slow) for n in KERNEL]
FORMATS = ("raw", "elf", "lime")


class Extracted:
    """The three outputs of one sample and their records."""

    def __init__(self, name: str, image: Path, out: Path) -> None:
        self.name, self.image = name, image
        self.prov = provenance(name)
        self.markers = json.loads((SAMPLES / name / "markers.json").read_text())
        self.records: dict[str, dict[str, Any]] = {}
        self.paths: dict[str, Path] = {}
        for fmt in FORMATS:
            path = out / f"{name}.{fmt}"
            r = run_cli("extract", "--json", "-q", "--format", fmt, "-o", str(path), str(image))
            assert r.exit_code == 0, r.stderr
            self.records[fmt] = json.loads(r.stdout)
            self.paths[fmt] = path
        with open_image(image) as img:
            self.page_size = img.page_size
            self.pfns, self.zero = img.pagedir.pfns.copy(), img.pagedir.zero.copy()
            self.banner = img.find_banner()


@pytest.fixture(scope="module", params=PARAMS)
def extracted(
    request: pytest.FixtureRequest,
    plain_sample: Callable[[str], Path],
    tmp_path_factory: pytest.TempPathFactory,
) -> Extracted:
    return Extracted(request.param, plain_sample(request.param), tmp_path_factory.mktemp("out"))


# -- independent readers of the three formats -----------------------------------------------


def lime_ranges(path: Path) -> list[tuple[int, int, int]]:
    """``(start, end inclusive, data offset)`` of every LiME range."""
    out, pos, size = [], 0, path.stat().st_size
    with open(path, "rb") as f:
        while pos < size:
            f.seek(pos)
            magic, version, start, end, _ = struct.unpack("<IIQQ8s", f.read(32))
            assert (magic, version) == (0x4C694D45, 1)
            out.append((start, end, pos + 32))
            pos += 32 + end - start + 1
    assert pos == size
    return out


def lime_page(path: Path, phys: int, n: int) -> bytes | None:
    for start, end, off in lime_ranges(path):
        if start <= phys <= end:
            with open(path, "rb") as f:
                f.seek(off + phys - start)
                return f.read(n)
    return None


def read_at(e: Extracted, fmt: str, phys: int) -> bytes | None:
    n, path = e.page_size, e.paths[fmt]
    if fmt == "raw":
        with open(path, "rb") as f:
            f.seek(phys)
            return f.read(n)
    return elf_page(path, phys, n) if fmt == "elf" else lime_page(path, phys, n)


# -- every format, every sample ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_markers_at_their_physical_addresses(extracted: Extracted, fmt: str) -> None:
    n = extracted.page_size
    for mk in extracted.markers["markers"]:
        page = read_at(extracted, fmt, mk["pfn"] * n)
        assert page is not None and hashlib.sha256(page).hexdigest() == mk["sha256"], mk


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_record_is_what_was_written(extracted: Extracted, fmt: str) -> None:
    rec, path = extracted.records[fmt], extracted.paths[fmt]
    assert rec["format"] == fmt and rec["output"] == str(path)
    assert rec["output_sha256"] == file_sha256(path)
    assert rec["input_sha256"] == file_sha256(extracted.image)
    assert json.loads(Path(str(path) + ".json").read_text()) == rec  # the sidecar
    data_pfns = extracted.pfns[~extracted.zero]
    assert rec["pages_written"] == data_pfns.size and rec["unreadable_pages"] == 0
    assert rec["unreadable"] == []
    assert sum(s["pages"] for s in rec["saved"]) == data_pfns.size
    assert sum(s["pages"] for s in rec["zero"]) == int(extracted.zero.sum())
    saved = np.concatenate([np.arange(s["start_pfn"], s["end_pfn"] + 1) for s in rec["saved"]])
    assert np.array_equal(np.sort(saved), np.sort(data_pfns.astype(np.int64)))
    assert rec["size"] == path.stat().st_size


def test_zero_pages_are_memory_without_file_bytes(extracted: Extracted) -> None:
    if not extracted.zero.any():
        pytest.skip("no zero pages before 6.6")
    n = extracted.page_size
    zero_pfn = int(extracted.pfns[extracted.zero][0])
    _, _, segs, _ = elf_loads(extracted.paths["elf"])
    (seg,) = [s for s in segs if s[0] == 1 and s[2] <= zero_pfn * n < s[2] + s[4]]
    assert seg[3] == 0  # p_filesz: no bytes in the file
    assert read_at(extracted, "lime", zero_pfn * n) == bytes(n)
    unsaved = next(
        p for p in range(int(extracted.pfns.max())) if p not in set(extracted.pfns.tolist())
    )
    assert elf_page(extracted.paths["elf"], unsaved * n, n) is None  # not saved: no segment


def test_sizes_are_saved_data_plus_headers(extracted: Extracted) -> None:
    n = extracted.page_size
    data = int((~extracted.zero).sum()) * n
    elf = extracted.records["elf"]
    segments = elf["elf"]["load_segments"] + 1
    # headers, the note region (one page of text and its headers), page alignment
    assert data < elf["size"] <= data + 64 + 56 * segments + 36 + n + n
    lime = extracted.records["lime"]
    assert lime["size"] == 32 * lime["lime_ranges"] + data + int(extracted.zero.sum()) * n


def test_elf_identity(extracted: Extracted) -> None:
    cls, machine, _, note = elf_loads(extracted.paths["elf"])
    arch = extracted.prov["arch"]
    assert (cls, machine) == {"amd64": (64, 62), "arm64": (64, 183), "i386": (32, 3)}[arch]
    assert note[12:23] == b"VMCOREINFO\0"
    assert f"OSRELEASE={extracted.prov['kernel_release']}\n".encode() in note
    address = SAMPLES / extracted.name / "vmcoreinfo.txt"
    if address.exists():  # the guest's /sys/kernel/vmcoreinfo
        phys = int(address.read_text().split()[0], 16)
        assert extracted.records["elf"]["elf"]["vmcoreinfo"]["physical_address"] == phys


# -- drgn --------------------------------------------------------------------------------------


def _truth_symbol(e: Extracted, name: str) -> int | None:
    """The symbol's address in the guest: its /proc/kallsyms (provenance), else System.map
    plus the KASLR offset."""
    checked = e.prov.get("kallsyms_checked", {})
    if name in checked:
        return int(checked[name], 16)
    smap = load_system_map(SAMPLES / e.prov["system_map"])
    addr = smap.symbols.get(name)
    return None if addr is None else addr + kaslr_offset(e.prov)


def test_drgn_opens_the_core_as_a_linux_kernel(extracted: Extracted) -> None:
    drgn = pytest.importorskip("drgn")
    from drgn.helpers.linux.kallsyms import load_vmlinux_kallsyms

    prog = drgn.Program()
    prog.set_core_dump(str(extracted.paths["elf"]))
    assert prog.flags & drgn.ProgramFlags.IS_LINUX_KERNEL
    info = prog["VMCOREINFO"].string_().decode()
    lines = dict(ln.split("=", 1) for ln in info.splitlines() if "=" in ln)
    release = extracted.prov["kernel_release"]
    assert lines["OSRELEASE"] == release
    # init_uts_ns by the address VMCOREINFO gives, through the image's own page tables
    uts = int(lines["SYMBOL(init_uts_ns)"], 16) + int(lines["OFFSET(uts_namespace.name)"])
    assert prog.read(uts + 2 * 65, 65).split(b"\0")[0].decode() == release
    # 6.0+: symbols by name from the kernel's own kallsyms (no debug info)
    prog.register_symbol_finder("kallsyms", load_vmlinux_kallsyms(prog), enable_index=0)
    try:
        banner = prog.symbol("linux_banner")
    except LookupError:
        # i386 and arm64 Debian kernels lack CONFIG_KALLSYMS_ALL: text symbols only
        sym = prog.symbol("swsusp_save")
        assert sym.address == _truth_symbol(extracted, "swsusp_save")
        return
    assert banner.address == _truth_symbol(extracted, "linux_banner")
    text = prog.read(banner.address, 400).split(b"\0")[0].decode()
    assert text.startswith(f"Linux version {release} ")
    assert extracted.banner is not None and text.rstrip("\n") == extracted.banner.banner


def test_drgn_reads_markers_by_physical_address(extracted: Extracted) -> None:
    drgn = pytest.importorskip("drgn")
    prog = drgn.Program()
    prog.set_core_dump(str(extracted.paths["elf"]))
    n = extracted.page_size
    for mk in extracted.markers["markers"]:
        page = prog.read(mk["pfn"] * n, n, True)
        assert hashlib.sha256(page).hexdigest() == mk["sha256"]


# -- Volatility 3 ------------------------------------------------------------------------------


@pytest.mark.slow
def test_volatility_finds_the_banner_in_lime(extracted: Extracted, tmp_path: Path) -> None:
    pytest.importorskip("volatility3")
    code = "import sys; from volatility3.cli import main; sys.argv[0] = 'vol'; main()"
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "-q",
            "-r",
            "json",
            "-f",
            str(extracted.paths["lime"]),
            "banners.Banners",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    rows = json.loads(r.stdout)
    assert extracted.banner is not None
    hits = [row for row in rows if row["Offset"] == extracted.banner.physical_address]
    assert hits and hits[0]["Banner"].rstrip("\n") == extracted.banner.banner


# -- shapes no real sample has -------------------------------------------------------------


def test_more_program_headers_than_e_phnum_holds(tmp_path: Path) -> None:
    """70,000 runs (every other frame, saved as zero pages, plus a few with data): e_phnum
    is PN_XNUM and section header 0 carries the count, as the kernel's core dumps do."""
    from helpers import forge_to

    pfns = np.arange(0x100, 0x100 + 2 * 70_000, 2, dtype=np.uint64)
    zero = np.ones(pfns.size, bool)
    zero[:5] = False
    forged = forge_to(tmp_path, "many", pfns=pfns, zero=zero, compression="lzo")
    out = tmp_path / "many.elf"
    # no record: 70,000 ranges make a 5.6 MB JSON document (0.3 s to write, twice with the
    # sidecar); the counts are checked against the headers themselves
    r = run_cli("extract", "-q", "--no-sidecar", "--format", "elf", "-o", str(out), forged.path)
    assert r.exit_code == 0, r.stderr
    data = out.read_bytes()
    phoff, shoff = struct.unpack_from("<QQ", data, 32)
    phnum, shentsize, shnum = struct.unpack_from("<HHH", data, 56)
    assert (phnum, shnum, shentsize) == (0xFFFF, 1, 64)
    real = struct.unpack_from("<I", data, shoff + 44)[0]  # Elf64_Shdr.sh_info
    assert real == 1 + pfns.size
    rows = [struct.unpack_from("<IIQQQQQQ", data, phoff + i * 56) for i in range(real)]
    loads = [r for r in rows if r[0] == 1]
    assert len(loads) == pfns.size and rows[0][0] == 4  # PT_NOTE, then one PT_LOAD a run
    assert [r[4] for r in loads] == [int(p) * 4096 for p in pfns]  # p_paddr, by address
    assert all(r[5] == 0 for r in loads[5:]) and all(r[5] == 4096 for r in loads[:5])
    n = 4096
    with open_image(forged.path) as img:
        for pfn in pfns[:5].tolist():
            (seg,) = [r for r in loads if r[4] == pfn * n]
            assert data[seg[2] : seg[2] + n] == img.read_page(pfn)
