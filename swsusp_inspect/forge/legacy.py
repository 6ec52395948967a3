"""Forge legacy hibernation images (2.4/2.5 patch -> 2.6.19) from the legacy construct shapes.

For tests and the committed ``samples/forged-legacy`` images: no kernel of those eras can be
booted here.  A forged image is only as right as :mod:`swsusp_inspect.formats.legacy`; the
hand-written hexdumps in ``tests/formats/test_legacy_structs.py`` are the independent check.
Write order and swap-slot allocation follow each era's writer (see that module's References):

    patch / link26   data pages, contiguous pbe pages (link.next = previous), suspend_header,
                     then page 0: magic with its last L bytes replaced by link.next
    pmdisk / pbe     data pages, pbe pages, swsusp_info (pmdisk_info), header page
    2.6.16           swsusp_info, metadata (orig_address), data, then the swap-map pages in
                     reverse (next_swap names the following page), header page
    2.6.17 / 2.6.19  first swap-map page, then each stream page, a new map page whenever one
                     fills (swap.c swap_write_page), header page
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from swsusp_inspect.forge.kernel import pattern_pages
from swsusp_inspect.forge.legacy_encode import uts_bytes
from swsusp_inspect.forge.legacy_pbe import forge_pagedir_era
from swsusp_inspect.forge.legacy_stream import forge_stream_era
from swsusp_inspect.formats.legacy import structs as lg

__all__ = [
    "DEFAULT_VERSION",
    "ERAS",
    "ForgedLegacy",
    "LegacySpec",
    "default_page_offset",
    "forge_legacy",
    "stamp_pages",
    "uts_bytes",
]

PageFn = Callable[[np.ndarray], bytes]

ERAS = ("patch", "link26", "pmdisk", "pbe", "2.6.16", "2.6.17", "2.6.19")
DEFAULT_VERSION = {
    "patch": 0x020413,
    "link26": 0x020605,
    "pmdisk": 0x020606,
    "pbe": 0x02060C,
    "2.6.16": 0x020610,
    "2.6.17": 0x020612,
    "2.6.19": 0x020613,
}


@dataclass
class LegacySpec:
    era: str  # one of ERAS
    pfns: np.ndarray
    word_size: int = 4
    page_size: int = 4096
    page_offset: int | None = None  # default: 0xC0000000 / the era's x86_64 value
    encoding: str | None = None  # link eras: lg.ENC_I386_PTE (patch default) or ENC_SWP_ENTRY
    swap_version: int = 1  # 1: SWAPSPACE2, 0: SWAP-SPACE (bitmap header)
    swap_type: int = 0  # root_swap
    version_code: int | None = None
    machine: str | None = None
    num_physpages: int = 0
    cpus: int = 1
    pagedir: str = "list"  # pbe era: "list" (2.6.12+, ceil(n/P)) or "contiguous" (n*S/N + 1)
    key_iv: bytes | None = None  # pbe era: AES-256-CBC key[32] + IV[32] (encrypts the data)
    content: PageFn | None = None  # pfns -> bytes of len(pfns) pages
    zero_data: bool = False  # data pages left as holes (large sparse images)
    scatter: bool = False  # allocate swap slots out of order
    trim: bool = True  # file ends after the last used page
    device_pages: int | None = None  # swap header last_page + 1 (default: as used)
    swap_location: bool | None = None  # suspend_header.swap_location[] (default: patch era)


@dataclass
class ForgedLegacy:
    path: str
    era: str
    word_size: int
    top_page: int  # the page the header points to (suspend_header / swsusp_info / map page 0)
    info_page: int  # suspend_header / swsusp_info page
    meta_pages: list[int]  # pagedir pages (index order) or swap-map pages (chain order)
    stream_meta: list[int]  # 2.6.16+: metadata pages of the stream
    data_pages: list[int]
    vas: np.ndarray
    pfns: np.ndarray
    page_offset: int
    key_iv: bytes | None = None
    device_pages: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def default_page_offset(era: str, word_size: int) -> int:
    if word_size == 4:
        return 0xC0000000
    # x86_64 direct map: 1 << 40 before 2.6.11 (link, pmdisk), 0xffff810000000000 from 2.6.11
    return 0x0000010000000000 if era in ("link26", "pmdisk") else 0xFFFF810000000000


def stamp_pages(
    pfns: np.ndarray, page_size: int = 4096, banner: tuple[int, bytes] | None = None
) -> bytes:
    """Each page: a 32-byte stamp naming its PFN, then zeros (compresses well); optionally a
    ``linux_banner`` string at offset 0x100 of page ``banner[0]``."""
    out = bytearray(len(pfns) * page_size)
    for i, p in enumerate(pfns.tolist()):
        out[i * page_size : i * page_size + 32] = f"forged page pfn {p:#010x}".encode().ljust(
            32, b"."
        )
        if banner is not None and p == banner[0]:
            at = i * page_size + 0x100
            out[at : at + len(banner[1])] = banner[1]
    return bytes(out)


class _Slots:
    """Swap offsets handed out in writer order (1, 2, ... or a fixed permutation)."""

    def __init__(self, total: int, scatter: bool) -> None:
        order = np.arange(1, total + 1, dtype=np.int64)
        if scatter:
            np.random.default_rng(2005).shuffle(order)
        self._order = order.tolist()
        self._next = 0

    def __call__(self) -> int:
        off = int(self._order[self._next])
        self._next += 1
        return off


def _swap_page0(n: int, version: int, device_pages: int) -> bytearray:
    page = bytearray(n)
    if version == 1:
        page[1024:1028] = (1).to_bytes(4, "little")
        page[1028:1032] = (device_pages - 1).to_bytes(4, "little")
        page[n - 10 :] = b"SWAPSPACE2"
    else:  # version 0: a bitmap of usable pages (page 0 is not)
        nbits = min(device_pages, 8 * (n - 10))
        bits = np.ones(nbits, np.uint8)
        bits[0] = 0
        packed = np.packbits(bits, bitorder="little").tobytes()
        page[: len(packed)] = packed
        page[n - 10 :] = b"SWAP-SPACE"
    return page


def _total_slots(spec: LegacySpec) -> int:
    n, w, count = spec.page_size, spec.word_size, int(spec.pfns.size)
    per = n // (4 * w)
    if spec.era in ("patch", "link26"):
        return count + count * 4 * w // n + 1 + 1
    if spec.era in ("pmdisk", "pbe"):
        pd = (
            count * 4 * w // n + 1
            if spec.pagedir == "contiguous" or spec.era == "pmdisk"
            else -(-count // per)
        )
        return count + pd + 1
    meta = -(-count * w // n)
    pages = count + meta + 1
    if spec.era == "2.6.16":
        per_map, _ = lg.map_geometry(n, w, "2.6.16")
        return pages + -(-pages // per_map)
    per_map, _ = lg.map_geometry(n, w, "2.6.17")
    return pages + pages // per_map + 1  # a map page is allocated whenever one fills


@dataclass
class Build:
    """One forging in progress: the spec, what follows from it, the swap-slot allocator and the
    pages written so far (swap offset -> page bytes; page 0 is kept apart until the end)."""

    spec: LegacySpec
    n: int  # page size
    w: int  # word size
    pfns: np.ndarray
    po: int  # PAGE_OFFSET
    vas: np.ndarray
    total: int  # swap slots the writer uses
    device_pages: int
    alloc: _Slots
    vc: int  # LINUX_VERSION_CODE
    machine: str
    page0: bytearray  # the swap header page, replaced or patched by the image header
    orig: bytes  # the swap signature the image header keeps (orig_sig)
    pages: dict[int, bytes] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return int(self.pfns.size)

    def data_bytes(self) -> bytes:
        n, pfns = self.n, self.pfns
        content = self.spec.content or (lambda p: pattern_pages(p, n))
        return b"".join(content(pfns[i : i + 256]) for i in range(0, self.count, 256))

    def result(self, path: str | os.PathLike[str]) -> ForgedLegacy:
        return ForgedLegacy(
            os.fspath(path),
            self.spec.era,
            self.w,
            0,
            0,
            [],
            [],
            [],
            self.vas,
            self.pfns,
            self.po,
            self.spec.key_iv,
            self.device_pages,
        )


def _start(spec: LegacySpec) -> Build:
    n, w = spec.page_size, spec.word_size
    pfns = spec.pfns.astype(np.uint64)
    po = spec.page_offset if spec.page_offset is not None else default_page_offset(spec.era, w)
    vas = (pfns * np.uint64(n) + np.uint64(po)).astype(np.uint64)
    total = _total_slots(spec)
    device_pages = spec.device_pages or total + 1
    page0 = _swap_page0(n, spec.swap_version, device_pages)
    return Build(
        spec=spec,
        n=n,
        w=w,
        pfns=pfns,
        po=po,
        vas=vas,
        total=total,
        device_pages=device_pages,
        alloc=_Slots(total, spec.scatter),
        vc=spec.version_code or DEFAULT_VERSION[spec.era],
        machine=spec.machine or ("x86_64" if w == 8 else "i686"),
        page0=page0,
        orig=bytes(page0[n - 10 :]),
    )


def forge_legacy(spec: LegacySpec, path: str | os.PathLike[str]) -> ForgedLegacy:
    """Write a forged legacy swap-device image to ``path``."""
    if spec.era not in ERAS:
        raise ValueError(spec.era)
    b = _start(spec)
    res = b.result(path)
    if spec.era in ("patch", "link26", "pmdisk", "pbe"):
        forge_pagedir_era(b, res)
    else:
        forge_stream_era(b, res)
    b.pages[0] = bytes(b.page0)
    with open(path, "wb") as out:
        for off in sorted(b.pages):
            out.seek(off * b.n)
            out.write(b.pages[off])
        end = b.device_pages if not spec.trim else b.total + 1
        out.truncate(end * b.n)
    return res
