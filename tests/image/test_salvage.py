"""Salvage: damaged copies of real samples give every other page back intact, the lost named.

Each case extracts the whole damaged sample and compares every page (about 1 CPU-second): by
default a chunk overwritten, the verdicts of verify and audit and the refusals run; the
uncompressed sample, a corrupt chunk under a sound header, a bad map entry, a broken map page,
a broken next_swap and the file cut in half run with ``-m slow`` (the second CI step; cut
files are also read by the forged-image tests of every layout).

Each case damages a copy of a real kernel's image (a chunk overwritten, its data corrupted
under a sound header, a swap-map page overwritten or zeroed, its next_swap broken, the file
cut in half).  The pages that must be lost are computed from the pristine image's own
structures (the strict reader's chunk table, swap map and PFN directory); every other page
must come back byte for byte as the pristine image's strict reading has it.
"""

from __future__ import annotations

import json
import os
import random
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import elf_page, run_cli

from swsusp_inspect.formats import chunks as fchunks
from swsusp_inspect.image import open_image

PER_MAP_PAGE = 511


class Pristine:
    """A real sample's image and what its strict reading says."""

    def __init__(self, image: Path) -> None:
        self.path = image
        self.data = image.read_bytes()
        with open_image(image) as img:
            self.n = img.page_size
            self.compressed = img.compression != "none"
            self.entries = img.entries.astype(np.int64)
            self.map_pages = list(img.map_pages)
            self.data_pfns = img.pagedir.data_pfns.astype(np.int64)
            self.first_stream = 1 + img.meta_pages
            if self.compressed:
                t = img.chunk_table.ensure_all()
                self.first_entry, self.n_pages = t.first_entry.copy(), t.n_pages.copy()
            # the pristine image's saved pages by PFN, read once for every case (the strict
            # reader, which also gives the raw extraction its pages)
            self.order = np.sort(self.data_pfns)
            self.saved = np.empty((self.order.size, self.n), np.uint8)
            for pfns, data in img.iter_data_pages():
                rows = np.searchsorted(self.order, pfns.astype(np.int64))
                self.saved[rows] = np.frombuffer(data, np.uint8).reshape(-1, self.n)

    def chunk_pfns(self, chunks: list[int]) -> set[int]:
        """Data PFNs of the given chunks (32 stream pages each, metadata skipped)."""
        out: set[int] = set()
        for k in chunks:
            lo = max(0, 1 + k * fchunks.UNC_PAGES - self.first_stream)
            hi = max(0, 1 + (k + 1) * fchunks.UNC_PAGES - self.first_stream)
            out |= set(self.data_pfns[lo:hi].tolist())
        return out

    def stream_pfns(self, stream_pages: np.ndarray) -> set[int]:
        d = stream_pages - self.first_stream
        return set(self.data_pfns[d[(d >= 0) & (d < self.data_pfns.size)]].tolist())

    def lost_with_entries(self, bad: np.ndarray) -> set[int]:
        """PFNs whose data sits in the entries marked ``bad`` (a chunk: any of its pages)."""
        if not self.compressed:
            return self.stream_pfns(np.flatnonzero(bad))
        hit = [
            k
            for k, (f, c) in enumerate(zip(self.first_entry, self.n_pages, strict=True))
            if bad[f : f + c].any()
        ]
        return self.chunk_pfns(hit)


@pytest.fixture(
    scope="module",
    params=["deb12-6.1-lzo", pytest.param("deb12-6.1-nocompress", marks=pytest.mark.slow)],
)
def pristine(request: pytest.FixtureRequest, plain_sample: Callable[[str], Path]) -> Pristine:
    return Pristine(plain_sample(request.param))


def salvaged(
    p: Pristine, damaged: bytes | bytearray, tmp: Path, expected: set[int], fmt: str = "raw"
) -> dict[str, object]:
    """Extract the damaged copy; check the exit code, the one stderr line, the named pages
    and every other page against the pristine extraction."""
    img, out = tmp / "damaged.img", tmp / f"out.{fmt}"
    img.write_bytes(damaged)  # a bytearray is written as it is (no 24 MB copy)
    r = run_cli("extract", "--json", "-q", "--format", fmt, "-o", str(out), str(img))
    assert r.exit_code == (1 if expected else 0), r.stderr
    rec = json.loads(r.stdout)
    named = {pfn for s in rec["unreadable"] for pfn in range(s["start_pfn"], s["end_pfn"] + 1)}
    assert named == expected
    assert rec["unreadable_pages"] == len(expected)
    assert rec["pages_written"] == p.data_pfns.size - len(expected)
    if expected:
        (line,) = r.stderr.splitlines()
        assert line.startswith(
            f"swsusp-inspect: error: {img}: {len(expected)} saved pages unreadable (PFN 0x"
        )
        assert all(s["reason"] and " at 0x" in s["reason"] for s in rec["unreadable"])
    if fmt == "raw":
        got = np.memmap(out, np.uint8, "r").reshape(-1, p.n)
        keep = np.flatnonzero(~np.isin(p.order, np.array(sorted(expected), np.int64)))
        for at in range(0, keep.size, 512):  # every other page, byte for byte (in slices:
            part = keep[at : at + 512]  # no 80 MB temporaries)
            assert np.array_equal(got[p.order[part]], p.saved[part])
        lost = np.array(sorted(expected), np.int64)
        assert not got[lost].any()  # holes, and named as unreadable in the record
    return rec


