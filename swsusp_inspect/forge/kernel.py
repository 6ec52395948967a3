"""Forge self-consistent hibernation images from the project's own format definitions.

For tests (corner cases no kernel is easily made to write) and benchmarks (large images).  A forged
image is never evidence of anything by itself: the real-kernel samples in ``samples/`` are.  The
layout follows the kernel writer: page 0 holds the header, swap-map pages precede the entries
they list, and compressed data is written in 32-page chunks with a ``size_t`` length header.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from swsusp_inspect.formats import chunks as fchunks
from swsusp_inspect.formats import pagedir as fpagedir
from swsusp_inspect.formats import snapshot, swap, swapmap
from swsusp_inspect.model import SF_COMPRESSION_ALG_LZ4, SF_CRC32_MODE, SF_NOCOMPRESS_MODE

PageFn = Callable[[np.ndarray], bytes]


def pattern_pages(pfns: np.ndarray, page_size: int = 4096) -> bytes:
    """Deterministic content for ``pfns``: the first 8-byte word of each 64-byte line of page
    p is ``p << 32 | w`` (w: the word's index in the page), the other words are zero.

    Every line of every page differs from every other, so a page or a line read from the
    wrong place shows; the zeros keep LZO's compressor fast (a fully patterned page takes it
    about 12 times longer, 25 ms a 32-page chunk).
    """
    arr = np.zeros((len(pfns), page_size // 8), dtype="<u8")
    arr[:, ::8] = (pfns.astype(np.uint64)[:, None] << np.uint64(32)) | np.arange(
        0, page_size // 8, 8, dtype=np.uint64
    )
    return arr.tobytes()


@dataclass
class ForgeSpec:
    pfns: np.ndarray
    zero: np.ndarray | None = None  # 6.6+ zero-page flags (those pages get no data page)
    page_size: int = 4096
    compression: str = "lzo"  # "none" | "lzo" | "lz4"
    num_physpages: int = 0
    arch_record: bytes | None = None  # default: x86_64 5.13+ record, checksum 0
    uts: bytes = b""
    version_code: int = 0  # generic header's LINUX_VERSION_CODE (with ``uts``)
    word_size: int = 8  # sizeof(long): swsusp_info, PFN directory, chunk length (4: i386)
    content: PageFn | None = None  # pfns -> bytes of len(pfns) pages
    extra_flags: int = 0
    sig: bytes = b"S1SUSPEND\0"
    resume_offset: int = 0  # pages before the swap area
    scatter: bool = False  # place stream pages out of order on the device
    crc32_override: int | None = None
    device_pages: int | None = None  # swap header last_page + 1 (default: as written)
    trim: bool = True  # file ends after the last used page
    # sizeof(sector_t): header, swap-map entries; 4: a 32-bit 2.6.23-5.1 kernel without
    # CONFIG_LBDAF (needs word_size 4; no LZ4, no hw_sig in that era)
    sector_size: int = 8
    crc32_mode: bool = True  # SF_CRC32_MODE with compression (3.2+); False: 2.6.37-3.1


@dataclass
class Forged:
    path: str
    crc32: int | None
    pages: int  # swsusp_info.pages
    meta_pages: int
    image_pages: int
    info_page: int  # device page of swsusp_info
    map_pages: list[int] = field(default_factory=list)
    chunk_pages: list[int] = field(default_factory=list)  # first device page of each chunk


def _stream_payload(spec: ForgeSpec) -> Iterator[bytes]:
    """Stream pages 1..pages-1 (metadata, then data) in blocks of up to 32 pages."""
    n = spec.page_size
    meta = fpagedir.build(spec.pfns, spec.zero, spec.word_size, n)
    for i in range(0, len(meta), 32 * n):
        yield meta[i : i + 32 * n]
    data_pfns = spec.pfns if spec.zero is None else spec.pfns[~spec.zero]
    content = spec.content or (lambda p: pattern_pages(p, n))
    for i in range(0, data_pfns.size, 32):
        yield content(data_pfns[i : i + 32])


def _regroup(blocks: Iterator[bytes], size: int) -> Iterator[bytes]:
    """Re-cut a byte stream into ``size``-byte blocks (the kernel's 32-page chunks)."""
    pending = b""
    for b in blocks:
        pending += b
        while len(pending) >= size:
            yield pending[:size]
            pending = pending[size:]
    if pending:
        yield pending


def _info_page(spec: ForgeSpec) -> tuple[bytes, int, int, int]:
    """``(swsusp_info page, image_pages, meta_pages, pages)`` for ``spec``."""
    nr_pfns = int(spec.pfns.size)
    zero_count = int(np.count_nonzero(spec.zero)) if spec.zero is not None else 0
    image_pages = nr_pfns - zero_count
    meta_pages = fpagedir.meta_pages_for(nr_pfns, spec.word_size, spec.page_size)
    pages = image_pages + meta_pages + 1
    arch = spec.arch_record
    if arch is None and not spec.uts:
        arch = snapshot.build_restore_record("5.13+ (CRC32 e820 checksum)")
    info = snapshot.build_info(
        page_size=spec.page_size,
        num_physpages=spec.num_physpages or nr_pfns,
        image_pages=image_pages,
        pages=pages,
        arch_record=arch or b"",
        uts=spec.uts,
        version_code=spec.version_code,
        word_size=spec.word_size,
    )
    return info, image_pages, meta_pages, pages


def _header_flags(spec: ForgeSpec) -> int:
    """The swap header's flags for the spec's compression."""
    flags = spec.extra_flags
    if spec.compression == "none":
        flags |= SF_NOCOMPRESS_MODE
    else:
        if spec.crc32_mode:
            flags |= SF_CRC32_MODE
        if spec.compression == "lz4":
            flags |= SF_COMPRESSION_ALG_LZ4
    return flags


def _written_units(spec: ForgeSpec) -> tuple[int, list[bytes]]:
    """The stream after swsusp_info as the units written to swap (one page each, or one
    compressed chunk with its length header, padded to whole pages), with the CRC32 of the
    uncompressed chunks."""
    n = spec.page_size
    crc = 0
    written: list[bytes] = []
    for block in _regroup(_stream_payload(spec), fchunks.UNC_PAGES * n):
        if spec.compression == "none":
            written.extend(block[i : i + n] for i in range(0, len(block), n))
        else:
            crc = fchunks.crc32_le(crc, block)
            cmp = fchunks.compress(spec.compression, block)
            unit = len(cmp).to_bytes(spec.word_size, "little") + cmp
            written.append(unit + bytes(-len(unit) % n))
    return crc, written


def _device_slots(spec: ForgeSpec, n_entries: int) -> tuple[list[int], list[int], int]:
    """Device pages of the swap-map pages and of the entries they list, and the pages the
    swap area uses (header + map pages + entries)."""
    per_map = swapmap.map_page_entries(spec.page_size, spec.sector_size)
    n_map = -(-n_entries // per_map)
    total = 1 + n_map + n_entries  # relative to the swap area start
    slots = np.arange(1, total, dtype=np.int64)
    rng = np.random.default_rng(1234)
    if spec.scatter:
        rng.shuffle(slots)
    base = spec.resume_offset
    maps = (slots[:n_map] + base).tolist()
    entries = (slots[n_map:] + base).tolist()
    return maps, entries, total


def _check(spec: ForgeSpec) -> None:
    """Refuse a spec no kernel could have written."""
    if spec.sector_size not in (4, 8):
        raise ValueError(f"sector_size {spec.sector_size}")
    if spec.sector_size == 4 and (spec.word_size != 4 or spec.compression == "lz4"):
        # only 32-bit kernels up to 5.1 had a 4-byte sector_t; LZ4 came with 6.9
        raise ValueError("a 4-byte sector_t needs word_size 4 and LZO or no compression")


def forge(spec: ForgeSpec, path: str | os.PathLike[str]) -> Forged:
    """Write a forged swap-device image to ``path``."""
    _check(spec)
    n = spec.page_size
    info, image_pages, meta_pages, pages = _info_page(spec)
    crc, written = _written_units(spec)
    units = [info, *written]
    unit_pages = [len(u) // n for u in units]
    maps, entries, total = _device_slots(spec, sum(unit_pages))
    map_bytes = swapmap.build_map_pages(entries, [*maps[1:], 0], n, spec.sector_size)

    base = spec.resume_offset
    device_pages = spec.device_pages or (base + total)
    header = swap.build_header(
        n,
        image=maps[0],
        flags=_header_flags(spec),
        crc32=spec.crc32_override if spec.crc32_override is not None else crc,
        sig=spec.sig,
        last_page=device_pages - base - 1,
        sector_size=spec.sector_size,
    )
    with open(path, "wb") as out:
        _write_at(out, base, n, header)
        for slot, page in zip(maps, map_bytes, strict=True):
            _write_at(out, slot, n, page)
        e = 0
        chunk_pages: list[int] = []
        for u, cnt in zip(units, unit_pages, strict=True):
            if cnt > 1 or u is not info:
                chunk_pages.append(entries[e])
            for j in range(cnt):
                _write_at(out, entries[e], n, u[j * n : (j + 1) * n])
                e += 1
        if not spec.trim:
            out.truncate(device_pages * n)
    return Forged(
        path=os.fspath(path),
        crc32=crc if spec.compression != "none" and spec.crc32_mode else None,
        pages=pages,
        meta_pages=meta_pages,
        image_pages=image_pages,
        info_page=entries[0],
        map_pages=maps,
        chunk_pages=chunk_pages[:],
    )


def _write_at(out: BinaryIO, page: int, n: int, data: bytes) -> None:
    out.seek(page * n)
    out.write(data)


def forge_stream(spec: ForgeSpec, path: str | os.PathLike[str]) -> Forged:
    """Write the stream ``read(/dev/snapshot)`` yields: swsusp_info, metadata, data, raw."""
    info, image_pages, meta_pages, pages = _info_page(spec)
    with open(path, "wb") as out:
        out.write(info)
        for block in _stream_payload(spec):
            out.write(block)
    return Forged(os.fspath(path), None, pages, meta_pages, image_pages, 0)
