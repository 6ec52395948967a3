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
from swsusp_inspect.formats import pagedir as fpagedir
from swsusp_inspect.formats import snapshot
from swsusp_inspect.formats.legacy import structs as lg

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


def uts_bytes(release: str, machine: str) -> bytes:
    parts = ["Linux", "forged", release, "#1 Mon Jan 10 12:00:00 UTC 2005", machine, "(none)"]
    return b"".join(p.encode().ljust(lg.UTS_LEN, b"\0") for p in parts)


def _release(vc: int) -> str:
    return f"{vc >> 16}.{(vc >> 8) & 0xFF}.{vc & 0xFF}"


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


def _words(values: list[int] | np.ndarray, word_size: int) -> bytes:
    dtype = "<u8" if word_size == 8 else "<u4"
    return np.asarray(values, dtype=np.uint64).astype(dtype).tobytes()


def _pad(data: bytes, n: int) -> bytes:
    return data + bytes(-len(data) % n)


def _encrypt(data: bytes, key_iv: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = Cipher(
        algorithms.AES(key_iv[: lg.MAXKEY]), modes.CBC(key_iv[lg.MAXKEY : lg.MAXKEY + lg.AES_BLOCK])
    ).encryptor()
    out: bytes = enc.update(data) + enc.finalize()
    return out


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
class _Build:
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


def _start(spec: LegacySpec) -> _Build:
    n, w = spec.page_size, spec.word_size
    pfns = spec.pfns.astype(np.uint64)
    po = spec.page_offset if spec.page_offset is not None else default_page_offset(spec.era, w)
    vas = (pfns * np.uint64(n) + np.uint64(po)).astype(np.uint64)
    total = _total_slots(spec)
    device_pages = spec.device_pages or total + 1
    page0 = _swap_page0(n, spec.swap_version, device_pages)
    return _Build(
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


# -- patch, link26, pmdisk, pbe: data pages, a pagedir of pbes, then the image header ----------


def _pbe_data(b: _Build) -> list[int]:
    """Allocate the data pages (first, as these writers do) and fill them unless sparse."""
    n = b.n
    data = [b.alloc() for _ in range(b.count)]
    if not b.spec.zero_data:
        blob = b.data_bytes()
        if b.spec.key_iv is not None:
            blob = _encrypt(blob, b.spec.key_iv)
        for i, off in enumerate(data):
            b.pages[off] = blob[i * n : (i + 1) * n]
    return data


def _pbe_array(b: _Build, swap_entries: list[int], contiguous: bool, npd: int) -> bytes:
    """The pagedir's pbes (address, orig_address, swap_address, next), padded to npd pages."""
    n, w, po, count = b.n, b.w, b.po, b.count
    copies = np.uint64(po + 0x00800000) + np.arange(count, dtype=np.uint64) * np.uint64(n)
    last = np.zeros(count, np.uint64)
    if not contiguous:  # 2.6.12+: pbe->next = the next pbe's address (its VA), 0 at the end
        pd_va = np.uint64(po + 0x00400000)
        nxt = pd_va + (np.arange(1, count + 1, dtype=np.uint64) * np.uint64(4 * w))
        nxt[-1] = 0
        last = nxt
    rows = np.stack([copies, b.vas, np.array(swap_entries, np.uint64), last], 1)
    return _pad(_words(rows.reshape(-1), w), n).ljust(npd * n, b"\0")


def _pagedir_pages(
    b: _Build, arr: bytes, npd: int, link: bool, entry: Callable[[int], int]
) -> tuple[list[int], int]:
    """Write the pagedir pages; link eras chain them through each page's last word (the
    previous page's entry).  Returns their offsets and the last link (0 if none)."""
    n, w = b.n, b.w
    pd_pages: list[int] = []
    prev = 0
    for i in range(npd):
        off = b.alloc()
        page = bytearray(arr[i * n : (i + 1) * n])
        if link:
            page[n - w :] = _words([prev], w)
            prev = entry(off)
        b.pages[off] = bytes(page)
        pd_pages.append(off)
    return pd_pages, prev


def _link_header(b: _Build, top: int, prev: int, entry: Callable[[int], int]) -> None:
    """patch / link26: suspend_header at ``top``, page 0's signature tail replaced by its link."""
    spec, n, w = b.spec, b.n, b.w
    location = spec.swap_location if spec.swap_location is not None else spec.era == "patch"
    st = lg.suspend_header_struct(w, swap_location=location)
    fields: dict[str, Any] = {
        "version_code": b.vc,
        "num_physpages": spec.num_physpages or b.count,
        "machine": b.machine.encode()[:8].ljust(8, b"\0"),
        "version": b"#1 Sat May 17 12:00:00 CEST 2003"[:20],
        "num_cpus": spec.cpus,
        "page_size": n,
        "suspend_pagedir": b.po + 0x00400000,
        "num_pbes": b.count,
    }
    if location:
        fields["swap_location"] = [b"/dev/hda2".ljust(32, b"\0")] + [bytes(32)] * 31
    hdr = bytearray(st.build(fields).ljust(n, b"\0"))
    hdr[n - w :] = _words([prev], w)
    b.pages[top] = bytes(hdr)
    if spec.era == "patch":
        sig = b"SUSP1R...." if spec.swap_version == 0 else b"SUSP2R...."
    else:
        sig = b"S1SUSP...." if spec.swap_version == 0 else b"S2SUSP...."
    b.page0[n - 10 :] = sig
    b.page0[n - w :] = _words([entry(top)], w)


def _pbe_header(
    b: _Build, top: int, npd: int, pd_pages: list[int], entry: Callable[[int], int]
) -> None:
    """pmdisk / pbe: swsusp_info (pmdisk_info) at ``top`` listing the pagedir pages, page 0
    the swsusp_header pointing at it."""
    spec, n, w = b.spec, b.n, b.w
    pmdisk = spec.era == "pmdisk"
    head = lg.pbe_info_fields(w, pmdisk=pmdisk)
    info_fields: dict[str, Any] = {
        "uts": uts_bytes(_release(b.vc), b.machine),
        "version_code": b.vc,
        "num_physpages": spec.num_physpages or b.count,
        "cpus": spec.cpus,
        "image_pages": b.count,
        "pagedir_pages": npd,
    }
    if not pmdisk:
        info_fields["suspend_pagedir"] = b.po + 0x00400000
    # the kernel's struct may span two pages (x86_64): only the first is written
    blob = head.build(info_fields) + _words([entry(p) for p in pd_pages], w)
    b.pages[top] = blob.ljust(2 * n, b"\0")[:n]
    key_iv = spec.key_iv is not None
    st = lg.swsusp_header_struct(
        n, w, pointer="pmdisk_info" if pmdisk else "swsusp_info", key_iv=key_iv
    )
    reserved = st.subcons[0].sizeof()
    hfields: dict[str, Any] = {
        "reserved": bytes(b.page0[:reserved]),
        ("pmdisk_info" if pmdisk else "swsusp_info"): entry(top),
        "orig_sig": b.orig,
        "sig": b"pmdisk-swa" if pmdisk else b"S1SUSPEND\0",
    }
    if key_iv:
        hfields["key_iv"] = spec.key_iv
    b.page0 = bytearray(st.build(hfields))


def _forge_pagedir_era(b: _Build, res: ForgedLegacy) -> None:
    spec, n, w, count = b.spec, b.n, b.w, b.count
    enc = spec.encoding or (lg.ENC_I386_PTE if spec.era == "patch" else lg.ENC_SWP_ENTRY)
    if spec.era not in ("patch", "link26"):
        enc = lg.ENC_SWP_ENTRY

    def entry(off: int) -> int:
        return lg.swp_entry(off, w, enc, spec.swap_type)

    data = _pbe_data(b)
    res.data_pages = data
    per = n // (4 * w)
    link = spec.era in ("patch", "link26")
    contiguous = link or spec.era == "pmdisk" or spec.pagedir == "contiguous"
    npd = count * 4 * w // n + 1 if contiguous else -(-count // per)
    arr = _pbe_array(b, [entry(d) for d in data], contiguous, npd)
    pd_pages, prev = _pagedir_pages(b, arr, npd, link, entry)
    res.meta_pages = pd_pages
    top = b.alloc()
    res.top_page = res.info_page = top
    if link:
        _link_header(b, top, prev, entry)
    else:
        _pbe_header(b, top, npd, pd_pages, entry)


# -- 2.6.16, 2.6.17, 2.6.19: the snapshot stream listed by swap-map pages ---------------------


def _stream_head(b: _Build, layout: str, meta_n: int, stream_n: int) -> list[bytes]:
    """The stream's first pages: swsusp_info, then the metadata (orig_address words, or the
    2.6.19 PFN directory)."""
    spec, n, w, count = b.spec, b.n, b.w, b.count
    uts = uts_bytes(_release(b.vc), b.machine)
    num_phys = spec.num_physpages or count
    if layout == "2.6.16":
        info = _pad(
            lg.info_2616_struct(w).build(
                {
                    "uts": uts,
                    "version_code": b.vc,
                    "num_physpages": num_phys,
                    "cpus": spec.cpus,
                    "image_pages": count,
                    "pages": stream_n,
                }
            ),
            n,
        )
        meta = _pad(_words(b.vas, w), n)
    else:
        info = snapshot.build_info(
            page_size=n,
            num_physpages=num_phys,
            image_pages=count,
            pages=stream_n,
            uts=uts,
            version_code=b.vc,
            cpus=spec.cpus,
            word_size=w,
        )
        meta = (
            fpagedir.build(b.pfns, None, w, n)
            if spec.era == "2.6.19"
            else _pad(_words(b.vas, w), n)
        )
    return [info] + [meta[i * n : (i + 1) * n] for i in range(meta_n)]


def _maps_2616(b: _Build, stream_n: int, per_map: int) -> tuple[list[int], list[int]]:
    """2.6.16: the stream pages first, then the swap-map pages in reverse (each names the
    following one).  Returns the stream pages' and the map pages' offsets."""
    w, swap_type = b.w, b.spec.swap_type
    n_maps = -(-stream_n // per_map)
    offs = [b.alloc() for _ in range(stream_n)]
    map_offs = [0] * n_maps
    for k in reversed(range(n_maps)):  # written last, last map page first
        map_offs[k] = b.alloc()
    for k in range(n_maps):
        ents = [
            lg.swp_entry(o, w, lg.ENC_SWP_ENTRY, swap_type)
            for o in offs[k * per_map : (k + 1) * per_map]
        ]
        chain = (
            lg.swp_entry(map_offs[k + 1], w, lg.ENC_SWP_ENTRY, swap_type) if k + 1 < n_maps else 0
        )
        kptr = b.po + 0x00600000 + (k - 1) * b.n if k else 0  # in-memory .next (garbage)
        b.pages[map_offs[k]] = _words([*ents, *[0] * (per_map - len(ents)), chain, kptr], w)
    return offs, map_offs


def _maps_2617(b: _Build, stream_n: int, per_map: int) -> tuple[list[int], list[int]]:
    """2.6.17+: the first map page, then each stream page, a new map page whenever one fills
    (swap_write_page).  Returns the stream pages' and the map pages' offsets."""
    w = b.w
    map_offs = [b.alloc()]
    offs = []
    cur: list[int] = []
    for _ in range(stream_n):
        off = b.alloc()
        offs.append(off)
        cur.append(off)
        if len(cur) == per_map:
            next_map = b.alloc()
            b.pages[map_offs[-1]] = _words([*cur, next_map], w)
            map_offs.append(next_map)
            cur = []
    # flush_swap_writer(): the current map page, even if the last one filled up
    b.pages[map_offs[-1]] = _words([*cur, *[0] * (per_map - len(cur)), 0], w)
    return offs, map_offs


def _forge_stream_era(b: _Build, res: ForgedLegacy) -> None:
    spec, n, w, count = b.spec, b.n, b.w, b.count
    layout = "2.6.16" if spec.era == "2.6.16" else "2.6.17"
    meta_n = -(-count * w // n)
    stream_n = count + meta_n + 1
    stream_pages = _stream_head(b, layout, meta_n, stream_n)
    per_map, _ = lg.map_geometry(n, w, layout)
    blob = b"" if spec.zero_data else b.data_bytes()
    maps = _maps_2616 if layout == "2.6.16" else _maps_2617
    offs, map_offs = maps(b, stream_n, per_map)
    for i, off in enumerate(offs):
        if i < len(stream_pages):
            b.pages[off] = stream_pages[i]
        elif blob:
            d = i - len(stream_pages)
            b.pages[off] = blob[d * n : (d + 1) * n]
    res.top_page = map_offs[0]
    res.info_page = offs[0]
    res.meta_pages = map_offs
    res.stream_meta = offs[1 : 1 + meta_n]
    res.data_pages = offs[1 + meta_n :]
    st = lg.swsusp_header_struct(n, w, pointer="image")
    b.page0 = bytearray(
        st.build(
            {
                "reserved": bytes(b.page0[: st.subcons[0].sizeof()]),
                "image": lg.swp_entry(map_offs[0], w, lg.ENC_SWP_ENTRY, spec.swap_type),
                "orig_sig": b.orig,
                "sig": b"S1SUSPEND\0",
            }
        )
    )


def forge_legacy(spec: LegacySpec, path: str | os.PathLike[str]) -> ForgedLegacy:
    """Write a forged legacy swap-device image to ``path``."""
    if spec.era not in ERAS:
        raise ValueError(spec.era)
    b = _start(spec)
    res = b.result(path)
    if spec.era in ("patch", "link26", "pmdisk", "pbe"):
        _forge_pagedir_era(b, res)
    else:
        _forge_stream_era(b, res)
    b.pages[0] = bytes(b.page0)
    with open(path, "wb") as out:
        for off in sorted(b.pages):
            out.seek(off * b.n)
            out.write(b.pages[off])
        end = b.device_pages if not spec.trim else b.total + 1
        out.truncate(end * b.n)
    return res