def _middle_chunk(p: Pristine) -> int:
    return len(p.first_entry) // 2


def test_a_chunk_overwritten(pristine: Pristine, tmp_path: Path) -> None:
    if not pristine.compressed:
        pytest.skip("raw data pages have no chunks")
    k = _middle_chunk(pristine)
    at = int(pristine.entries[pristine.first_entry[k]]) * pristine.n
    size = int(pristine.n_pages[k]) * pristine.n
    damaged = bytearray(pristine.data)
    damaged[at : at + size] = random.Random(11).randbytes(size)
    rec = salvaged(pristine, damaged, tmp_path, pristine.chunk_pfns([k]))
    assert f"compressed chunk {k} at {at:#x}: cmp_len" in rec["unreadable"][0]["reason"]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["elf", "lime"])
def test_a_corrupt_chunk_under_a_sound_header(pristine: Pristine, tmp_path: Path, fmt: str) -> None:
    """Found only by decompressing: the file is laid out again without it, and equals what
    a stream (checked before its headers go out) gets."""
    if not pristine.compressed:
        pytest.skip("raw data pages have no chunks")
    k = _middle_chunk(pristine)
    at = int(pristine.entries[pristine.first_entry[k]]) * pristine.n
    damaged = bytearray(pristine.data)
    damaged[at + 64 : at + 1024] = random.Random(5).randbytes(960)
    expected = pristine.chunk_pfns([k])
    rec = salvaged(pristine, damaged, tmp_path, expected, fmt)
    assert "expected valid LZO data" in rec["unreadable"][0]["reason"]
    streamed = run_cli("extract", "-q", "--format", fmt, "-o", "-", str(tmp_path / "damaged.img"))
    assert streamed.exit_code == 1
    assert streamed.stdout_bytes == (tmp_path / f"out.{fmt}").read_bytes()
    if fmt == "elf":
        for pfn in sorted(expected)[::7]:
            assert elf_page(tmp_path / "out.elf", pfn * pristine.n, pristine.n) is None


