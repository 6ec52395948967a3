"""Forged legacy images of every era and word size: reading, CLI, and bad input.

Forged images test the reader on many shapes (scattered slots, several pagedir and map pages,
both word sizes, encodings, swap types, encryption); ``test_legacy_structs.py`` holds the
hand-written images that tie the shapes to the kernel sources.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import assert_error_line, examples, run_cli, slow_but
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from swsusp_inspect.errors import SwsuspError, UnsupportedFormatError
from swsusp_inspect.forge.kernel import pattern_pages
from swsusp_inspect.forge.legacy import ForgedLegacy, LegacySpec, forge_legacy
from swsusp_inspect.formats import legacy as lg
from swsusp_inspect.image import open_image
from swsusp_inspect.model import to_data
from swsusp_inspect.summary import summarize

N = 4096
# low memory, a kernel, and a run crossing pbe/map page boundaries
PFNS = np.unique(
    np.concatenate(
        [np.arange(1, 0x40), np.arange(0x100, 0x100 + 300), np.arange(0x2000, 0x2000 + 40)]
    )
).astype(np.uint64)

ERA_NAME = {
    "patch": lg.ERA_LINK_PATCH,
    "link26": lg.ERA_LINK_26,
    "pmdisk": lg.ERA_PMDISK,
    "pbe": lg.ERA_PBE,
    "2.6.16": lg.ERA_2616,
    "2.6.17": lg.ERA_2617_VA,
    "2.6.19": lg.ERA_2619,
}
# every era in every word size x86 used (the 2.4 patch was i386 only; 64-bit 2.6.19 is the
# 2.6.20+ layout, tested below)
ERAS = [
    ("patch", 4),
    ("link26", 4),
    ("link26", 8),
    ("pmdisk", 4),
    ("pmdisk", 8),
    ("pbe", 4),
    ("pbe", 8),
    ("2.6.16", 4),
    ("2.6.16", 8),
    ("2.6.17", 4),
    ("2.6.17", 8),
    ("2.6.19", 4),
]
IDS = [f"{e}-{w * 8}" for e, w in ERAS]


def forge(tmp_path: Path, era: str, w: int, name: str = "img", **kw: Any) -> ForgedLegacy:
    kw.setdefault("pfns", PFNS)
    return forge_legacy(LegacySpec(era, word_size=w, **kw), tmp_path / name)


def put_word(path: str, offset: int, value: int, w: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(value.to_bytes(w, "little"))


def word(path: str, offset: int, w: int) -> int:
    with open(path, "rb") as f:
        f.seek(offset)
        return int.from_bytes(f.read(w), "little")


def cut(path: str, size: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


# -- reading ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("scatter", [False, True], ids=["in-order", "scattered"])
@pytest.mark.parametrize(("era", "w"), ERAS, ids=IDS)
def test_every_era_reads(tmp_path: Path, era: str, w: int, scatter: bool) -> None:
    f = forge(tmp_path, era, w, scatter=scatter)
    with open_image(f.path) as img:
        assert img.era == ERA_NAME[era]
        assert img.word_size == w
        assert img.compression == "none"
        assert img.pagedir.pfns.tolist() == PFNS.tolist()
        assert img.info.image_pages == PFNS.size
        s = summarize(img, verify=True, find_banner=False)
        assert s.integrity.verify_ok and s.integrity.verified and s.integrity.crc32.stored is None
        assert s.stream.pages == PFNS.size + 1 + img.meta_pages
        for pfn in (1, 0x100, 0x100 + 255, 0x2000 + 39):
            assert img.read_page(pfn) == pattern_pages(np.array([pfn], np.uint64))
        got = b"".join(bytes(d) for _, d in img.iter_data_pages())
        assert got == pattern_pages(PFNS)


@pytest.mark.parametrize(("era", "w"), slow_but(ERAS, {"link26-32", "2.6.16-64"}, IDS))
def test_cli_every_command(tmp_path: Path, era: str, w: int) -> None:
    f = forge(tmp_path, era, w)
    r = run_cli("info", "--json", f.path)
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert (doc["era"], doc["saved_pfns"], doc["compression"]) == (ERA_NAME[era], PFNS.size, "none")
    assert doc["details"]["verify"].startswith("no checksum")
    r = run_cli("verify", "--json", f.path)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["verify_ok"] is True
    out = tmp_path / "phys.raw"
    r = run_cli("extract", "--json", "-o", str(out), f.path)
    assert r.exit_code == 0, r.stderr
    raw = np.fromfile(out, np.uint8)
    assert raw.size == (int(PFNS.max()) + 1) * N
    pages = raw.reshape(-1, N)[PFNS.astype(np.int64)]
    assert pages.tobytes() == pattern_pages(PFNS)
    r = run_cli("audit", "--json", f.path)
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["pfns"]["saved"] == PFNS.size


def test_64bit_2619_is_the_2620_layout(tmp_path: Path) -> None:
    # swp_entry_t of type 0 == the 2.6.20 sector_t, unsigned long map == sector_t map, PFNs
    f = forge(tmp_path, "2.6.19", 8)
    with open_image(f.path) as img:
        assert img.era == "2.6.20+"
        assert img.pagedir.pfns.tolist() == PFNS.tolist()


def test_i386_2620_without_lbd(tmp_path: Path) -> None:
    # 2.6.20-2.6.22 on i386 without CONFIG_LBD: sector_t is 4 bytes, the 2.6.19 layout
    f = forge(tmp_path, "2.6.19", 4, version_code=0x020615)
    with open_image(f.path) as img:
        assert img.era == lg.ERA_2620_S4
        assert img.details.highmem is None  # 2.6.20 lists highmem PFNs


@pytest.mark.parametrize(
    ("era", "encoding", "version", "sig"),
    [
        ("patch", lg.ENC_I386_PTE, 0, "SUSP1R"),
        ("patch", lg.ENC_SWP_ENTRY, 1, "SUSP2R"),  # 2.5.19 - 2.5.47: generic swp_entry_t
        ("link26", lg.ENC_SWP_ENTRY, 0, "S1SUSP"),
    ],
)
def test_link_variants(tmp_path: Path, era: str, encoding: str, version: int, sig: str) -> None:
    f = forge(tmp_path, era, 4, encoding=encoding, swap_version=version, swap_type=3)
    with open_image(f.path) as img:
        assert img.header.sig == sig
        assert img.header.orig_sig == ("SWAP-SPACE" if version == 0 else "SWAPSPACE2")
        assert img.details.link_next_encoding == encoding
        assert img.details.swap_type == 3
        assert img.device_pages is None if version == 0 else img.device_pages == f.device_pages
        assert img.pagedir.pfns.tolist() == PFNS.tolist()


@pytest.mark.parametrize(("era", "w"), [("pbe", 4), ("2.6.16", 8), ("2.6.17", 4)])
def test_swap_type_of_the_resume_device(tmp_path: Path, era: str, w: int) -> None:
    f = forge(tmp_path, era, w, swap_type=2)
    with open_image(f.path) as img:
        assert img.details.swap_type == 2
        assert img.pagedir.pfns.tolist() == PFNS.tolist()


@pytest.mark.parametrize(("era", "w"), [("patch", 4), ("link26", 8), ("pbe", 8), ("2.6.17", 4)])
def test_resume_offset(tmp_path: Path, era: str, w: int) -> None:
    # legacy pointers count from the swap header page (swap-area offsets)
    f = forge(tmp_path, era, w)
    moved = tmp_path / "inside"
    moved.write_bytes(bytes(7 * N) + Path(f.path).read_bytes())
    with open_image(moved, resume_offset=7) as img:
        assert img.era == ERA_NAME[era]
        assert img.read_page(0x100) == pattern_pages(np.array([0x100], np.uint64))
    r = run_cli("verify", "--resume-offset", "7", str(moved))
    assert r.exit_code == 0, r.stderr


# -- PAGE_OFFSET ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("era", "w", "page_offset"),
    [
        ("pbe", 4, 0x78000000),  # VMSPLIT_2G
        ("2.6.17", 4, 0x40000000),  # VMSPLIT_1G
        ("2.6.16", 4, 0xB0000000),  # VMSPLIT_3G_OPT
        ("link26", 8, 1 << 40),  # x86_64 before 2.6.11
        ("pbe", 8, 0xFFFF810000000000),
    ],
)
def test_page_offset_inferred(tmp_path: Path, era: str, w: int, page_offset: int) -> None:
    f = forge(tmp_path, era, w, page_offset=page_offset)
    with open_image(f.path) as img:
        assert img.details.page_offset == page_offset
        assert img.details.page_offset_how == "inferred"
        assert img.pagedir.pfns.tolist() == PFNS.tolist()


def test_page_offset_assumed_without_low_pages(tmp_path: Path) -> None:
    f = forge(tmp_path, "pbe", 4, pfns=np.arange(0x20000, 0x20010, dtype=np.uint64))
    with open_image(f.path) as img:
        assert (img.details.page_offset, img.details.page_offset_how) == (0xC0000000, "assumed")


def test_page_offset_given(tmp_path: Path) -> None:
    f = forge(tmp_path, "pbe", 4, page_offset=0x78000000)
    with open_image(f.path, page_offset=0x78000000) as img:
        assert img.details.page_offset_how == "given"
        assert img.pagedir.pfns.tolist() == PFNS.tolist()
    r = run_cli("info", "--json", "--page-offset", "0x78000000", f.path)
    assert json.loads(r.stdout)["details"]["page_offset"] == 0x78000000
    r = run_cli("audit", "--page-offset", "0xc0000000", f.path)
    assert_error_line(r, "orig_address", "direct map", "0xc0000000")
    r = run_cli("extract", "--page-offset", "nope", "-o", str(tmp_path / "x"), f.path)
    assert r.exit_code == 2 and "is not a number" in r.stderr


def test_x86_64_kernel_text_addresses(tmp_path: Path) -> None:
    # __pa() of an address in the kernel mapping subtracts __START_KERNEL_map
    f = forge(tmp_path, "pbe", 8)
    row = int(np.flatnonzero(PFNS == 0x101)[0])
    put_word(f.path, f.meta_pages[0] * N + row * 32 + 8, 0xFFFFFFFF80000000 + 0x101 * N, 8)
    with open_image(f.path) as img:
        assert img.pagedir.pfns.tolist() == PFNS.tolist()
        assert img.details.kernel_text_addresses == 1


def test_unaligned_address(tmp_path: Path) -> None:
    f = forge(tmp_path, "pbe", 4)
    put_word(f.path, f.meta_pages[0] * N + 3 * 16 + 4, 0xC0004321, 4)
    assert_error_line(run_cli("info", f.path), "pbe 3", "orig_address", "page-aligned")


@pytest.mark.parametrize(
    ("era", "w", "highmem"),
    [
        ("pbe", 4, True),
        ("2.6.16", 4, True),
        ("2.6.17", 4, True),
        ("2.6.19", 4, True),
        ("link26", 4, True),
        ("pmdisk", 4, False),
        ("patch", 4, False),
        ("pbe", 8, False),
    ],
)
def test_highmem_report(tmp_path: Path, era: str, w: int, highmem: bool) -> None:
    f = forge(tmp_path, era, w, num_physpages=0x40000)  # 1 GiB: 0x8000 pages of highmem
    with open_image(f.path) as img:
        if highmem:
            note = to_data(img.details.highmem)
            assert (note["lowmem_end_pfn"], note["highmem_pfns"]) == (0x38000, 0x8000)
            assert note["addressable_by_pfn"] is False
        else:
            assert img.details.highmem is None


# -- encryption (2.6.14-2.6.15) ---------------------------------------------------------------


KEY_IV = bytes(range(7, 71))


@pytest.mark.parametrize("w", [4, 8])
def test_aes(tmp_path: Path, w: int) -> None:
    f = forge(tmp_path, "pbe", w, key_iv=KEY_IV, scatter=True)
    with open_image(f.path) as img:
        assert img.era == lg.ERA_PBE_AES
        enc = to_data(img.details.encryption)
        assert (enc["key"], enc["iv"]) == (KEY_IV[:32].hex(), KEY_IV[32:48].hex())
        assert enc["key_iv_offset"] == N - 20 - w - 64
        assert "in clear" in enc["note"]
        got = b"".join(bytes(d) for _, d in img.iter_data_pages())
        assert got == pattern_pages(PFNS)
        assert img.read_page(0x2000 + 7) == pattern_pages(np.array([0x2007], np.uint64))
    r = run_cli("verify", f.path)
    assert r.exit_code == 0, r.stderr


def test_aes_ciphertext_beyond_the_file(tmp_path: Path) -> None:
    f = forge(tmp_path, "pbe", 4, key_iv=KEY_IV, device_pages=0x1000)
    # pbe 5 names a swap page the device has but the file does not: no zeros to decrypt
    put_word(f.path, f.meta_pages[0] * N + 5 * 16 + 8, 0xF00, 4)
    with open_image(f.path) as img, pytest.raises(SwsuspError, match="encrypted data page"):
        img.read_page(int(PFNS[5]))
    assert_error_line(
        run_cli("verify", f.path), "encrypted data page", "bytes before end", exit_code=2
    )


def test_aes_without_cryptography(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = forge(tmp_path, "pbe", 4, key_iv=KEY_IV)
    monkeypatch.setitem(sys.modules, "cryptography.hazmat.primitives.ciphers", None)
    with pytest.raises(UnsupportedFormatError, match="key and IV in clear"):
        open_image(f.path)
    r = run_cli("info", f.path)
    assert r.exit_code == 2 and "install 'cryptography'" in r.stderr


# -- x86_64 overflow of swsusp_info.pagedir[] --------------------------------------------------


def test_x86_64_pagedir_overflow(tmp_path: Path) -> None:
    # 457 slots reach the disk: more pbe pages than that leave the rest unreachable
    count = 457 * 128 + 300
    pfns = np.arange(0x1000, 0x1000 + count, dtype=np.uint64)
    f = forge(tmp_path, "pbe", 8, pfns=pfns, zero_data=True)
    with open_image(f.path) as img:
        ov = to_data(img.details.pagedir_overflow)
        assert (ov["pagedir_pages"], ov["slots_on_disk"], ov["pbes_unreachable"]) == (460, 457, 300)
        assert img.details.image_pages_declared == count
        assert img.info.image_pages == 457 * 128
        assert img.pagedir.pfns.tolist() == pfns[: 457 * 128].tolist()
        # the kernel's memory is not searched: its 230 MB of holes are forged, not memory
        s = summarize(img, find_banner=False, read_memory=False)
        assert s.directory.saved_pfns == 457 * 128


# -- bad input -------------------------------------------------------------------------------------


def header_ptr_offset(era: str, w: int) -> int:
    return N - w if era in ("patch", "link26") else N - 20 - w


@pytest.mark.parametrize(("era", "w"), ERAS, ids=IDS)
def test_truncated_before_the_first_structure(tmp_path: Path, era: str, w: int) -> None:
    f = forge(tmp_path, era, w)
    cut(f.path, f.top_page * N + 100)
    r = run_cli("info", f.path)
    assert r.exit_code == 2
    if era in ("patch", "link26") and w == 8:
        # only "S1"/"S2" of the signature survive: a broken chain is not recognised
        assert "no hibernation image" in r.stderr
    else:
        assert_error_line(r, "bytes before end of file")


@pytest.mark.parametrize(("era", "w"), ERAS, ids=IDS)
def test_truncated_metadata(tmp_path: Path, era: str, w: int) -> None:
    f = forge(tmp_path, era, w, scatter=True)
    cut(f.path, max(f.stream_meta or f.meta_pages) * N + 8)
    r = run_cli("info", f.path)
    if era in ("patch", "link26") and w == 8 and f.top_page * N + 8 > Path(f.path).stat().st_size:
        assert "no hibernation image" in r.stderr
    else:
        assert_error_line(r, "bytes before end of file")


def data_pointer(f: ForgedLegacy, index: int) -> tuple[int, str]:
    """File offset of the pointer to data page ``index``, and its encoding."""
    w = f.word_size
    if f.era in ("patch", "link26", "pmdisk", "pbe"):
        per = N // (4 * w)
        enc = lg.ENC_I386_PTE if f.era == "patch" else lg.ENC_SWP_ENTRY
        return f.meta_pages[index // per] * N + (index % per) * 4 * w + 2 * w, enc
    per, _ = lg.map_geometry(N, w, "2.6.16" if f.era == "2.6.16" else "2.6.17")
    i = 1 + len(f.stream_meta) + index
    enc = lg.ENC_SWP_ENTRY if f.era == "2.6.16" else lg.ENC_PLAIN
    return f.meta_pages[i // per] * N + (i % per) * w, enc


@pytest.mark.parametrize(("era", "w"), ERAS, ids=IDS)
def test_data_page_past_the_end_of_the_file(tmp_path: Path, era: str, w: int) -> None:
    f = forge(tmp_path, era, w, device_pages=0x1000)
    at, enc = data_pointer(f, 2)
    beyond = Path(f.path).stat().st_size // N + 3
    put_word(f.path, at, lg.swp_entry(beyond, w, enc), w)
    # below the device size: a dump trimmed after its last non-zero page reads zeros
    with open_image(f.path) as img:
        assert img.pages_beyond_eof == 1
        assert img.read_page(int(PFNS[2])) == bytes(N)
    assert run_cli("verify", f.path).exit_code == 0
    put_word(f.path, 0x404, 0, 4)  # forget last_page: now the file is cut short
    # verify reads around the lost data page and names it (exit 1)
    assert_error_line(
        run_cli("verify", f.path),
        "image data page",
        "bytes before end of file",
        "1 saved pages unreadable",
        exit_code=1,
    )


@pytest.mark.parametrize(("era", "w"), [("patch", 4), ("link26", 8), ("link26", 4)])
def test_link_chain_loops(tmp_path: Path, era: str, w: int) -> None:
    f = forge(tmp_path, era, w, pfns=np.arange(1, 600, dtype=np.uint64))
    assert len(f.meta_pages) >= 2
    enc = lg.ENC_I386_PTE if era == "patch" else lg.ENC_SWP_ENTRY
    last = f.meta_pages[-1]
    put_word(f.path, last * N + N - w, lg.swp_entry(last, w, enc), w)
    assert_error_line(run_cli("info", f.path), "link.next", "loops")


@pytest.mark.parametrize(("era", "w"), [("patch", 4), ("link26", 4)])
def test_link_chain_too_short_or_long(tmp_path: Path, era: str, w: int) -> None:
    f = forge(tmp_path, era, w, pfns=np.arange(1, 600, dtype=np.uint64))
    enc = lg.ENC_I386_PTE if era == "patch" else lg.ENC_SWP_ENTRY
    first = f.meta_pages[0]
    put_word(f.path, first * N + N - w, lg.swp_entry(f.top_page, w, enc), w)
    assert_error_line(run_cli("info", f.path), "pagedir page 0", "link.next", "expected 0")
    put_word(f.path, first * N + N - w, 0, w)
    put_word(f.path, f.meta_pages[-1] * N + N - w, 0, w)
    assert_error_line(run_cli("info", f.path), "link.next", "nonzero swap page")


@pytest.mark.parametrize(("era", "w"), [("2.6.16", 4), ("2.6.17", 8), ("2.6.17", 4)])
def test_swap_map_loops(tmp_path: Path, era: str, w: int) -> None:
    f = forge(tmp_path, era, w, pfns=np.arange(1, 1200, dtype=np.uint64))
    assert len(f.meta_pages) >= 2
    layout = "2.6.16" if era == "2.6.16" else "2.6.17"
    _, slot = lg.map_geometry(N, w, layout)
    enc = lg.ENC_SWP_ENTRY if era == "2.6.16" else lg.ENC_PLAIN
    second = f.meta_pages[1]
    put_word(f.path, second * N + slot * w, lg.swp_entry(f.meta_pages[0], w, enc), w)
    assert_error_line(run_cli("info", f.path), "next_swap", "loops")


def test_bad_counts(tmp_path: Path) -> None:
    f = forge(tmp_path, "patch", 4, name="patch")
    put_word(f.path, f.top_page * N + 48, 0x7FFFFFFF, 4)  # num_pbes
    assert_error_line(run_cli("info", f.path), "suspend_header", "num_pbes")
    f = forge(tmp_path, "link26", 4, name="link")
    put_word(f.path, f.top_page * N + 40, 8192, 4)  # page_size
    assert_error_line(run_cli("info", f.path), "suspend_header", "page_size", "0x1000")
    f = forge(tmp_path, "pmdisk", 4, name="pmdisk")
    put_word(f.path, f.top_page * N + 408, 9, 4)  # pagedir_pages
    assert_error_line(run_cli("info", f.path), "pmdisk_info", "pagedir_pages")
    f = forge(tmp_path, "pmdisk", 8, name="pmdisk8")
    put_word(f.path, f.top_page * N + 416, 1 << 40, 8)  # image_pages
    assert_error_line(run_cli("info", f.path), "pmdisk_info", "image_pages")
    f = forge(tmp_path, "2.6.17", 4, name="2617")
    put_word(f.path, f.info_page * N + 408, f.data_pages.__len__() + 9, 4)  # pages
    put_word(f.path, f.info_page * N + 412, (len(f.data_pages) + 9) * N, 4)  # size
    assert_error_line(run_cli("info", f.path), "swsusp_info", "pages")


@pytest.mark.parametrize("w", [4, 8])
def test_pagedir_count_mismatch(tmp_path: Path, w: int) -> None:
    # no layout fits any more, but the header is a legacy one beyond doubt: its own complaint
    f = forge(tmp_path, "pbe", w)
    put_word(f.path, f.top_page * N + (424 if w == 8 else 408), 77, w)  # pagedir_pages
    assert_error_line(run_cli("info", f.path), "swsusp_info", "pagedir_pages", "0x4d")


def test_modern_layout_keeps_its_own_complaint(tmp_path: Path) -> None:
    # an 8-byte header naming a swap map with sized swsusp_info is the 2.6.20+ reader's
    f = forge(tmp_path, "2.6.17", 8)
    put_word(f.path, f.info_page * N + 416, 1 << 40, 8)  # image_pages
    assert_error_line(run_cli("info", f.path), "swsusp_info", "pages")


@pytest.mark.parametrize(("era", "w"), [("patch", 4), ("pmdisk", 8), ("pbe", 4), ("2.6.16", 8)])
def test_data_pointer_beyond_the_device(tmp_path: Path, era: str, w: int) -> None:
    f = forge(tmp_path, era, w)
    if era in ("patch", "pmdisk", "pbe"):
        enc = lg.ENC_I386_PTE if era == "patch" else lg.ENC_SWP_ENTRY
        at = f.meta_pages[0] * N + 2 * 4 * w + 2 * w  # pbe 2 swap_address
        names = ("pbe 2", "swap_address")
    else:
        enc = lg.ENC_SWP_ENTRY
        at = f.meta_pages[0] * N + 5 * w
        names = ("swap map page 0", "entries")
    put_word(f.path, at, lg.swp_entry(f.device_pages + 5, w, enc), w)
    assert_error_line(run_cli("info", f.path), *names, "last_page")
    put_word(f.path, at, 0, w)
    # pbe pointers must be nonzero; a 0 in a swap map ends it (too early)
    assert_error_line(
        run_cli("info", f.path),
        names[0].rstrip(" 0"),
        "nonzero" if era in ("patch", "pmdisk", "pbe") else "more entries",
    )


def test_metadata_garbage_after_the_addresses(tmp_path: Path) -> None:
    f = forge(tmp_path, "2.6.17", 4)
    put_word(f.path, f.stream_meta[0] * N + (PFNS.size + 3) * 4, 0x1234, 4)
    assert_error_line(run_cli("info", f.path), "metadata page 0", f"entry {PFNS.size + 3}")


def test_not_a_link_chain(tmp_path: Path) -> None:
    # "S1SUSP" with a pointer to a page that is no suspend_header: exact complaint
    f = forge(tmp_path, "link26", 4)
    put_word(f.path, N - 4, lg.swp_entry(f.data_pages[0], 4, lg.ENC_SWP_ENTRY), 4)
    assert_error_line(run_cli("info", f.path), "suspend_header", "page_size")


SMALL = np.arange(0x100, 0x100 + 40, dtype=np.uint64)
FUZZ = settings(
    max_examples=examples(15),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _survive(path: Path) -> None:
    try:
        with open_image(path) as img:
            summarize(img, verify=True, find_banner=False)
            if img.pagedir.pfns.size:
                img.read_page(int(img.pagedir.pfns[0]))
    except SwsuspError:
        pass


@pytest.mark.parametrize(("era", "w"), ERAS, ids=IDS)
@given(data=st.data())
@FUZZ
def test_truncate_or_flip_anywhere(tmp_path: Path, era: str, w: int, data: st.DataObject) -> None:
    f = forge(tmp_path, era, w, pfns=SMALL, scatter=True, key_iv=KEY_IV if era == "pbe" else None)
    raw = bytearray(Path(f.path).read_bytes())
    victim = tmp_path / "victim"
    at = data.draw(st.integers(0, len(raw) - 1))
    if data.draw(st.booleans()):
        victim.write_bytes(bytes(raw[:at]))
    else:
        raw[at] ^= data.draw(st.integers(1, 255))
        victim.write_bytes(bytes(raw))
    _survive(victim)
