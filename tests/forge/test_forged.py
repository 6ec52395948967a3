"""Forged images for corner cases no kernel is easily made to write.

Every data page is pattern-filled (``forge.pattern_pages``: the first word of each 64-byte line
of page p is ``p << 32 | w``), so what the reader returns is checked against a computed value,
never eyeballed.
"""

from __future__ import annotations

import gzip
import json
import lzma
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import zstandard
from helpers import check_verify, examples, forge_to, pfns, run_cli, slow_but
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swsusp_inspect.errors import NotAnImageError
from swsusp_inspect.forge.kernel import Forged, pattern_pages
from swsusp_inspect.formats import chunks, swap
from swsusp_inspect.image import HibernationImage, open_image

Forger = Callable[..., Forged]
COMPRESSIONS = ("none", "lzo", "lz4")


def expected_page(pfn: int, zero: bool, page_size: int) -> bytes:
    return bytes(page_size) if zero else pattern_pages(np.array([pfn], np.uint64), page_size)


def check_every_page(
    img: HibernationImage, pfn_arr: np.ndarray, zero: np.ndarray | None, page_size: int
) -> None:
    """read_page of every PFN equals the pattern (zeros for zero pages)."""
    zero_arr = np.zeros(pfn_arr.size, bool) if zero is None else zero
    assert img.pagedir.pfns.tolist() == pfn_arr.tolist()
    assert img.pagedir.zero.tolist() == zero_arr.tolist()
    for pfn, z in zip(pfn_arr.tolist(), zero_arr.tolist(), strict=True):
        assert img.read_page(pfn) == expected_page(pfn, z, page_size), hex(pfn)


# -- compression, zero pages, scattered device pages ------------------------------------------


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("with_zero", [False, True], ids=["no-zero", "zero-pages"])
@pytest.mark.parametrize("scatter", [False, True], ids=["contiguous", "scattered"])
def test_forged_reads_back(
    forged_image: Forger, compression: str, with_zero: bool, scatter: bool
) -> None:
    pfn_arr = np.concatenate([pfns(0x10, 0x60), pfns(0x1000, 0x1030), pfns(0x80000, 0x80003)])
    zero = (pfn_arr % 5 == 0) if with_zero else None
    forged = forged_image(pfns=pfn_arr, zero=zero, compression=compression, scatter=scatter)
    with open_image(forged.path) as img:
        assert (img.container, img.compression, img.page_size) == ("swap", compression, 4096)
        assert (
            img.info.image_pages
            == forged.image_pages
            == pfn_arr.size - (int(zero.sum()) if zero is not None else 0)
        )
        assert img.pagedir.zero_pages == (int(zero.sum()) if zero is not None else 0)
        if scatter:
            assert (np.diff(img.entries.astype(np.int64)) != 1).any()
        else:
            assert (np.diff(img.entries.astype(np.int64)) == 1).all()
        check_every_page(img, pfn_arr, zero, 4096)
        check_verify(img, forged)


@st.composite
def forge_specs(draw: st.DrawFn) -> dict[str, object]:
    values = draw(st.lists(st.integers(0, 2**36), min_size=1, max_size=120, unique=True))
    pfn_arr = np.array(sorted(values), np.uint64)
    zero = np.array(
        draw(st.lists(st.booleans(), min_size=pfn_arr.size, max_size=pfn_arr.size)), bool
    )
    if zero.all():
        zero[0] = False  # at least one data page keeps the chunk maths non-trivial
    return {
        "pfns": pfn_arr,
        "zero": zero if draw(st.booleans()) else None,
        "compression": draw(st.sampled_from(COMPRESSIONS)),
        "scatter": draw(st.booleans()),
    }


@given(spec=forge_specs())
@settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_forged_property(tmp_path: Path, spec: dict[str, object]) -> None:
    forged = forge_to(tmp_path, "prop", **spec)
    zero = spec["zero"]
    assert zero is None or isinstance(zero, np.ndarray)
    pfn_arr = spec["pfns"]
    assert isinstance(pfn_arr, np.ndarray)
    with open_image(forged.path) as img:
        check_every_page(img, pfn_arr, zero, 4096)
        check_verify(img, forged)


