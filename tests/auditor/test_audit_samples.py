"""The audit on images written by real kernels (samples/), against independent truth.

Truth here never comes from the classifier: the kpageflags file is decoded with ``lzma`` and
``np.frombuffer`` in the test; RAM and the nosave lines are read with the regexes below from
the guest's own log (``BIOS-e820:`` lines on x86, ``node N: [mem ...]`` lines on arm64); the
``.data..nosave`` section is placed from the System.map text and the guest's /proc/iomem
``Kernel code`` line (which starts at ``_text`` on x86, and on arm64 at ``_stext`` in 6.1 and
``_text`` later, arch/*/kernel/setup.c: helpers.kernel_code_anchor), not from the image's arch
record as the audit does.

The i386 and arm64 samples run from their full images where those are in place, else from
tests/data/real-heads/ (their real PFN directories), so they are audited on every checkout.
"""

from __future__ import annotations

import lzma
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    SAMPLES,
    kaslr_offset,
    kernel_code_anchor,
    provenance,
    real_samples,
    sample_params,
)

from swsusp_inspect.auditor import audit
from swsusp_inspect.e820 import load_memory_map
from swsusp_inspect.image import HibernationImage, open_image
from swsusp_inspect.inputs.system_map import load_system_map
from swsusp_inspect.model import to_data
from swsusp_inspect.model.report import Report

REAL = real_samples()
# The i386 and arm64 images are not committed (samples/.gitignore).  Where they are absent,
# their real heads stand in: every byte of the header, swap map, swsusp_info and PFN directory
# as the kernel wrote them, data payloads zeroed.  The audit reads PFNs, not page contents.
HEADS = Path(__file__).resolve().parents[1] / "data" / "real-heads"
# (s2disk's head is not among them: its reader decodes the whole stream when opening)
HEAD_ONLY = sorted(
    p.name
    for p in HEADS.iterdir()
    if p.is_dir() and p.name not in REAL and provenance(p.name).get("writer", "kernel") == "kernel"
)
AUDITED = REAL + HEAD_ONLY
KPF_RESERVED = 32

# 7.x kernels print two spaces and "System RAM" / "device reserved" for usable / reserved
_E820 = re.compile(r"BIOS-e820: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]\s+(\S.*)$", re.M)
RAM_NAMES = ("usable", "System RAM")
_NODE = re.compile(r"node +\d+: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]")
_NOSAVE = re.compile(r"Registered nosave memory: \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\]")
_KCODE = re.compile(r"^\s*([0-9a-f]+)-[0-9a-f]+ : Kernel code$", re.M)


def _symbols(path: Path, *names: str) -> dict[str, int]:
    out: dict[str, int] = {}
    raw = path.read_bytes()
    text = lzma.decompress(raw).decode() if path.suffix == ".xz" else raw.decode()
    # the lines of ``names`` with a global type, not a local namesake's (nm: one space apart)
    wanted = re.compile(rf"^([0-9a-f]+) [A-Z] ({'|'.join(map(re.escape, names))})$", re.M)
    for addr, name in wanted.findall(text):
        out.setdefault(name, int(addr, 16))
    return out


