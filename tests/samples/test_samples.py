"""The reader against images written by real Linux kernels (samples/, see samples/README.md).

Every expected number here is read from what the guest kernel itself printed (console.log) or
recorded (markers.json, System.map), never typed in.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    REPEATED_SAMPLES,
    SAMPLES,
    THOROUGH,
    arch_extra,
    kaslr_offset,
    kernel_code_anchor,
    provenance,
    real_samples,
    resume_md5,
    s2disk_stream_pages,
    sample_params,
)

from swsusp_inspect.e820 import load_memory_map
from swsusp_inspect.export.raw import extract_raw
from swsusp_inspect.image import HibernationImage, best_banner, open_image
from swsusp_inspect.inputs.system_map import SystemMap, load_system_map
from swsusp_inspect.model import ArchRecord
from swsusp_inspect.summary import summarize

REAL = real_samples()


# made and resumed like the others, evidence committed, image git-ignored (samples/.gitignore)
NOT_COMMITTED = ("deb12-6.1-i386-lzo", "deb12-6.1-arm64-lzo", "deb12-6.1-uswsusp-lzo",
                 "deb12-6.1-uswsusp-lzo-encrypted", "deb12-6.1-uswsusp-lzo-rsa",
                 "deb12-6.1-i386-uswsusp-lzo", "deb12-6.1-i386-uswsusp-lzo-encrypted",
                 "sid-7-lzo", "deb13-6.12-kaslr-lzo", "deb12-6.1-i386-nonpae-lzo",
                 "deb13-6.12-arm64-16k-lzo")


def test_real_samples_present() -> None:
    # the three the reader issue asks for: 6.1 LZO, 6.1 nocompress, 6.12 LZ4 with zero pages
    assert {"deb12-6.1-lzo", "deb12-6.1-nocompress", "deb13-6.12-lz4"} <= set(REAL)
    for name in NOT_COMMITTED:
        assert (SAMPLES / name / "provenance.json").is_file()


def _git_ignored() -> set[Path]:
    lines = (SAMPLES / ".gitignore").read_text().splitlines()
    return {SAMPLES / ln.lstrip("/") for ln in lines if ln and not ln.startswith("#")}


def test_committed_samples_stay_under_40_mib() -> None:
    ignored = _git_ignored()

    def system_map(name: str) -> Path:
        return SAMPLES / provenance(name)["system_map"]

    committed_maps = {system_map(p.parent.name) for p in SAMPLES.glob("*/provenance.json")
                      if p.parent.name not in NOT_COMMITTED}
    for name in NOT_COMMITTED:
        assert SAMPLES / name / "swap.img.xz" in ignored
        # its System.map too, unless a committed sample ran the same kernel
        assert (system_map(name) in ignored) is (system_map(name) not in committed_maps)
    committed = [p for p in SAMPLES.rglob("*")
                 if p.is_file() and p not in ignored and "__pycache__" not in p.parts]
    assert sum(p.stat().st_size for p in committed) < 40 * 2**20


@pytest.mark.parametrize("name", sample_params(REAL))
def test_image_is_the_documented_one(name: str) -> None:
    digest = hashlib.sha256((SAMPLES / name / "swap.img.xz").read_bytes()).hexdigest()
    assert digest == provenance(name)["swap_img_xz_sha256"]


class Sample:
    def __init__(self, name: str) -> None:
        self.name = name
        self.dir = SAMPLES / name
        self.console = (self.dir / "console.log").read_text(errors="replace")
        self.resume_log = (self.dir / "resume.log").read_text(errors="replace")
        self.provenance = provenance(name)
        self.markers = json.loads((self.dir / "markers.json").read_text())
        self.arch: str = self.provenance["arch"]  # Debian's name: amd64, i386, arm64
        # who wrote the image: the kernel (S1SUSPEND) or suspend-utils' s2disk (ULSUSPEND)
        self.writer: str = self.provenance.get("writer", "kernel")
        self.passphrase: str | None = self.provenance.get("passphrase")  # encrypted s2disk
        self.kaslr_offset = kaslr_offset(self.provenance)
        self.image: HibernationImage = open_image(self.dir / "swap.img.xz",
                                                  passphrase=self.passphrase)
        self._smap: SystemMap | None = None

    @property
    def system_map(self) -> SystemMap:
        if self._smap is None:
            self._smap = load_system_map(SAMPLES / self.provenance["system_map"])
        return self._smap

    def log_counts(self) -> tuple[int, int, int]:
        """(pages copied, zero pages, stream pages written after swsusp_info) as logged:
        the kernel's swap.c logs ``nr_to_write`` = pages - 1; s2disk logs the whole stream
        it read from /dev/snapshot (``Saving N image data pages``, swsusp_info included)."""
        m = re.search(r"Image created \((\d+) pages copied(?:, (\d+) zero pages)?\)", self.console)
        assert m, "console.log lacks the 'Image created' line"
        if self.writer == "uswsusp":
            return (int(m.group(1)), int(m.group(2) or 0),
                    s2disk_stream_pages(self.console) - 1)
        w = re.search(r"(?:Compressing and saving image data|Saving image data pages) "
                      r"\((\d+) pages\)", self.console)
        assert w, "console.log lacks the 'image data (N pages)' line"
        return int(m.group(1)), int(m.group(2) or 0), int(w.group(1))


@pytest.fixture(scope="module", params=sample_params(REAL))
def sample(request: pytest.FixtureRequest) -> Sample:
    s = Sample(request.param)
    request.addfinalizer(s.image.close)
    return s


def test_counts_equal_kernel_log(sample: Sample) -> None:
    copied, zero, written = sample.log_counts()
    img = sample.image
    assert img.info.image_pages == copied
    assert img.pagedir.zero_pages == zero
    assert img.pagedir.saved_pfns == copied + zero
    # swap.c logs nr_to_write = snapshot_get_image_size() - 1 = pages - 1 (header page excluded)
    assert img.info.pages - 1 == written
    # the PFN directory covers every listed PFN, zero pages included (6.6+), one C long each
    word = {"amd64": 8, "arm64": 8, "i386": 4}[sample.arch]
    assert img.word_size == word
    assert img.meta_pages == -(-(copied + zero) * word // img.page_size)


def test_expected_flags_and_compression(sample: Sample) -> None:
    img = sample.image
    expected = sample.provenance["expectation"]
    if expected.startswith("uswsusp-lzo"):
        # s2disk's own header, not the kernel's: LZO in userland and an MD5 of the stream
        d = img.details
        assert (img.era, d["signature"], d["orig_sig"]) == ("uswsusp", "ULSUSPEND", "SWAPSPACE2")
        mode = {"uswsusp-lzo": None, "uswsusp-lzo-encrypted": "blowfish-cfb/passphrase",
                "uswsusp-lzo-rsa": "blowfish-cfb/rsa"}[expected]
        assert d["flag_names"] == ["IMAGE_CHECKSUM", "IMAGE_COMPRESSED"] + (
            ["IMAGE_ENCRYPTED"] if mode else []) + (["IMAGE_USE_RSA"] if expected.endswith(
                "rsa") else [])
        name, sizes = ("i386", (52, 2416)) if sample.arch == "i386" else ("x86_64", (64, 2432))
        assert d["header_layout"] == (f"{name} with CONFIG_ENCRYPT ({sizes[1]} bytes)" if mode
                                      else f"{name} without CONFIG_ENCRYPT ({sizes[0]} bytes)")
        # the stream read back is the kernel's raw one; the LZO was s2disk's
        assert (img.compression, d["compression"], d["encryption"]) == ("none", "lzo", mode)
        assert d["image"] == sample.provenance["on_disk"]["image_byte_offset"]
        assert img.header is None  # no kernel swsusp_header on this device
        return
    if expected == "nocompress":
        assert img.compression == "none"
        assert img.header is not None and "SF_NOCOMPRESS_MODE" in img.header.flag_names
        assert img.header.crc32 is None
    else:
        assert img.compression == expected
        assert img.header is not None and "SF_CRC32_MODE" in img.header.flag_names


def test_verify_crc32(sample: Sample) -> None:
    result = sample.image.verify()
    assert result.ok
    assert result.stream_pages_read == sample.image.info.pages - 1
    if sample.writer == "uswsusp":
        # the MD5 that suspend-utils' resume printed when it loaded this image
        md5 = resume_md5(sample.resume_log)
        assert sample.image.details.checksum == {"kind": "md5", "stored": md5,
                                                    "computed": md5, "ok": True}
        return
    if sample.image.compression != "none":
        assert result.crc32.stored is not None
        assert result.crc32.computed == result.crc32.stored


def test_markers_at_their_pfns(sample: Sample) -> None:
    img = sample.image
    for mk in sample.markers["markers"]:
        page = img.read_page(mk["pfn"])
        assert hashlib.sha256(page).hexdigest() == mk["sha256"], mk
        # and the content is the documented fill, computed independently of markers.json
        i = mk["index"]
        assert page == (b"SWSUSPMARK%04d__" % i) * (img.page_size // 16)


def test_banner_at_linux_banner(sample: Sample) -> None:
    s = summarize(sample.image, system_map=sample.system_map)
    release = sample.provenance["kernel_release"]
    assert s.kernel.banner is not None
    assert s.kernel.release == release
    assert s.kernel.expected_physical_address is not None
    assert s.kernel.physical_address == s.kernel.expected_physical_address
    # the image's jump_address is System.map's restore_registers unless KASLR slid it
    assert sample.system_map.matches(sample.image.info.arch) is (sample.kaslr_offset == 0)
    # found without System.map too, at the same place
    alone = sample.image.find_banner()
    assert alone is not None and alone.physical_address == s.kernel.expected_physical_address


def test_arch_record(sample: Sample) -> None:
    arch = sample.image.info.arch
    smap = sample.system_map
    assert arch is not None
    assert smap.matches(arch) is (sample.kaslr_offset == 0)
    if sample.arch == "arm64":
        _arm64_record(sample, arch)
        return
    # x86: the restore record; 5.13+ carries the CRC32 of the firmware e820 table
    assert arch.name == {"amd64": "x86_64", "i386": "i386"}[sample.arch]
    assert arch.magic == {"amd64": 0x23456789ABCDEF02, "i386": 0x12345679}[sample.arch]
    assert arch.e820_checksum_kind == "crc32"
    assert arch.e820_checksum == load_memory_map(sample.dir / "dmesg.txt").checksum_crc32()
    # jump_address is restore_registers' virtual address, slid by KASLR (the offset the
    # generator read off the guest's kallsyms); jump_address_phys its __pa_symbol(), and
    # iomem's "Kernel code" starts at __pa_symbol(_text) (arch/x86/kernel/setup.c)
    rr = smap["restore_registers"]
    assert arch.jump_address == rr + sample.kaslr_offset
    code = next(r for r in load_memory_map(sample.dir / "iomem.txt").reserved_ram_evidence
                if r.label == "Kernel code")
    assert arch.jump_address_phys == code.start + rr - smap["_text"]
    if sample.kaslr_offset == 0:
        # text is mapped at __START_KERNEL_map + phys on x86_64 (phys_base 0 at the default
        # load address) and at PAGE_OFFSET + phys on i386 (3G/1G split)
        base = {"amd64": 0xFFFFFFFF80000000, "i386": 0xC0000000}[sample.arch]
        assert arch.jump_address_phys == rr - base


def _arm64_record(sample: Sample, arch: ArchRecord) -> None:
    smap = sample.system_map
    assert (arch.name, arch.magic, arch.e820_checksum) == ("arm64", None, None)
    x = arch_extra(arch)
    banner = re.search(r"Linux version (\S+) \(.*\) (#1 .*)$", sample.console, re.M)
    assert banner is not None
    assert x["uts_version"] == banner.group(2)  # init_utsname()->version, `uname -v`
    # ttbr1_el1 = __pa_symbol(swapper_pg_dir); iomem's "Kernel code" starts at _stext (6.1)
    # or _text (later)
    assert smap.physical("swapper_pg_dir", arch) == x["ttbr1_el1"]
    code = next(r for r in load_memory_map(sample.dir / "iomem.txt").reserved_ram_evidence
                if r.label == "Kernel code")
    anchor = kernel_code_anchor("arm64", (sample.dir / "iomem.txt").read_text(), smap.symbols)
    assert smap.physical(anchor, arch) == code.start
    assert x["reenter_kernel"] == smap["_cpu_resume"] + sample.kaslr_offset  # its VA


def test_json_keys(sample: Sample) -> None:
    d = summarize(sample.image, find_banner=False).to_dict()
    for key in ("path", "container", "page_size", "signature", "orig_sig", "flags",
                "compression", "num_physpages", "image_pages", "pages", "meta_pages",
                "saved_pfns", "zero_pages", "pfn_min", "pfn_max", "crc32", "arch", "kernel"):
        assert key in d
    if sample.writer == "uswsusp":  # the kernel stream inside s2disk's container
        assert (d["container"], d["era"], d["details"]["signature"]) == (
            "stream", "uswsusp", "ULSUSPEND")
    else:
        assert d["container"] == "swap" and d["signature"] == "S1SUSPEND"
        assert d["orig_sig"] == "SWAPSPACE2"
    assert d["pfn_min"] == int(sample.image.pagedir.pfns.min())


@pytest.mark.slow  # a whole-image sweep per sample, with worker processes
@pytest.mark.parametrize(("name", "jobs"), [
    (name, 2 if i % 2 else 1) for i, name in enumerate(n for n in REAL if "nocompress" not in n)])
def test_extract_places_pages_at_physical_addresses(name: str, jobs: int,
                                                    tmp_path: Path) -> None:
    s = Sample(name)
    try:
        out = tmp_path / "phys.raw"
        res = extract_raw(s.image, out, jobs=jobs)
        assert res.pages_written == s.image.info.image_pages
        smap = s.system_map
        banner_phys = smap.physical("linux_banner", s.image.info.arch)
        assert banner_phys is not None
        n = s.image.page_size
        with open(out, "rb") as fh:
            for mk in s.markers["markers"]:
                fh.seek(mk["pfn"] * n)
                assert hashlib.sha256(fh.read(n)).hexdigest() == mk["sha256"]
            fh.seek(banner_phys)
            assert fh.read(14) == b"Linux version "
            if s.image.pagedir.zero_pages:
                # a zero page is a hole that reads back as zeros
                zero_pfn = int(s.image.pagedir.pfns[s.image.pagedir.zero][0])
                fh.seek(zero_pfn * n)
                assert fh.read(n) == bytes(n)
            # every saved page, read back through the reader, is where extract put it
            for pfn in s.image.pagedir.data_pfns[::997].tolist():
                fh.seek(pfn * n)
                assert fh.read(n) == s.image.read_page(pfn)
        assert out.stat().st_size == (int(s.image.pagedir.pfns.max()) + 1) * n
        assert out.stat().st_blocks * 512 < out.stat().st_size  # sparse
    finally:
        s.image.close()


def test_zero_pages_only_in_6_6_plus() -> None:
    # 6.1 predates ENCODED_PFN_ZERO_FLAG; 6.12 and 7.x mark all-zero pages
    for name in (n for n in REAL if THOROUGH or n not in REPEATED_SAMPLES):
        s = Sample(name)
        major, minor = map(int, s.provenance["kernel_release"].split(".")[:2])
        with s.image as img:
            assert bool(np.any(img.pagedir.zero)) == ((major, minor) >= (6, 6)), name


@pytest.mark.slow  # two whole-image sweeps per sample, one with worker processes
def test_parallel_verify_equals_serial(sample: Sample) -> None:
    serial = sample.image.verify(jobs=1)
    parallel = sample.image.verify(jobs=2)
    assert parallel.crc32 == serial.crc32
    assert parallel.stream_pages_read == serial.stream_pages_read
    # the serial sweep stops looking once it has the real banner; both pick the same one
    assert best_banner(parallel.banners) == best_banner(serial.banners) is not None
    assert parallel.ok