def test_only_zero_pages(forged_image: Forger) -> None:
    # every saved page was zero (6.6+): the stream is swsusp_info + metadata only
    pfn_arr = pfns(0x200, 0x220)
    forged = forged_image(pfns=pfn_arr, zero=np.ones(pfn_arr.size, bool))
    with open_image(forged.path) as img:
        assert img.info.image_pages == 0
        check_every_page(img, pfn_arr, np.ones(pfn_arr.size, bool), 4096)
        check_verify(img, forged)


# -- the PFN directory exactly filling its last page --------------------------------------------


# the compressed stream with LZ4 by default (LZO's compressor takes ~18 ms a chunk): -m slow
@pytest.mark.parametrize("compression", slow_but(COMPRESSIONS, {"none", "lz4"}))
@pytest.mark.parametrize("n_meta", [1, 2])
def test_pfn_directory_exactly_full(forged_image: Forger, compression: str, n_meta: int) -> None:
    n = 512 * n_meta  # 4096 / sizeof(long): no room for BM_END_OF_MAP
    pfn_arr = pfns(0x1000, 0x1000 + n)
    zero = pfn_arr % 7 == 3
    forged = forged_image(pfns=pfn_arr, zero=zero, compression=compression)
    assert forged.meta_pages == n_meta
    with open_image(forged.path) as img:
        assert img.meta_pages == n_meta
        assert img.pagedir.terminated is False
        assert img.pagedir.saved_pfns == n
        check_every_page(img, pfn_arr, zero, 4096)
        check_verify(img, forged)


def test_pfn_directory_one_short_of_full_is_terminated(forged_image: Forger) -> None:
    forged = forged_image(pfns=pfns(0, 511))
    with open_image(forged.path) as img:
        assert img.meta_pages == 1
        assert img.pagedir.terminated is True


# -- page sizes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page_size", "compression"),
    [  # LZO at 64 KiB: -m slow
        pytest.param(
            p, c, id=f"{c}-{p}", marks=pytest.mark.slow if (c, p) == ("lzo", 65536) else ()
        )
        for p in (16384, 65536)
        for c in COMPRESSIONS
    ],
)
def test_large_pages(forged_image: Forger, page_size: int, compression: str) -> None:
    pfn_arr = np.concatenate([pfns(0x40, 0x70), pfns(0x900, 0x905)])
    zero = pfn_arr % 6 == 0
    forged = forged_image(
        pfns=pfn_arr, zero=zero, page_size=page_size, compression=compression, scatter=True
    )
    with open_image(forged.path) as img:
        assert img.page_size == page_size
        assert img.header is not None
        assert img.header.offset == 0
        if compression != "none":
            assert chunks.unc_size(page_size) == 32 * page_size
        check_every_page(img, pfn_arr, zero, page_size)
        check_verify(img, forged)


# -- the /dev/snapshot stream container ----------------------------------------------------------


@pytest.mark.parametrize("page_size", [4096, 16384])
@pytest.mark.parametrize("with_zero", [False, True], ids=["no-zero", "zero-pages"])
def test_stream_container(forged_image: Forger, page_size: int, with_zero: bool) -> None:
    pfn_arr = np.concatenate([pfns(0x10, 0x50), pfns(0x7000, 0x7010)])
    zero = (pfn_arr % 4 == 1) if with_zero else None
    forged = forged_image(pfns=pfn_arr, zero=zero, page_size=page_size, stream=True)
    assert os.path.getsize(forged.path) == forged.pages * page_size
    with open_image(forged.path) as img:
        assert (img.container, img.header, img.page_size) == ("stream", None, page_size)
        check_every_page(img, pfn_arr, zero, page_size)
        check_verify(img, forged)


# -- resume offset, trimmed and padded files -----------------------------------------------------