class Truth:
    """What the guest itself recorded, decoded without the package's readers."""

    def __init__(self, name: str) -> None:
        d = SAMPLES / name
        self.name = name
        self.dir = d
        self.kpf = np.frombuffer(lzma.decompress((d / "kpageflags.bin.xz").read_bytes()), "<u8")
        self.dmesg = (d / "dmesg.txt").read_text(errors="replace")
        prov = provenance(name)
        self.arch = prov.get("arch", "amd64")
        self.shift = prov.get("page_size", 4096).bit_length() - 1  # PFN = address >> shift
        self.e820 = [(int(a, 16), int(b, 16), t.strip()) for a, b, t in _E820.findall(self.dmesg)]
        if self.e820:
            self.ram = [(a, b) for a, b, t in self.e820 if t in RAM_NAMES]
        else:
            self.ram = [(int(a, 16), int(b, 16)) for a, b in _NODE.findall(self.dmesg)]
        self.nosave = [
            (int(a, 16) >> self.shift, int(b, 16) >> self.shift)
            for a, b in _NOSAVE.findall(self.dmesg)
        ]
        self.passphrase: str | None = prov.get("passphrase")  # an encrypted s2disk sample
        self.kaslr_offset = kaslr_offset(prov)
        self.head = name in HEAD_ONLY
        self.image = (HEADS / name / "heads.img.xz") if self.head else d / "swap.img.xz"
        self.system_map = (
            (HEADS / name / "System.map-excerpt") if self.head else SAMPLES / prov["system_map"]
        )
        sym = _symbols(
            self.system_map, "_text", "_stext", "__init_begin", "__nosave_begin", "__nosave_end"
        )
        anchor = kernel_code_anchor(self.arch, (d / "iomem.txt").read_text(), sym)
        kcode = int(_KCODE.search((d / "iomem.txt").read_text()).group(1), 16)  # type: ignore[union-attr]
        self.kernel_code = kcode
        self.nosave_section = (
            (kcode + sym["__nosave_begin"] - sym[anchor]) >> self.shift,
            ((kcode + sym["__nosave_end"] - sym[anchor] + (1 << self.shift) - 1) >> self.shift) - 1,
        )

    def reserved(self) -> np.ndarray:
        return np.flatnonzero((self.kpf >> np.uint64(KPF_RESERVED)) & np.uint64(1))

    def non_ram_pfns(self, pfns: np.ndarray) -> set[int]:
        """Those of ``pfns`` not fully inside a RAM line of the log."""
        return {
            p
            for p in pfns.tolist()
            if not any(
                a <= p << self.shift and ((p + 1) << self.shift) - 1 <= b for a, b in self.ram
            )
        }


def _warnings(r: Report, truth: Truth) -> list[str]:
    """Codes of the findings above info, but for a head's one expected error: the banner
    search meets a zeroed chunk payload (``chunk-unreadable``, only there)."""
    codes = [f.code for f in r.findings if f.severity.value != "info"]
    if truth.head:
        assert codes.count("chunk-unreadable") == 1
        codes.remove("chunk-unreadable")
    else:
        assert "chunk-unreadable" not in codes
    return codes


@pytest.fixture(scope="module", params=sample_params(AUDITED))
def real(request: pytest.FixtureRequest) -> tuple[Truth, HibernationImage, Report]:
    truth = Truth(request.param)
    img = open_image(truth.image, passphrase=truth.passphrase)
    request.addfinalizer(img.close)
    report = audit(
        img,
        maps=[load_memory_map(truth.dir / "dmesg.txt")],
        kpageflags=truth.dir / "kpageflags.bin.xz",
        system_map=load_system_map(truth.system_map),
    )
    return truth, img, report


def test_real_samples_present() -> None:
    assert {"deb12-6.1-lzo", "deb12-6.1-nocompress", "deb13-6.12-lz4"} <= set(REAL)
    # i386 and arm64 are audited everywhere: from the full image, or else from its head
    assert {"deb12-6.1-i386-lzo", "deb12-6.1-arm64-lzo"} <= set(AUDITED)


