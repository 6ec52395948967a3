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

from swsusp_inspect.extract import extract_raw
from swsusp_inspect.image import HibernationImage, best_banner, open_image
from swsusp_inspect.summary import summarize
from swsusp_inspect.symbols import SystemMap, load_system_map

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
REAL = sorted(p.parent.name for p in SAMPLES.glob("deb*/swap.img.xz"))


def test_real_samples_present() -> None:
    # the three the reader issue asks for: 6.1 LZO, 6.1 nocompress, 6.12 LZ4 with zero pages
    assert {"deb12-6.1-lzo", "deb12-6.1-nocompress", "deb13-6.12-lz4"} <= set(REAL)


class Sample:
    def __init__(self, name: str) -> None:
        self.name = name
        self.dir = SAMPLES / name
        self.console = (self.dir / "console.log").read_text(errors="replace")
        self.provenance = json.loads((self.dir / "provenance.json").read_text())
        self.markers = json.loads((self.dir / "markers.json").read_text())
        self.image: HibernationImage = open_image(self.dir / "swap.img.xz")
        self._smap: SystemMap | None = None

    @property
    def system_map(self) -> SystemMap:
        if self._smap is None:
            self._smap = load_system_map(SAMPLES / self.provenance["system_map"])
        return self._smap

    def log_counts(self) -> tuple[int, int, int]:
        """(pages copied, zero pages, pages written) as the kernel logged them."""
        m = re.search(r"Image created \((\d+) pages copied(?:, (\d+) zero pages)?\)", self.console)
        assert m, "console.log lacks the 'Image created' line"
        w = re.search(r"(?:Compressing and saving image data|Saving image data pages) "
                      r"\((\d+) pages\)", self.console)
        assert w, "console.log lacks the 'image data (N pages)' line"
        return int(m.group(1)), int(m.group(2) or 0), int(w.group(1))


@pytest.fixture(scope="module", params=REAL)
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
    # the PFN directory covers every listed PFN, zero pages included (6.6+)
    assert img.meta_pages == -(-(copied + zero) * 8 // img.page_size)


def test_expected_flags_and_compression(sample: Sample) -> None:
    img = sample.image
    expected = sample.provenance["expectation"]
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
    assert s.banner is not None
    assert s.banner.release == release
    assert s.banner_expected_at is not None
    assert s.banner.physical_address == s.banner_expected_at
    # nokaslr: the image's jump_address is System.map's restore_registers
    assert sample.system_map.matches(sample.image.info.arch) is True
    # found without System.map too, at the same place
    alone = sample.image.find_banner()
    assert alone is not None and alone.physical_address == s.banner_expected_at


def test_arch_record(sample: Sample) -> None:
    arch = sample.image.info.arch
    assert arch is not None and arch.name == "x86_64"
    assert arch.magic == 0x23456789ABCDEF02  # 5.13+ record with the CRC32 e820 checksum
    assert arch.e820_checksum_kind == "crc32"
    # jump_address_phys is __pa_symbol(restore_registers): text is mapped at
    # __START_KERNEL_map + phys (phys_base 0 with nokaslr at the default load address)
    rr = sample.system_map["restore_registers"]
    assert arch.jump_address == rr
    assert arch.jump_address_phys == rr - 0xFFFFFFFF80000000


def test_json_keys(sample: Sample) -> None:
    d = summarize(sample.image, find_banner=False).to_dict()
    for key in ("path", "container", "page_size", "signature", "orig_sig", "flags",
                "compression", "num_physpages", "image_pages", "pages", "meta_pages",
                "saved_pfns", "zero_pages", "pfn_min", "pfn_max", "crc32", "arch", "kernel"):
        assert key in d
    assert d["container"] == "swap" and d["signature"] == "S1SUSPEND"
    assert d["orig_sig"] == "SWAPSPACE2"
    assert d["pfn_min"] == int(sample.image.pagedir.pfns.min())


@pytest.mark.parametrize(("name", "jobs"), [("deb13-6.12-lz4", 1), ("deb12-6.1-lzo", 2)])
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
        with open(out, "rb") as fh:
            for mk in s.markers["markers"]:
                fh.seek(mk["pfn"] * 4096)
                assert hashlib.sha256(fh.read(4096)).hexdigest() == mk["sha256"]
            fh.seek(banner_phys)
            assert fh.read(14) == b"Linux version "
            if s.image.pagedir.zero_pages:
                # a zero page is a hole that reads back as zeros
                zero_pfn = int(s.image.pagedir.pfns[s.image.pagedir.zero][0])
                fh.seek(zero_pfn * 4096)
                assert fh.read(4096) == bytes(4096)
            # every saved page, read back through the reader, is where extract put it
            for pfn in s.image.pagedir.data_pfns[::997].tolist():
                fh.seek(pfn * 4096)
                assert fh.read(4096) == s.image.read_page(pfn)
        assert out.stat().st_size == (int(s.image.pagedir.pfns.max()) + 1) * 4096
        assert out.stat().st_blocks * 512 < out.stat().st_size  # sparse
    finally:
        s.image.close()


def test_zero_pages_only_in_6_6_plus() -> None:
    # 6.1 predates ENCODED_PFN_ZERO_FLAG; 6.12 marks all-zero pages
    for name in REAL:
        with open_image(SAMPLES / name / "swap.img.xz") as img:
            has_zero = bool(np.any(img.pagedir.zero))
            assert has_zero == name.startswith("deb13"), name


def test_parallel_verify_equals_serial(sample: Sample) -> None:
    serial = sample.image.verify(jobs=1)
    parallel = sample.image.verify(jobs=2)
    assert parallel.crc32 == serial.crc32
    assert parallel.stream_pages_read == serial.stream_pages_read
    # the serial sweep stops looking once it has the real banner; both pick the same one
    assert best_banner(parallel.banners) == best_banner(serial.banners) is not None
    assert parallel.ok