@pytest.mark.parametrize("compression", ["none", "lzo"])
def test_resume_offset(forged_image: Forger, compression: str) -> None:
    pfn_arr = pfns(0x100, 0x140)
    forged = forged_image(pfns=pfn_arr, compression=compression, resume_offset=37, scatter=True)
    with pytest.raises(NotAnImageError):
        open_image(forged.path).close()
    with open_image(forged.path, resume_offset=37) as img:
        assert img.header is not None
        assert img.header.offset == 37 * 4096
        # pointers count from the start of the device, not of the swap area
        assert int(img.entries.min()) > 37
        check_every_page(img, pfn_arr, None, 4096)
        check_verify(img, forged)
    result = run_cli("info", "--json", "--resume-offset", "37", forged.path)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["header"]["offset"] == 37 * 4096
    assert doc["image_pages"] == pfn_arr.size


@pytest.mark.parametrize("compression", ["none", "lzo"])
def test_trimmed_and_padded_files(forged_image: Forger, compression: str) -> None:
    pfn_arr = pfns(0x300, 0x360)
    trimmed = forged_image("trimmed", pfns=pfn_arr, compression=compression, device_pages=4000)
    padded = forged_image(
        "padded", pfns=pfn_arr, compression=compression, device_pages=4000, trim=False
    )
    with open_image(trimmed.path) as img:
        last_used = max(int(img.entries.max()), *img.map_pages)
    assert os.path.getsize(trimmed.path) == (last_used + 1) * 4096  # ends after the data
    assert os.path.getsize(padded.path) == 4000 * 4096
    for forged in (trimmed, padded):
        with open_image(forged.path) as img:
            assert img.device_pages == 4000
            check_every_page(img, pfn_arr, None, 4096)
            check_verify(img, forged)


def test_file_ending_inside_a_trimmed_page_keeps_its_bytes(
    forged_image: Forger, tmp_path: Path
) -> None:
    # a dump trimmed after its last non-zero page reads the missing pages as zeros; a page the
    # file ends inside keeps the bytes that are there
    pfn_arr = pfns(0x10, 0x30)
    forged = forged_image(pfns=pfn_arr, compression="none")
    data = Path(forged.path).read_bytes()
    cut = tmp_path / "cut"
    cut.write_bytes(data[: len(data) - 1000])
    with open_image(cut) as img:
        last = img.read_page(int(pfn_arr[-1]))
    want = expected_page(int(pfn_arr[-1]), False, 4096)
    assert last[:-1000] == want[:-1000]
    assert last[-1000:] == bytes(1000)


# -- other header variants ---------------------------------------------------------------------


def test_linhib0001_signature(forged_image: Forger) -> None:
    # the 2.6.37 development signature, with the released layout
    forged = forged_image(sig=b"LINHIB0001", compression="lzo")
    with open_image(forged.path) as img:
        assert img.header is not None
        assert img.header.sig == "LINHIB0001"
        check_verify(img, forged)


def test_2_6_20_header_layout(forged_image: Forger, tmp_path: Path) -> None:
    # 2.6.20-2.6.22: sector_t image at N-28, no flags (so no compression)
    pfn_arr = pfns(0x20, 0x60)
    forged = forged_image(pfns=pfn_arr, compression="none", scatter=True)
    data = bytearray(Path(forged.path).read_bytes())
    last_page = int.from_bytes(data[0x404:0x408], "little")
    data[:4096] = swap.build_header(
        4096, image=forged.map_pages[0], last_page=last_page, layout="2.6.20-2.6.22"
    )
    old = tmp_path / "old"
    old.write_bytes(bytes(data))
    with open_image(old) as img:
        assert img.header is not None
        assert (img.header.layout, img.header.image, img.header.flags) == (
            "2.6.20-2.6.22",
            forged.map_pages[0],
            None,
        )
        assert img.compression == "none"
        check_every_page(img, pfn_arr, None, 4096)