def test_kernel_saved_no_non_ram_and_no_nosave(
    real: tuple[Truth, HibernationImage, Report],
) -> None:
    _truth, img, r = real
    assert r.labels is not None
    assert to_data(r.labels)["reserved-non-ram"] == 0
    assert to_data(r.labels)["nosave"] == 0
    assert r.unsafe_pages == 0
    assert sum(to_data(r.labels).values()) == img.pagedir.saved_pfns
    assert r.map is not None
    # x86 images carry the e820 CRC32 and the log's table matches it; arm64 has no e820
    assert r.map.checksum_matches_image is (True if _truth.e820 else None)
    assert _warnings(r, _truth) == []
    # exit 1 for a head only: its zeroed chunk is an integrity error
    assert r.exit_code() == r.exit_code(strict=True) == (1 if _truth.head else 0)
    # a head's zeroed chunks also hide parts of the kernel's memory (arm64's page tables, once
    # the note its head keeps is found): said as info, naming a zeroed chunk
    partial = [f for f in r.findings if f.code == "kernel-memory-partial"]
    assert all("compressed chunk" in f.message for f in partial) and (partial == [] or _truth.head)
    # with KASLR, System.map's restore_registers is not the image's jump_address: said as info
    assert sorted(
        f.code for f in r.findings if f.code not in ("chunk-unreadable", "kernel-memory-partial")
    ) == ["saved-reserved-ram"] + (["system-map-mismatch"] if _truth.kaslr_offset else [])


def test_reserved_ram_equals_kpageflags(real: tuple[Truth, HibernationImage, Report]) -> None:
    """reserved-ram == the saved PFNs whose kpageflags entry has KPF_RESERVED.

    Compared on the saved PFNs the kpageflags copy covers (all of them here: the copy spans
    every PFN with a struct page).  The copy was taken before hibernating, so pages allocated
    afterwards carry stale flags: the saved pages that were free (KPF_BUDDY) at the copy are
    such pages, and the test shows they exist.  PG_reserved itself does not change after boot
    on these guests (no driver reserves pages at run time), which is why the comparison is
    meaningful on every covered PFN.
    """
    truth, img, r = real
    pfns = img.pagedir.pfns
    covered = pfns[pfns < truth.kpf.size]
    assert covered.size == pfns.size
    flags = truth.kpf[covered.astype(np.intp)]
    reserved = int(np.count_nonzero((flags >> np.uint64(KPF_RESERVED)) & np.uint64(1)))
    assert r.labels is not None and to_data(r.labels)["reserved-ram"] == reserved > 0
    buddy = int(np.count_nonzero((flags >> np.uint64(10)) & np.uint64(1)))
    kp = to_data(r.evidence)["reserved-ram"]["kpageflags"]
    assert kp["buddy"] == buddy > 0
    assert kp["reserved"] == reserved and kp["covered"] == pfns.size
    (finding,) = r.findings_with("saved-reserved-ram")
    assert finding.pages == reserved
    assert to_data(finding.details)["by_evidence"] == {"kpageflags": reserved}
    assert sum(x.pages for x in finding.ranges) == reserved


def test_every_reserved_page_left_out_is_nosave_or_non_ram(
    real: tuple[Truth, HibernationImage, Report],
) -> None:
    """saveable_page(): PG_reserved alone never excludes a page; nosave and non-RAM do."""
    truth, img, r = real
    left_out = np.setdiff1d(truth.reserved(), img.pagedir.pfns)
    nosave = {p for a, b in truth.nosave for p in range(a, b + 1)}
    lo, hi = truth.nosave_section
    nosave |= set(range(lo, hi + 1))
    assert set(left_out.tolist()) <= nosave | truth.non_ram_pfns(left_out)
    # and the audit placed the .data..nosave section where kallsyms says it is
    (sm,) = [e for e in to_data(r.evidence)["nosave"] if e["source"] == "System.map"]
    assert sm["ranges"] == [{"start_pfn": lo, "end_pfn": hi}]
    assert truth.kpf[lo] >> np.uint64(KPF_RESERVED) & np.uint64(1)  # reserved, still not saved
    assert lo not in set(img.pagedir.pfns.tolist())