@pytest.mark.slow
@pytest.mark.parametrize("which", ["header", "data"])
def test_one_bad_map_entry_loses_its_page_or_chunk(
    pristine: Pristine, tmp_path: Path, which: str
) -> None:
    """An entry past the device in a sound map page: its slot is known, so only the page (or
    the chunk) it names is lost; a chunk's header entry loses the chunk, found again after."""
    if pristine.compressed:
        k = _middle_chunk(pristine)
        i = int(pristine.first_entry[k]) + (0 if which == "header" else 1)
    else:
        i = pristine.entries.size // 2 + (0 if which == "header" else 1)
    at = pristine.map_pages[i // PER_MAP_PAGE] * pristine.n + (i % PER_MAP_PAGE) * 8
    damaged = bytearray(pristine.data)
    struct.pack_into("<Q", damaged, at, 0x7FFFFFFF)
    bad = np.zeros(pristine.entries.size, bool)
    bad[i] = True
    expected = pristine.lost_with_entries(bad)
    assert len(expected) == (32 if pristine.compressed else 1)
    rec = salvaged(pristine, damaged, tmp_path, expected)
    assert rec["unreadable"][0]["reason"].startswith(
        f"swap map page at {at:#x}: entries[{i % PER_MAP_PAGE}]: expected < "
    )


def _map_page_index(p: Pristine) -> int:
    return len(p.map_pages) // 2


def _entries_of_map_page(p: Pristine, i: int) -> np.ndarray:
    bad = np.zeros(p.entries.size, bool)
    bad[i * PER_MAP_PAGE : (i + 1) * PER_MAP_PAGE] = True
    return bad


@pytest.mark.slow
@pytest.mark.parametrize("how", ["overwritten", "zeroed"])
def test_a_map_page_broken(pristine: Pristine, tmp_path: Path, how: str) -> None:
    i = _map_page_index(pristine)
    at = pristine.map_pages[i] * pristine.n
    damaged = bytearray(pristine.data)
    damaged[at : at + pristine.n] = (
        random.Random(3).randbytes(pristine.n) if how == "overwritten" else bytes(pristine.n)
    )
    expected = pristine.lost_with_entries(_entries_of_map_page(pristine, i))
    rec = salvaged(pristine, damaged, tmp_path, expected)
    assert any("chain continued at map page" in x for x in rec["problems"])


@pytest.mark.slow
def test_a_broken_next_swap_loses_nothing(pristine: Pristine, tmp_path: Path) -> None:
    at = pristine.map_pages[_map_page_index(pristine)] * pristine.n + pristine.n - 8
    damaged = bytearray(pristine.data)
    struct.pack_into("<Q", damaged, at, 0xDEADBEEF)
    rec = salvaged(pristine, damaged, tmp_path, set())
    assert rec["problems"][0].startswith(
        f"swap map page at {at - pristine.n + 8:#x}: next_swap: expected < "
    )


@pytest.mark.slow
def test_the_file_cut_in_half(pristine: Pristine, tmp_path: Path) -> None:
    cut = len(pristine.data) // pristine.n // 2
    # entries past the cut, and entries listed by map pages past it, are lost
    first_gone = next(i for i, m in enumerate(pristine.map_pages) if m >= cut)
    bad = pristine.entries >= cut
    bad[first_gone * PER_MAP_PAGE :] = True
    expected = pristine.lost_with_entries(bad)
    assert 0 < len(expected) < pristine.data_pfns.size
    salvaged(pristine, pristine.data[: cut * pristine.n], tmp_path, expected)


def test_verify_and_audit_name_the_unreadable_pages(pristine: Pristine, tmp_path: Path) -> None:
    i = _map_page_index(pristine)
    at = pristine.map_pages[i] * pristine.n
    damaged = bytearray(pristine.data)
    damaged[at : at + pristine.n] = random.Random(3).randbytes(pristine.n)
    path = tmp_path / "damaged.img"
    path.write_bytes(bytes(damaged))
    expected = pristine.lost_with_entries(_entries_of_map_page(pristine, i))
    v = run_cli("verify", "--json", "-q", str(path))
    assert v.exit_code == 1
    doc = json.loads(v.stdout)
    assert doc["unreadable_pages"] == len(expected) and doc["verify_ok"] is False
    assert doc["crc32"]["computed"] is None
    named = {p for s in doc["unreadable"] for p in range(s["start_pfn"], s["end_pfn"] + 1)}
    assert named == expected
    a = run_cli("audit", "--json", "-q", str(path))
    assert a.exit_code == 1
    (f,) = [f for f in json.loads(a.stdout)["findings"] if f["code"] == "chunk-unreadable"]
    assert f["pages"] == len(expected)
    assert {p for r in f["ranges"] for p in range(r["start_pfn"], r["end_pfn"] + 1)} == expected


def test_an_intact_image_reads_the_same_salvaging(pristine: Pristine) -> None:
    with open_image(pristine.path, salvage=True) as img:
        states = img.check_pages()
        assert states.checked and states.unreadable_pages == 0 and not img.problems
        v = img.verify()
    assert v.ok


def test_output_refusals(pristine: Pristine, tmp_path: Path) -> None:
    out = tmp_path / "o.raw"
    out.write_bytes(b"keep")
    r = run_cli("extract", "-q", "-o", str(out), str(pristine.path))
    assert r.exit_code == 2 and "exists (use --force" in r.stderr
    assert out.read_bytes() == b"keep"
    r = run_cli("extract", "-q", "-o", str(pristine.path), "--force", str(pristine.path))
    assert r.exit_code == 2 and "is the input" in r.stderr
    assert run_cli("extract", "--json", "-o", "-", str(pristine.path)).exit_code == 2


def test_no_sidecar_writes_none(forged_image: Callable[..., Any], tmp_path: Path) -> None:
    """(A small forged image: the whole extraction runs.)"""
    image = forged_image(pfns=np.arange(0x100, 0x140, dtype=np.uint64)).path
    out = tmp_path / "o.raw"
    r = run_cli("extract", "-q", "--no-sidecar", "-o", str(out), image)
    assert r.exit_code == 0 and out.stat().st_size == 0x140 * 4096
    assert not os.path.exists(str(out) + ".json")
    r = run_cli("extract", "-q", "-o", str(out.with_suffix(".b")), image)
    assert r.exit_code == 0 and os.path.exists(str(out.with_suffix(".b")) + ".json")