# -- compressed transports -------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["xz", "gzip", "zstd"])
def test_compressed_copies_open_directly(
    forged_image: Forger, tmp_path: Path, transport: str
) -> None:
    pfn_arr = pfns(0x100, 0x150)
    zero = pfn_arr % 3 == 0
    forged = forged_image(pfns=pfn_arr, zero=zero, compression="lz4", device_pages=3000, trim=False)
    raw = Path(forged.path).read_bytes()
    packed = {
        "xz": lambda b: lzma.compress(b, preset=0),
        "gzip": lambda b: gzip.compress(b, 1),
        "zstd": lambda b: zstandard.ZstdCompressor(level=1).compress(b),
    }[transport](raw)
    copy = tmp_path / f"image.{transport}"
    copy.write_bytes(packed)
    with open_image(copy) as img:
        assert img.source.transport == transport
        assert img.file_size == len(raw)
        check_every_page(img, pfn_arr, zero, 4096)
        check_verify(img, forged)
    result = run_cli("verify", "--json", str(copy))
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["transport"] == transport


# -- extract ---------------------------------------------------------------------------------


def _holes_supported(directory: Path) -> bool:
    probe = directory / "hole-probe"
    with open(probe, "wb") as f:
        f.truncate(1 << 20)
        f.seek(1 << 19)
        f.write(b"x")
    fd = os.open(probe, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_DATA) > 0
    except OSError:
        return False
    finally:
        os.close(fd)
        probe.unlink()


def _is_hole(fd: int, offset: int, length: int) -> bool:
    try:
        return os.lseek(fd, offset, os.SEEK_DATA) >= offset + length
    except OSError:  # ENXIO: no data after offset
        return True


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_extract_places_pages_and_leaves_holes(
    forged_image: Forger, tmp_path: Path, compression: str
) -> None:
    pfn_arr = np.concatenate([pfns(0x10, 0x40), pfns(0x400, 0x420)])
    zero = pfn_arr % 4 == 0
    forged = forged_image(pfns=pfn_arr, zero=zero, compression=compression, scatter=True)
    out = tmp_path / "memory.raw"
    result = run_cli("extract", "--json", forged.path, "-o", str(out))
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["pages_written"] == int((~zero).sum())
    assert doc["zero_pages"] == int(zero.sum())
    size = (int(pfn_arr.max()) + 1) * 4096
    assert out.stat().st_size == doc["size"] == size
    data = out.read_bytes()
    saved = set(pfn_arr.tolist())
    for pfn in range(size // 4096):
        page = data[pfn * 4096 : (pfn + 1) * 4096]
        if pfn in saved and not zero[pfn_arr.tolist().index(pfn)]:
            assert page == expected_page(pfn, False, 4096), hex(pfn)
        else:
            assert page == bytes(4096), hex(pfn)
    if not _holes_supported(tmp_path):
        pytest.skip("filesystem reports no holes (SEEK_DATA)")
    fd = os.open(out, os.O_RDONLY)
    try:
        for pfn in pfn_arr[zero].tolist():
            assert _is_hole(fd, pfn * 4096, 4096), f"zero page {pfn:#x} was written"
        assert _is_hole(fd, 0x100 * 4096, 0x100 * 4096)  # never saved: a hole too
    finally:
        os.close(fd)


def test_info_json_carries_the_numbers(forged_image: Forger) -> None:
    pfn_arr = pfns(0x500, 0x580)
    zero = pfn_arr % 8 == 0
    forged = forged_image(pfns=pfn_arr, zero=zero, compression="lz4")
    result = run_cli("info", "--json", forged.path)
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["container"], doc["compression"], doc["page_size"], doc["word_size"]) == (
        "swap",
        "lz4",
        4096,
        8,
    )
    assert (
        doc["image_pages"],
        doc["pages"],
        doc["meta_pages"],
        doc["saved_pfns"],
        doc["zero_pages"],
        doc["pfn_min"],
        doc["pfn_max"],
    ) == (
        forged.image_pages,
        forged.pages,
        forged.meta_pages,
        pfn_arr.size,
        int(zero.sum()),
        0x500,
        0x57F,
    )
    assert doc["crc32"]["stored"] == forged.crc32