def test_altered_map_flags_exactly_the_redeclared_range(
    real: tuple[Truth, HibernationImage, Report], tmp_path: Path
) -> None:
    """A RAM range of the log redeclared not RAM: exactly the saved PFNs in it are flagged.

    The range is the 16 MiB around the start of the kernel text (always saved).  x86: the
    ``usable`` line is split around a ``reserved`` one; arm64 (no e820): the node range is cut
    so that the range becomes a hole.
    """
    truth, img, _ = real
    lo = truth.kernel_code & ~0xFFFFFF
    hi = lo + 0xFFFFFF
    a, b = next((a, b) for a, b in truth.ram if a <= lo and hi <= b)
    if truth.e820:
        # the line as this kernel printed it (separator and type names differ in 7.x)
        m = re.search(rf"\[mem {a:#018x}-{b:#018x}\](\s+)(usable|System RAM)$", truth.dmesg, re.M)
        assert m is not None
        sep, ram = m.group(1), m.group(2)
        res = "reserved" if ram == "usable" else "device reserved"
        old = m.group(0)
        pieces = (
            ([f"[mem {a:#018x}-{lo - 1:#018x}]{sep}{ram}"] if a < lo else [])
            + [f"[mem {lo:#018x}-{hi:#018x}]{sep}{res}"]
            + ([f"[mem {hi + 1:#018x}-{b:#018x}]{sep}{ram}"] if hi < b else [])
        )
        new = "\n[    0.000000] BIOS-e820: ".join(pieces)
        region = f"reserved {lo:#x}-{hi:#x}"
    else:
        old = next(m.group(0) for m in _NODE.finditer(truth.dmesg) if int(m.group(1), 16) == a)
        assert a == lo and hi < b  # the guest's RAM starts at the kernel's 16 MiB
        new = old.replace(f"{a:#018x}", f"{hi + 1:#018x}")
        region = f"hole {0:#x}-{hi:#x}"
    assert old in truth.dmesg
    altered = tmp_path / "dmesg-altered.txt"
    altered.write_text(truth.dmesg.replace(old, new, 1))
    r = audit(img, maps=[load_memory_map(altered)])
    pfns = img.pagedir.pfns
    want = np.sort(pfns[(pfns >= lo >> truth.shift) & (pfns <= hi >> truth.shift)])
    assert want.size > 0
    assert r.labels is not None and to_data(r.labels)["reserved-non-ram"] == want.size
    (f,) = r.findings_with("saved-non-ram")
    got = np.concatenate([np.arange(x.start_pfn, x.end_pfn + 1) for x in f.ranges])
    assert np.array_equal(got, want)
    assert {x.region for x in f.ranges} == {region}
    assert r.exit_code() == 1
    if truth.e820:
        assert r.map is not None and r.map.checksum_matches_image is False
        assert r.findings_with("map-checksum-mismatch")


def test_iomem_evidence_sees_only_the_kernel_image(
    real: tuple[Truth, HibernationImage, Report],
) -> None:
    """With dmesg + iomem (no kpageflags) reserved-ram is the saved pages the iomem kernel
    sections touch, counted here from iomem.txt with a regex."""
    truth, img, _ = real
    iomem = (truth.dir / "iomem.txt").read_text()
    secs = [
        (int(a, 16), int(b, 16))
        for a, b, name in re.findall(
            r"^\s+([0-9a-f]+)-([0-9a-f]+) : (Kernel \w+|Crash kernel)$", iomem, re.M
        )
    ]
    pfns = img.pagedir.pfns
    hit = np.zeros(pfns.size, dtype=bool)
    for a, b in secs:
        hit |= (pfns >= a >> truth.shift) & (pfns <= b >> truth.shift)
    r = audit(
        img,
        maps=[load_memory_map(truth.dir / "dmesg.txt"), load_memory_map(truth.dir / "iomem.txt")],
        use_image=False,
    )
    assert r.labels is not None and to_data(r.labels)["reserved-ram"] == int(hit.sum()) > 0
    assert to_data(r.evidence)["reserved-ram"]["source"] == "iomem"
    assert r.map is not None
    if truth.e820:  # the log's firmware table is chosen and matches the image's checksum
        assert r.map.format == "dmesg" and r.map.checksum_matches_image
    # iomem's edited page 0 is not a disagreement; a head's zeroed chunk is its only warning
    assert _warnings(r, truth) == []
    assert r.exit_code(strict=True) == (1 if truth.head else 0)
