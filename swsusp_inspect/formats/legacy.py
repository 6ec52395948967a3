"""Legacy kernel hibernation layouts (2.4/2.5 patches -> 2.6.19), read by content alone.

References (kernel file, version read; offsets for sizeof(long) = L):
    2.4/2.5 swsusp patch (kernel/suspend.c, Machek, 2002-05 for 2.4.18/2.5.17) and
    kernel/power/swsusp.c 2.6.0-2.6.8: ``union diskpage { union swap_header swh; struct link
        { char dummy[PAGE_SIZE - sizeof(swp_entry_t)]; swp_entry_t next; } link; struct
        suspend_header sh; }``; ``struct suspend_header { u32 version_code; unsigned long
        num_physpages; char machine[8]; char version[20]; int num_cpus; int page_size;
        suspend_pagedir_t *suspend_pagedir; unsigned int num_pbes; [struct swap_location
        {char filename[32];} swap_location[MAX_SWAPFILES] until 2004-01] }`` (include/linux/
        suspend.h); ``typedef struct pbe { unsigned long address, orig_address; swp_entry_t
        swap_address; swp_entry_t dummy; }``.  ``write_suspend_image()``: data pages, then the
        contiguous pbe array of ``SUSPEND_PD_PAGES(n) = n * sizeof(pbe) / PAGE_SIZE + 1`` pages
        (``link.next`` = the previously written pagedir page, 0 for the first), then the
        ``suspend_header`` page (``link.next`` = the last pagedir page), then
        ``mark_swapfiles()``: magic ``SUSP1R....``/``SUSP2R....`` (patch) or ``S1SUSP....``/
        ``S2SUSP....`` (2.5.48-2.6.8) whose last L bytes are overwritten by ``link.next`` = the
        header page; resume compares 6 (patch) or 2 (2.6) bytes.  Pointers are read as
        ``SWP_OFFSET(e) * PAGE_SIZE`` of the resume device: before 2.5.19 the i386 pte encoding
        ``SWP_OFFSET(e) = e >> 8`` (include/asm-i386/pgtable.h), from 2.5.19 the generic
        ``swp_offset(e) = e & (2**(8L-5) - 1)`` (include/linux/swapops.h, MAX_SWAPFILES_SHIFT 5).
    kernel/power/pmdisk.c 2.6.0-2.6.8: ``pmdisk_header { char reserved[PAGE_SIZE - 20 -
        sizeof(swp_entry_t)]; swp_entry_t pmdisk_info; char orig_sig[10]; char sig[10]; }``,
        ``PMDISK_SIG "pmdisk-swap1"`` (10 bytes copied); ``pmdisk_info { uts; u32 version_code;
        unsigned long num_physpages; int cpus; unsigned long image_pages, pagedir_pages;
        swp_entry_t pagedir[768]; }``; data, then the contiguous pbe array, then pmdisk_info.
    kernel/power/swsusp.c 2.6.9-2.6.15 (HassebJ/linux-2.6.9; v2.6.11..v2.6.15 tags):
        ``swsusp_header { reserved[PAGE_SIZE - 20 - sizeof(swp_entry_t)]; swp_entry_t
        swsusp_info; orig_sig[10]; sig[10] }``; 2.6.14-2.6.15 insert ``u8 key_iv[MAXKEY +
        MAXIV]`` (32 + 32) before ``swsusp_info``; ``swsusp_info`` (power.h) = pmdisk_info +
        ``suspend_pagedir_t *suspend_pagedir`` before ``pagedir[768]`` (2.6.14: ``[MAX_PBES]``).
        Only one page of swsusp_info is written: on x86_64 only (N - 440) / 8 = 457 slots of
        ``pagedir[]`` reach the disk.  2.6.12+: pbe ``next`` replaces ``dummy`` and pagedir
        pages are chained in memory, ``PBES_PER_PAGE`` = N / (4L) entries each, written in
        order with ``swsusp_info.pagedir[i]`` = the i-th.  ``CONFIG_SWSUSP_ENCRYPT``
        (2.6.14-2.6.15): ``crypto_alloc_tfm("aes", CRYPTO_TFM_MODE_CBC)``, key = key_iv[0:32]
        (max key size), IV = key_iv[32:48]; one tfm for all data pages in pbe order, the IV
        carried from page to page (crypto/cipher.c ``cbc_process_encrypt`` updates ``cit_iv``);
        pagedir and swsusp_info pages are written in clear.
    kernel/power/swsusp.c 2.6.16: ``swap_map_page { swp_entry_t entries[MAP_PAGE_SIZE];
        swp_entry_t next_swap; struct swap_map_page *next; }``, MAP_PAGE_SIZE = (N - 2L) / L;
        the header field is named ``image``; stream = swsusp_info (no ``size``), metadata
        (``pack_orig_addresses()``: orig_address values, zero padded), data; the map pages are
        written last, in reverse, ``next_swap`` naming the following page.
    kernel/power/swap.c + snapshot.c 2.6.17-2.6.19: ``swap_map_page { unsigned long
        entries[N / L - 1]; unsigned long next_swap; }`` holding swap-area offsets; header
        ``image = swp_entry(root_swap, start)``; swsusp_info with ``size``; metadata: orig
        addresses (2.6.17-2.6.18) or PFNs ending in BM_END_OF_MAP (2.6.19, ``pack_pfns()``).
        2.6.20-2.6.22 keep this layout with ``sector_t`` (same size as long on i386 without
        CONFIG_LBD).
    Word sizes and layouts are recognised by consistency (pointers inside the file, counts
    that agree, page_size fields, aligned addresses), never by a version field.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import construct as cs
import numpy as np

from swsusp_inspect.errors import FormatError, TruncatedError, UnsupportedFormatError
from swsusp_inspect.formats import legacy_addr
from swsusp_inspect.formats import pagedir as fpagedir
from swsusp_inspect.formats.parse import cstring, parse_at
from swsusp_inspect.formats.signatures import PAGE_SIZES, SignatureHit
from swsusp_inspect.model import SnapshotInfo, SwsuspHeader, Utsname

UTS_LEN = 65
MAX_SWAPFILES_SHIFT = 5
MAXKEY = MAXIV = 32
AES_BLOCK = 16

ERA_LINK_PATCH = "2.4/2.5 patch (SUSP1R/SUSP2R, link.next)"
ERA_LINK_26 = "2.5.48-2.6.8 (S1SUSP/S2SUSP, link.next)"
ERA_PMDISK = "2.6.0-2.6.8 pmdisk"
ERA_PBE = "2.6.9-2.6.15 pbe"
ERA_PBE_AES = "2.6.14-2.6.15 pbe, AES-encrypted"
ERA_2616 = "2.6.16 swap map (swp_entry_t), virtual addresses"
ERA_2617_VA = "2.6.17-2.6.18 swap map, virtual addresses"
ERA_2619 = "2.6.19 swap map, PFNs"
ERA_2620_S4 = "2.6.20-2.6.22 swap map, 4-byte sector_t"

# pointer encodings of link.next / swap_address
ENC_SWP_ENTRY = "swp_entry_t"  # arch-independent, 2.5.19+
ENC_I386_PTE = "i386 pte"  # SWP_ENTRY(type, offset) = type << 1 | offset << 8, before 2.5.19
ENC_PLAIN = "offset"  # 2.6.17+ swap-map entries: plain swap-area page offsets


def _ulong(word_size: int) -> Any:
    return cs.Int64ul if word_size == 8 else cs.Int32ul


# -- shapes --------------------------------------------------------------------------------


def suspend_header_struct(word_size: int, *, swap_location: bool = False) -> Any:
    """``struct suspend_header`` (include/linux/suspend.h, 2.4 patch -> 2.6.8)."""
    pad = 4 if word_size == 8 else 0
    fields: list[Any] = [
        "version_code" / cs.Int32ul,
        cs.Padding(pad),  # x86_64: unsigned long aligned to 8
        "num_physpages" / _ulong(word_size),
        "machine" / cs.Bytes(8),
        "version" / cs.Bytes(20),
        "num_cpus" / cs.Int32sl,
        "page_size" / cs.Int32sl,
        cs.Padding(pad),  # x86_64: 8 + 8 + 8 + 20 + 4 + 4 = 52 -> pointer at 56
        "suspend_pagedir" / _ulong(word_size),
        "num_pbes" / cs.Int32ul,
    ]
    if swap_location:  # SWAP_FILENAME_MAXLENGTH 32, MAX_SWAPFILES 32 (removed 2004-01)
        fields.append("swap_location" / cs.Array(32, cs.Bytes(32)))
    return cs.Struct(*fields)


def pbe_struct(word_size: int) -> Any:
    """``struct pbe`` as written to disk (the last field is ``dummy`` or, 2.6.12+, ``next``)."""
    u = _ulong(word_size)
    return cs.Struct("address" / u, "orig_address" / u, "swap_address" / u, "dummy" / u)


def swsusp_header_struct(page_size: int, word_size: int, *, pointer: str = "swsusp_info",
                         key_iv: bool = False) -> Any:
    """The 2.6.0-2.6.19 header page: ``pmdisk_header`` (pointer ``pmdisk_info``),
    ``swsusp_header`` of 2.6.9-2.6.15 (``swsusp_info``, 2.6.14-15 with ``key_iv``) and
    2.6.16-2.6.19 (``image``).  ``reserved`` is the swap header kept as read."""
    # 20 = orig_sig[10] + sig[10]
    reserved = page_size - 20 - word_size - (MAXKEY + MAXIV if key_iv else 0)
    fields: list[Any] = ["reserved" / cs.Bytes(reserved)]
    if key_iv:
        fields.append("key_iv" / cs.Bytes(MAXKEY + MAXIV))
    fields += [pointer / _ulong(word_size), "orig_sig" / cs.Bytes(10), "sig" / cs.Bytes(10)]
    return cs.Struct(*fields)


def pbe_info_fields(word_size: int, *, pmdisk: bool = False) -> Any:
    """``swsusp_info`` of 2.6.9-2.6.15 / ``pmdisk_info`` up to ``pagedir[]``."""
    pad = 4 if word_size == 8 else 0
    u = _ulong(word_size)
    fields: list[Any] = [
        "uts" / cs.Bytes(6 * UTS_LEN),
        cs.Padding(2),  # align u32: 390 -> 392
        "version_code" / cs.Int32ul,
        cs.Padding(pad),
        "num_physpages" / u,
        "cpus" / cs.Int32sl,
        cs.Padding(pad),
        "image_pages" / u,
        "pagedir_pages" / u,
    ]
    if not pmdisk:
        fields.append("suspend_pagedir" / u)
    return cs.Struct(*fields)


def pbe_info_struct(page_size: int, word_size: int, *, pmdisk: bool = False) -> Any:
    """The one page of ``swsusp_info``/``pmdisk_info`` that reaches the disk."""
    head = pbe_info_fields(word_size, pmdisk=pmdisk)
    slots = (page_size - head.sizeof()) // word_size
    rest = page_size - head.sizeof() - slots * word_size
    return cs.Struct(*head.subcons, "pagedir" / cs.Array(slots, _ulong(word_size)),
                     cs.Padding(rest))


def info_2616_struct(word_size: int) -> Any:
    """``struct swsusp_info`` of 2.6.16 (``pages``, no ``size``)."""
    pad = 4 if word_size == 8 else 0
    u = _ulong(word_size)
    return cs.Struct("uts" / cs.Bytes(6 * UTS_LEN), cs.Padding(2),
                     "version_code" / cs.Int32ul, cs.Padding(pad), "num_physpages" / u,
                     "cpus" / cs.Int32sl, cs.Padding(pad), "image_pages" / u, "pages" / u)


def swap_map_struct(page_size: int, word_size: int, layout: str) -> Any:
    """``struct swap_map_page`` of 2.6.16 (``"2.6.16"``) or 2.6.17-2.6.19 (``"2.6.17"``)."""
    u = _ulong(word_size)
    if layout == "2.6.16":
        n = (page_size - 2 * word_size) // word_size
        return cs.Struct("entries" / cs.Array(n, u), "next_swap" / u, "next" / u)
    return cs.Struct("entries" / cs.Array(page_size // word_size - 1, u), "next_swap" / u)


def map_geometry(page_size: int, word_size: int, layout: str) -> tuple[int, int]:
    """``(entries per page, slot of next_swap)``."""
    if layout == "2.6.16":
        n = (page_size - 2 * word_size) // word_size
        return n, n
    n = page_size // word_size - 1
    return n, n


# -- pointer encodings ---------------------------------------------------------------------


def swp_offset(value: int, word_size: int, encoding: str) -> int:
    if encoding == ENC_I386_PTE:
        return value >> 8
    if encoding == ENC_SWP_ENTRY:
        return value & ((1 << (8 * word_size - MAX_SWAPFILES_SHIFT)) - 1)
    return value


def swp_type(value: int, word_size: int, encoding: str) -> int | None:
    if encoding == ENC_I386_PTE:
        return (value >> 1) & 0x3F
    if encoding == ENC_SWP_ENTRY:
        return value >> (8 * word_size - MAX_SWAPFILES_SHIFT)
    return None


def swp_entry(offset: int, word_size: int, encoding: str, swap_type: int = 0) -> int:
    """Encode a pointer (for forged images)."""
    if encoding == ENC_I386_PTE:
        return (swap_type << 1) | (offset << 8)
    if encoding == ENC_SWP_ENTRY:
        return (swap_type << (8 * word_size - MAX_SWAPFILES_SHIFT)) | offset
    return offset


def _offsets(values: np.ndarray, word_size: int, encoding: str) -> np.ndarray:
    v = values.astype(np.uint64)
    if encoding == ENC_I386_PTE:
        return v >> np.uint64(8)
    if encoding == ENC_SWP_ENTRY:
        return v & np.uint64((1 << (8 * word_size - MAX_SWAPFILES_SHIFT)) - 1)
    return v


def _types(values: np.ndarray, word_size: int, encoding: str) -> np.ndarray | None:
    v = values.astype(np.uint64)
    if encoding == ENC_I386_PTE:
        return (v >> np.uint64(1)) & np.uint64(0x3F)
    if encoding == ENC_SWP_ENTRY:
        return v >> np.uint64(8 * word_size - MAX_SWAPFILES_SHIFT)
    return None


# -- reading context -----------------------------------------------------------------------


@dataclass
class _Ctx:
    """One candidate reading: file, swap area, word size, pointer encoding."""

    buf: Any
    base: int  # file offset of the swap header page
    n: int  # page size
    word: int  # sizeof(long)
    device_pages: int | None  # absolute pages of the device when the swap header says
    page_offset: int | None = None  # --page-offset
    base_page: int = field(init=False)
    file_pages: int = field(init=False)

    def __post_init__(self) -> None:
        self.base_page = self.base // self.n
        self.file_pages = len(self.buf) // self.n

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype("<u8") if self.word == 8 else np.dtype("<u4")

    def word_at(self, offset: int) -> int:
        return int.from_bytes(bytes(self.buf[offset : offset + self.word]), "little")

    def pointer(self, value: int, encoding: str, where: tuple[str, int, str], target: str, *,
                in_file: bool = True) -> int:
        """Absolute page a pointer names; errors name the pointer's own location."""
        structure, at, fld = where
        off = swp_offset(value, self.word, encoding)
        if off == 0:
            raise FormatError(structure, at, fld, f"a nonzero swap page ({target})", value)
        page = self.base_page + off
        if self.device_pages is not None and page >= self.device_pages:
            raise FormatError(structure, at, fld,
                              f"a swap page below {self.device_pages - self.base_page:#x} "
                              f"(swap header last_page + 1; {target})", off)
        if in_file and page >= self.file_pages:
            raise TruncatedError(target, page * self.n, self.n, len(self.buf))
        return page

    def words(self, page: int) -> np.ndarray:
        return np.frombuffer(self.buf, dtype=self.dtype, count=self.n // self.word,
                             offset=page * self.n)

    def gather(self, pages: list[int]) -> np.ndarray:
        return np.concatenate([self.words(p) for p in pages]) if pages else \
            np.zeros(0, self.dtype)


def _swap_info(buf: Any, base: int, n: int) -> tuple[int | None, int | None]:
    """``(version, device_pages)`` from ``union swap_header`` (version 1 has last_page)."""
    if base + 1036 > len(buf):
        return None, None
    version = int.from_bytes(bytes(buf[base + 1024 : base + 1028]), "little")
    last_page = int.from_bytes(bytes(buf[base + 1028 : base + 1032]), "little")
    if version == 1 and last_page:
        return 1, base // n + last_page + 1
    return version, None


def _utsname(raw: bytes) -> Utsname:
    return Utsname(*[cstring(raw[i * UTS_LEN : (i + 1) * UTS_LEN]) for i in range(6)])


def _release(version_code: int) -> str:
    return f"{version_code >> 16}.{(version_code >> 8) & 0xFF}.{version_code & 0xFF}"


def _plausible_version(version_code: int) -> bool:
    return version_code >> 16 == 2 and (version_code >> 8) & 0xFF in (4, 5, 6)


# -- result and filling the image ----------------------------------------------------------


@dataclass
class _Read:
    """What one era's reader found; ``fill`` hands it to the image."""

    era: str
    header: SwsuspHeader
    info: SnapshotInfo
    entries: np.ndarray  # absolute pages: [info/header page, stream pages...]
    pfns: np.ndarray
    map_pages: tuple[int, ...]
    details: dict[str, Any]
    transform: Any = None


def _fill(image: Any, r: _Read, ctx: _Ctx) -> bool:
    for name in ("chunk_table", "_data_lookup", "pages_beyond_eof", "_decompressor"):
        image.__dict__.pop(name, None)
    image.container = "swap"
    image.page_size = ctx.n
    image.era = r.era
    image.header = r.header
    image.info = r.info
    image.entries = r.entries
    image.map_pages = r.map_pages
    image.device_pages = ctx.device_pages
    image.details = r.details
    image.page_transform = r.transform
    image.__dict__["pagedir"] = fpagedir.PfnDirectory(
        r.pfns.astype(np.uint64), np.zeros(r.pfns.size, bool), True)
    return True


def _translate(ctx: _Ctx, vas: np.ndarray, locate: legacy_addr.Locate,
               num_physpages: int, details: dict[str, Any], *,
               highmem_copied: bool) -> np.ndarray:
    pfns, tr = legacy_addr.translate(vas, ctx.word, ctx.n, page_offset=ctx.page_offset,
                                     locate=locate)
    details.update(tr.to_details())
    details["metadata"] = "kernel virtual addresses (pbe->orig_address), PA = VA - PAGE_OFFSET"
    if highmem_copied:
        note = legacy_addr.highmem_note(ctx.word, ctx.n, tr.page_offset, num_physpages)
        if note is not None:
            details["highmem"] = note
    return pfns


def _header(ctx: _Ctx, layout: str, sig: str, orig_sig: str, image: int) -> SwsuspHeader:
    return SwsuspHeader(offset=ctx.base, page_size=ctx.n, sector_size=ctx.word, layout=layout,
                        sig=sig, orig_sig=orig_sig, flags=None, image=image, crc32=None,
                        hw_sig=None)


_NO_CHECKSUM = "no checksum in this era: verify reads every page"


def _check_data(ctx: _Ctx, raw: np.ndarray, encoding: str, want_type: int | None,
                locate: Callable[[int], tuple[str, int]], fld: str) -> np.ndarray:
    """Absolute pages of data-page pointers ``raw`` (bounds, type)."""
    offs = _offsets(raw, ctx.word, encoding)
    zero = np.flatnonzero(offs == 0)
    if zero.size:
        i = int(zero[0])
        s, at = locate(i)
        raise FormatError(s, at, fld, "a nonzero swap page (a data page)", int(raw[i]))
    types = _types(raw, ctx.word, encoding)
    if types is not None and want_type is not None:
        other = np.flatnonzero(types != np.uint64(want_type))
        if other.size:
            i = int(other[0])
            s, at = locate(i)
            raise FormatError(s, at, fld, f"swap type {want_type} (the resume device)",
                              int(types[i]))
    pages = offs + np.uint64(ctx.base_page)
    if ctx.device_pages is not None:
        over = np.flatnonzero(pages >= np.uint64(ctx.device_pages))
        if over.size:
            i = int(over[0])
            s, at = locate(i)
            raise FormatError(s, at, fld,
                              f"a swap page below {ctx.device_pages - ctx.base_page:#x} "
                              "(swap header last_page + 1)", int(offs[i]))
    return pages


# -- 2.4/2.5 patch and 2.5.48-2.6.8: link.next chains ----------------------------------------


def _link_header(ctx: _Ctx, encoding: str) -> tuple[int, Any, int]:
    """``(header page, parsed suspend_header, pagedir pages)`` or FormatError."""
    at = ctx.base + ctx.n - ctx.word
    hp = ctx.pointer(ctx.word_at(at), encoding, ("swap header", at, "link.next"),
                     "suspend_header page")
    off = hp * ctx.n
    sh = parse_at(suspend_header_struct(ctx.word), ctx.buf, off, "suspend_header")
    ps_at = off + (48 if ctx.word == 8 else 40)
    if sh.page_size != ctx.n:
        raise FormatError("suspend_header", ps_at, "page_size", ctx.n, int(sh.page_size))
    if not _plausible_version(int(sh.version_code)):
        raise FormatError("suspend_header", off, "version_code",
                          "a 2.4/2.5/2.6 LINUX_VERSION_CODE", int(sh.version_code))
    nd_at = off + (64 if ctx.word == 8 else 48)
    num = int(sh.num_pbes)
    pbe_size = 4 * ctx.word
    npd = num * pbe_size // ctx.n + 1  # SUSPEND_PD_PAGES()
    if num == 0 or npd > ctx.file_pages:
        raise FormatError("suspend_header", nd_at, "num_pbes",
                          f"1..{ctx.file_pages * ctx.n // pbe_size:#x} (pbes the file can hold)",
                          num)
    return hp, sh, npd


def _read_link(ctx: _Ctx, encoding: str, sig_raw: bytes, era: str) -> _Read:
    hp, sh, npd = _link_header(ctx, encoding)
    n, w = ctx.n, ctx.word
    hdr_off = hp * n
    # header.link.next -> last pagedir page -> ... -> first (link.next = 0)
    seen = {ctx.base_page, hp}
    chain: list[int] = []
    where = ("suspend_header page", hdr_off + n - w, "link.next")
    nxt = ctx.word_at(hdr_off + n - w)
    for k in range(npd):
        page = ctx.pointer(nxt, encoding, where, f"pagedir page {npd - 1 - k} of {npd}")
        if page in seen:
            raise FormatError(*where, "a page not yet visited", page - ctx.base_page,
                              detail="the link.next chain loops")
        seen.add(page)
        chain.append(page)
        where = (f"pagedir page {npd - 1 - k}", page * n + n - w, "link.next")
        nxt = ctx.word_at(page * n + n - w)
    if nxt:
        raise FormatError(*where, "0 (the first pagedir page ends the chain)", nxt)
    pages = chain[::-1]
    num = int(sh.num_pbes)
    per = n // (4 * w)
    pbes = ctx.gather(pages).reshape(-1, 4)[:num]
    htype = swp_type(ctx.word_at(ctx.base + n - w), w, encoding)

    def locate(i: int, col: int = 2) -> tuple[str, int]:
        return (f"pbe {i} (pagedir page {i // per})",
                pages[i // per] * n + (i % per) * 4 * w + col * w)

    data = _check_data(ctx, pbes[:, 2], encoding, htype, locate, "swap_address")
    details: dict[str, Any] = {
        "signature_bytes": sig_raw.hex(),
        "link_next_encoding": encoding,
        "swap_type": htype,
        "pointers": "swap-area page offsets, relative to the swap header page",
        "machine": cstring(bytes(sh.machine)),
        "version": cstring(bytes(sh.version)),
        "release_from_version_code": _release(int(sh.version_code)),
        "suspend_pagedir": int(sh.suspend_pagedir),
        "pagedir_pages": npd,
        "verify": _NO_CHECKSUM,
    }
    pfns = _translate(ctx, pbes[:, 1], lambda i: locate(i, 1), int(sh.num_physpages), details,
                      highmem_copied=era == ERA_LINK_26)
    visible = cstring(sig_raw[: 10 - w])
    orig = "SWAP-SPACE" if visible[1:2] == "1" or visible[4:5] == "1" else "SWAPSPACE2"
    info = SnapshotInfo(offset=hdr_off, word_size=w, num_physpages=int(sh.num_physpages),
                        cpus=int(sh.num_cpus), image_pages=num, pages=num + 1,
                        size=(num + 1) * n, version_code=int(sh.version_code),
                        uts=Utsname("", "", "", cstring(bytes(sh.version)),
                                    cstring(bytes(sh.machine)), ""), arch=None)
    header = _header(ctx, f"link.next ({w}-byte {encoding} in the last bytes of page 0)",
                     visible, orig, hp - ctx.base_page)
    entries = np.concatenate([[np.uint64(hp)], data]).astype(np.uint64)
    return _Read(era, header, info, entries, pfns, tuple(pages), details)


def _under(exc: FormatError, hit: SignatureHit, layout: str) -> FormatError:
    """Say which signature the failing structure hangs from (its name is no longer unique)."""
    sig = hit.raw[: 10 if hit.signature.name == "pmdisk" else 6].decode("ascii", "replace")
    what = f"under the {sig} signature at {hit.offset:#x} ({layout})"
    exc.detail = f"{exc.detail}; {what}" if exc.detail else what
    exc.args = (exc._message(),)
    return exc


def _first_working(attempts: list[Callable[[], _Read]]) -> _Read:
    """The first attempt that reads; else the first attempt's error."""
    first: FormatError | None = None
    for attempt in attempts:
        try:
            return attempt()
        except FormatError as exc:
            first = first or exc
    assert first is not None
    raise first


def open_link_era(image: Any, hit: SignatureHit, base: int, probe: bool = False) -> bool:
    """``SUSP1R``/``SUSP2R``/``S1SUSP``/``S2SUSP`` with six visible letters: 4-byte link.next."""
    n = hit.page_size
    _, device_pages = _swap_info(image.buf, base, n)
    ctx = _Ctx(image.buf, base, n, 4, device_pages, getattr(image, "page_offset", None))
    patch = hit.signature.name.startswith("SUSP")
    era = ERA_LINK_PATCH if patch else ERA_LINK_26
    encodings = [ENC_I386_PTE, ENC_SWP_ENTRY] if patch else [ENC_SWP_ENTRY]
    plausible = []
    for enc in encodings:
        with contextlib.suppress(FormatError):
            _link_header(ctx, enc)
            plausible.append(enc)
    try:
        if not plausible:
            if probe:
                return False
            _link_header(ctx, encodings[0])  # raises the first encoding's complaint
        r = _first_working([lambda e=enc: _read_link(ctx, e, hit.raw, era)  # type: ignore[misc]
                            for enc in plausible])
    except FormatError as exc:
        raise _under(exc, hit, era) from None
    return _fill(image, r, ctx)


def open_link_era_short(image: Any, hit: SignatureHit | None, base: int,
                        probe: bool = True) -> bool:
    """64-bit 2.5/2.6.0-2.6.8: ``link.next`` (8 bytes) leaves only ``S1``/``S2`` of the magic.

    No signature table can match two letters, so this probe runs when nothing else matched;
    it claims the file only if the whole chain holds.
    """
    buf = image.buf
    resume = getattr(image, "resume_offset", 0)
    for n in PAGE_SIZES:
        b = resume * n if resume else base
        if b + n > len(buf):
            break
        raw = bytes(buf[b + n - 10 : b + n])
        if raw[:2] not in (b"S1", b"S2"):
            continue
        _, device_pages = _swap_info(buf, b, n)
        ctx = _Ctx(buf, b, n, 8, device_pages, getattr(image, "page_offset", None))
        try:
            _link_header(ctx, ENC_SWP_ENTRY)
        except FormatError:
            continue
        r = _read_link(ctx, ENC_SWP_ENTRY, raw, ERA_LINK_26)
        return _fill(image, r, ctx)
    if probe:
        return False
    raise FormatError("swap header", base, "sig", "S1/S2 followed by link.next", None)


# -- pmdisk and 2.6.9-2.6.15: swsusp_info.pagedir[] of pbe pages ------------------------------


def _pbe_info(ctx: _Ctx, pointer_name: str, pmdisk: bool) -> tuple[int, Any, int, int]:
    """``(info page, parsed fields, pagedir slots on disk, pagedir[] file offset)``."""
    at = ctx.base + ctx.n - 20 - ctx.word
    ip = ctx.pointer(ctx.word_at(at), ENC_SWP_ENTRY,
                     ("swsusp_header" if not pmdisk else "pmdisk_header", at, pointer_name),
                     f"{pointer_name} page")
    off = ip * ctx.n
    head = pbe_info_fields(ctx.word, pmdisk=pmdisk)
    name = "pmdisk_info" if pmdisk else "swsusp_info"
    info = parse_at(head, ctx.buf, off, name)
    w = ctx.word
    img_at = off + (416 if w == 8 else 404)
    pd_at = img_at + w
    image_pages, pd = int(info.image_pages), int(info.pagedir_pages)
    per = ctx.n // (4 * w)
    if not 0 < image_pages <= ctx.file_pages * per:
        raise FormatError(name, img_at, "image_pages",
                          f"1..{ctx.file_pages * per:#x} (pbes the file can hold)", image_pages)
    allowed = {image_pages * 4 * w // ctx.n + 1, -(-image_pages // per)}
    if pd not in allowed:
        want = " or ".join(f"{v:#x}" for v in sorted(allowed))
        raise FormatError(name, pd_at, "pagedir_pages",
                          f"{want} (pagedir pages for {image_pages:#x} pbes)", pd)
    slots = (ctx.n - head.sizeof()) // w
    if pd > max(768, slots):
        raise FormatError(name, pd_at, "pagedir_pages",
                          f"at most {max(768, slots)} (pagedir[] slots)", pd)
    return ip, info, slots, off + head.sizeof()


def _read_pbe(ctx: _Ctx, *, pmdisk: bool, sig_raw: bytes, orig_raw: bytes) -> _Read:
    name = "pmdisk_info" if pmdisk else "swsusp_info"
    pointer_name = name
    ip, info, slots, pd_off = _pbe_info(ctx, pointer_name, pmdisk)
    n, w = ctx.n, ctx.word
    image_pages, pd = int(info.image_pages), int(info.pagedir_pages)
    on_disk = min(pd, slots)
    per = n // (4 * w)
    raw_pd = np.frombuffer(ctx.buf, dtype=ctx.dtype, count=on_disk, offset=pd_off)
    ptype = swp_type(ctx.word_at(ctx.base + n - 20 - w), w, ENC_SWP_ENTRY)
    pages = [ctx.pointer(int(v), ENC_SWP_ENTRY, (name, pd_off + i * w, f"pagedir[{i}]"),
                         f"pagedir page {i}") for i, v in enumerate(raw_pd.tolist())]
    if len(set(pages)) != len(pages) or ip in pages:
        dup = next(i for i, p in enumerate(pages) if p == ip or pages.index(p) != i)
        raise FormatError(name, pd_off + dup * w, f"pagedir[{dup}]",
                          "a page not listed before", pages[dup] - ctx.base_page)
    readable = min(image_pages, on_disk * per)
    pbes = ctx.gather(pages).reshape(-1, 4)[:readable]

    def locate(i: int, col: int = 2) -> tuple[str, int]:
        return (f"pbe {i} (pagedir page {i // per})",
                pages[i // per] * n + (i % per) * 4 * w + col * w)

    data = _check_data(ctx, pbes[:, 2], ENC_SWP_ENTRY, ptype, locate, "swap_address")
    details: dict[str, Any] = {
        "pointers": "swap-area page offsets (swp_offset), relative to the swap header page",
        "swap_type": ptype,
        "pagedir_pages": pd,
        "pbes_per_page": per,
        "pagedir_layout": ("contiguous, SUSPEND_PD_PAGES() (2.6.0-2.6.11)"
                           if pd == image_pages * 4 * w // n + 1
                           and pd != -(-image_pages // per)
                           else "PBES_PER_PAGE pages (2.6.12-2.6.15)"),
        "verify": _NO_CHECKSUM,
    }
    if not pmdisk:
        details["suspend_pagedir"] = int(info.suspend_pagedir)
    if pd > slots:
        details["pagedir_overflow"] = {
            "pagedir_pages": pd, "slots_on_disk": slots,
            "pbes_unreachable": image_pages - readable,
            "note": (f"{name} is one page on disk: pagedir[{slots}..{pd - 1}] lay in its "
                     "second page, which was never written; the kernel could not have resumed "
                     f"this image either. {readable:,} of {image_pages:,} pages are read."),
        }
    pfns = _translate(ctx, pbes[:, 1], lambda i: locate(i, 1), int(info.num_physpages),
                      details, highmem_copied=not pmdisk)
    transform = None
    era = ERA_PMDISK if pmdisk else ERA_PBE
    if not pmdisk:
        key_off = ctx.base + n - 20 - w - MAXKEY - MAXIV
        key_iv = bytes(ctx.buf[key_off : key_off + MAXKEY + MAXIV])
        if any(key_iv):
            era = ERA_PBE_AES
            details["encryption"] = {
                "mode": (f"AES-256-CBC, key and IV in clear in swsusp_header.key_iv at "
                         f"{key_off:#x}: decrypted"),
                "cipher": "aes-256-cbc (CONFIG_SWSUSP_ENCRYPT)",
                "key_iv_offset": key_off,
                "key": key_iv[:MAXKEY].hex(),
                "iv": key_iv[MAXKEY : MAXKEY + AES_BLOCK].hex(),
                "note": ("the key and IV sit in clear in swsusp_header.key_iv (2.6.14-2.6.15 "
                         "wrote them beside the image they protect): anyone holding the swap "
                         "device decrypts it; only data pages are encrypted"),
            }
            transform = _AesCbcPages(key_iv[:MAXKEY], key_iv[MAXKEY : MAXKEY + AES_BLOCK],
                                     key_off)
    uts = _utsname(bytes(info.uts))
    details["release_from_version_code"] = _release(int(info.version_code))
    sinfo = SnapshotInfo(offset=ip * n, word_size=w, num_physpages=int(info.num_physpages),
                         cpus=int(info.cpus), image_pages=readable, pages=readable + 1,
                         size=(readable + 1) * n, version_code=int(info.version_code),
                         uts=uts, arch=None)
    if readable != image_pages:
        details["image_pages_declared"] = image_pages
    layout = (f"{'pmdisk_header' if pmdisk else 'swsusp_header'} ({w}-byte swp_entry_t "
              f"{pointer_name}{', key_iv' if transform else ''})")
    header = _header(ctx, layout, cstring(sig_raw), cstring(orig_raw), ip - ctx.base_page)
    if transform is not None:
        transform.bind(ctx)
    entries = np.concatenate([[np.uint64(ip)], data]).astype(np.uint64)
    return _Read(era, header, sinfo, entries, pfns, tuple(pages), details, transform)


class _AesCbcPages:
    """Decrypts data pages on the way out of the image (one CBC chain in data-page order:
    the IV of page k is the last ciphertext block of page k - 1)."""

    def __init__(self, key: bytes, iv: bytes, key_off: int) -> None:
        try:
            from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        except ImportError as exc:  # pragma: no cover - cryptography is a test dependency
            raise UnsupportedFormatError(
                f"AES-CBC encrypted 2.6.14-2.6.15 image (key and IV in clear in "
                f"swsusp_header.key_iv at {key_off:#x}): recognised; install 'cryptography' "
                "to decrypt it") from exc
        self._cipher, self._aes, self._cbc = Cipher, algorithms.AES(key), modes.CBC
        self.iv = iv
        self.ctx: _Ctx | None = None
        self.entries: np.ndarray | None = None

    def bind(self, ctx: _Ctx) -> None:
        self.ctx = ctx

    def __call__(self, image: Any, start: int, count: int, data: Any) -> bytes:
        ctx = self.ctx
        assert ctx is not None
        n = ctx.n
        pages = image.entries[start : start + count]
        beyond = np.flatnonzero(pages >= np.uint64(ctx.file_pages))
        if beyond.size:
            # ciphertext that is not in the file cannot be read as zeros
            raise TruncatedError("encrypted data page", int(pages[beyond[0]]) * n, n,
                                 len(ctx.buf))
        if start == 1:
            iv = self.iv
        else:
            prev = int(image.entries[start - 1])
            if prev >= ctx.file_pages:
                raise TruncatedError("encrypted data page", prev * n, n, len(ctx.buf))
            iv = bytes(ctx.buf[(prev + 1) * n - AES_BLOCK : (prev + 1) * n])
        dec = self._cipher(self._aes, self._cbc(iv)).decryptor()
        out: bytes = dec.update(bytes(data)) + dec.finalize()
        return out


def open_pmdisk(image: Any, hit: SignatureHit, base: int, probe: bool = False) -> bool:
    """``pmdisk-swa``: 2.6.0-2.6.8 pmdisk; word size by consistency (8, then 4)."""
    n = hit.page_size
    _, device_pages = _swap_info(image.buf, base, n)
    po = getattr(image, "page_offset", None)
    ctxs = [_Ctx(image.buf, base, n, w, device_pages, po) for w in (8, 4)]
    plausible = []
    for ctx in ctxs:
        with contextlib.suppress(FormatError):
            _pbe_info(ctx, "pmdisk_info", True)
            plausible.append(ctx)
    orig = bytes(image.buf[base + n - 20 : base + n - 10])
    try:
        if not plausible:
            if probe:
                return False
            # the x86 word size whose pointer is nonzero names the complaint
            at = base + n - 28
            w = 8 if int.from_bytes(bytes(image.buf[at : at + 4]), "little") else 4
            _pbe_info(ctxs[0] if w == 8 else ctxs[1], "pmdisk_info", True)
        r = _first_working([lambda c=c: _read_pbe(c, pmdisk=True, sig_raw=hit.raw,  # type: ignore[misc]
                                                  orig_raw=orig) for c in plausible])
    except FormatError as exc:
        raise _under(exc, hit, ERA_PMDISK) from None
    return _fill(image, r, next(c for c in plausible if c.word == r.info.word_size))


# -- 2.6.16 and 2.6.17-2.6.19: swap-map chains ----------------------------------------------


def _walk_map(ctx: _Ctx, first: int, layout: str, where: tuple[str, int, str]
              ) -> tuple[np.ndarray, list[int]]:
    """Raw entry values (up to the first 0) and the map pages, bounded and cycle-checked."""
    per, nxt_slot = map_geometry(ctx.n, ctx.word, layout)
    enc = ENC_SWP_ENTRY if layout == "2.6.16" else ENC_PLAIN
    seen = {ctx.base_page}
    chunks: list[np.ndarray] = []
    pages: list[int] = []
    page = first
    while True:
        if page in seen:
            raise FormatError(*where, "a swap-map page not yet visited",
                              page - ctx.base_page, detail="the swap-map chain loops")
        seen.add(page)
        pages.append(page)
        words = ctx.words(page)
        chunks.append(words[:per])
        raw_next = int(words[nxt_slot])
        if not raw_next:
            break
        where = ("swap map page", page * ctx.n + nxt_slot * ctx.word, "next_swap")
        page = ctx.pointer(raw_next, enc, where, "swap map page")
    entries = np.concatenate(chunks)
    zero = np.flatnonzero(entries == 0)
    return (entries[: int(zero[0])] if zero.size else entries), pages


def _map_info(ctx: _Ctx, layout: str) -> tuple[int, np.ndarray, list[int], SnapshotInfo]:
    """Header pointer -> map chain -> swsusp_info, with the counts checked."""
    from swsusp_inspect.formats import snapshot

    n, w = ctx.n, ctx.word
    at = ctx.base + n - 20 - w
    first = ctx.pointer(ctx.word_at(at), ENC_SWP_ENTRY, ("swsusp_header", at, "image"),
                        "swap map page")
    raw, pages = _walk_map(ctx, first, layout, ("swsusp_header", at, "image"))
    per, _ = map_geometry(n, w, layout)
    enc = ENC_SWP_ENTRY if layout == "2.6.16" else ENC_PLAIN
    if not raw.size:
        raise FormatError("swap map page", first * n, "entries[0]", "the swsusp_info page", 0)
    ip = ctx.pointer(int(raw[0]), enc, ("swap map page", first * n, "entries[0]"),
                     "swsusp_info page")
    off = ip * n
    if layout == "2.6.16":
        st = info_2616_struct(w)
        fi = parse_at(st, ctx.buf, off, "swsusp_info")
        size_at = off + st.sizeof()
        stray = ctx.word_at(size_at)
        if stray:
            raise FormatError("swsusp_info", size_at, "(after pages)",
                              "0 (2.6.16 has no size field)", stray)
        image_pages, pages_n = int(fi.image_pages), int(fi.pages)
        info = SnapshotInfo(offset=off, word_size=w, num_physpages=int(fi.num_physpages),
                            cpus=int(fi.cpus), image_pages=image_pages, pages=pages_n,
                            size=pages_n * n, version_code=int(fi.version_code),
                            uts=_utsname(bytes(fi.uts)), arch=None)
        pages_at = off + (424 if w == 8 else 408)
    else:
        info = snapshot.decode_info(ctx.buf, off, n, w)
        image_pages, pages_n = info.image_pages, info.pages
        pages_at = off + (424 if w == 8 else 408)
    meta = -(-image_pages * w // n)
    if pages_n != image_pages + meta + 1:
        raise FormatError("swsusp_info", pages_at, "pages",
                          f"image_pages + {meta} metadata pages + 1 = "
                          f"{image_pages + meta + 1:#x}", pages_n)
    if raw.size < pages_n:
        last = pages[-1] * n + per * w
        raise FormatError("swap map page", last, "next_swap",
                          f"more entries ({pages_n:#x} stream pages in swsusp_info.pages)",
                          f"0 after {raw.size:#x} entries")
    return ip, raw[:pages_n], pages, info


def _read_map(ctx: _Ctx, layout: str, sig_raw: bytes, orig_raw: bytes) -> _Read | None:
    """2.6.16 / 2.6.17-2.6.19 (and 2.6.20-2.6.22 with a 4-byte sector_t); None when the image
    is one the 2.6.20+ reader reads as it is (PFNs, 8-byte words)."""
    n, w = ctx.n, ctx.word
    _, raw, pages, info = _map_info(ctx, layout)
    if layout == "2.6.17" and w == 8 and info.meta_pages:
        # a PFN list (2.6.19, 2.6.20-2.6.22) is the 2.6.20+ reader's: look at one entry only
        first_meta = ctx.base_page + int(raw[1])
        if first_meta < ctx.file_pages and ctx.word_at(first_meta * n) < 1 << 40:
            return None
    per, _ = map_geometry(n, w, layout)
    enc = ENC_SWP_ENTRY if layout == "2.6.16" else ENC_PLAIN
    htype = swp_type(ctx.word_at(ctx.base + n - 20 - w), w, ENC_SWP_ENTRY)

    def locate_entry(i: int) -> tuple[str, int]:
        return (f"swap map page {i // per}", pages[i // per] * n + (i % per) * w)

    stream = _check_data(ctx, raw, enc, htype if enc == ENC_SWP_ENTRY else None,
                         locate_entry, "entries")
    meta = info.meta_pages
    meta_pages = [int(p) for p in stream[1 : 1 + meta]]
    for i, p in enumerate(meta_pages):
        if p >= ctx.file_pages:
            raise TruncatedError(f"metadata page {i}", p * n, n, len(ctx.buf))
    words = ctx.gather(meta_pages)
    ip_count = info.image_pages
    dtype_max = np.iinfo(ctx.dtype).max

    def locate_meta(i: int) -> tuple[str, int]:
        return (f"metadata page {i * w // n}", meta_pages[i * w // n] * n + (i * w) % n)

    after = int(words[ip_count]) if ip_count < words.size else None
    if layout == "2.6.16":
        kind = "va"
    elif after == dtype_max:
        kind = "pfn"
    elif after == 0:
        kind = "va"
    elif after is None:
        kind = "pfn" if int(words.max(initial=0)) < (1 << (30 if w == 4 else 40)) else "va"
    else:
        at = locate_meta(ip_count)
        raise FormatError(at[0], at[1], f"entry {ip_count}",
                          f"0 (end of orig_address list) or BM_END_OF_MAP after "
                          f"{ip_count:#x} entries (swsusp_info.image_pages)", after)
    details: dict[str, Any] = {
        "pointers": "swap-area page offsets, relative to the swap header page",
        "swap_type": htype,
        "map_pages_order": ("written last, in reverse; next_swap names the following page"
                            if layout == "2.6.16" else "interleaved with the data, in order"),
        "release_from_version_code": _release(info.version_code),
        "verify": _NO_CHECKSUM,
    }
    if kind == "pfn":
        if w == 8:
            return None  # the 2.6.20+ reader's own layout (2.6.19 x86_64 included)
        pd = fpagedir.decode(words.view(np.uint8).copy(), w, ip_count,
                             locate=lambda pos: locate_meta(pos // w), page_size=n)
        pfns = pd.pfns
        era = ERA_2620_S4 if (info.version_code >> 8) == 0x0206 and \
            0x14 <= info.version_code & 0xFF <= 0x16 else ERA_2619
        details["metadata"] = "PFNs ending in BM_END_OF_MAP (pack_pfns)"
        if era == ERA_2619:  # save_highmem() until 2.6.19; 2.6.20 lists highmem PFNs
            po = ctx.page_offset or legacy_addr.I386_PAGE_OFFSETS[0][0]
            note = legacy_addr.highmem_note(w, n, po, info.num_physpages)
            if note is not None:
                details["highmem"] = note
    else:
        tail = np.flatnonzero(words[ip_count:])
        if tail.size:
            i = ip_count + int(tail[0])
            at = locate_meta(i)
            raise FormatError(at[0], at[1], f"entry {i}",
                              "0 (pack_orig_addresses() zero-pads the last page)",
                              int(words[i]))
        pfns = _translate(ctx, words[:ip_count], locate_meta, info.num_physpages, details,
                          highmem_copied=True)
        era = ERA_2616 if layout == "2.6.16" else ERA_2617_VA
    hdr_layout = (f"swsusp_header ({w}-byte swp_entry_t image), "
                  f"{'swp_entry_t' if layout == '2.6.16' else 'unsigned long'} swap map")
    header = _header(ctx, hdr_layout, cstring(sig_raw), cstring(orig_raw),
                     pages[0] - ctx.base_page)
    return _Read(era, header, info, stream, pfns, tuple(pages), details)


# -- S1SUSPEND written by 2.6.9-2.6.19 --------------------------------------------------------


def _classify(ctx: _Ctx) -> list[Callable[[], _Read | None]]:
    """Readers whose layout the header's target page fits (cheap checks only)."""
    n = ctx.n
    sig_raw = bytes(ctx.buf[ctx.base + n - 10 : ctx.base + n])
    orig_raw = bytes(ctx.buf[ctx.base + n - 20 : ctx.base + n - 10])
    out: list[Callable[[], _Read | None]] = []
    try:
        _pbe_info(ctx, "swsusp_info", False)
    except FormatError:
        pass
    else:
        out.append(lambda: _read_pbe(ctx, pmdisk=False, sig_raw=sig_raw, orig_raw=orig_raw))
    for layout in ("2.6.17", "2.6.16"):
        try:
            _map_info(ctx, layout)
        except FormatError:
            continue
        out.append(lambda lay=layout: _read_map(ctx, lay, sig_raw, orig_raw))  # type: ignore[misc]
    return out


def _looks_like_uts(page: bytes) -> bool:
    """``uts.sysname`` at the start of a page: printable text, then NULs to 65 bytes."""
    name = page[:UTS_LEN].split(b"\0", 1)[0]
    return 0 < len(name) < UTS_LEN and all(0x20 <= c < 0x7F for c in name) and \
        not any(page[len(name) : UTS_LEN])


def _diagnose(buf: Any, base: int, n: int, device_pages: int | None,
              page_offset: int | None) -> None:
    """Raise the legacy reader's own error for an S1SUSPEND header no layout fully fits.

    Only headers that are legacy beyond doubt: the 4-byte layout (the 2.6.23+ ``image`` slot
    before it is zero and the 4 bytes are no half of a 2.6.20 ``image``), or the 8-byte one
    pointing at a ``swsusp_info`` page (uts text) instead of a swap-map page.  Anything else
    is left to the 2.6.20+ reader's complaint.
    """
    if base + n > len(buf):
        return
    i386 = any(buf[base + n - 24 : base + n - 20]) and not any(buf[base + n - 32 : base + n - 24])
    for w in ((4, 8) if i386 else (8,)):
        ctx = _Ctx(buf, base, n, w, device_pages, page_offset)
        at = base + n - 20 - w
        value = ctx.word_at(at)
        if w == 4:
            target = ctx.pointer(value, ENC_SWP_ENTRY, ("swsusp_header", at,
                                                        "swsusp_info / image"),
                                 "swsusp_info or swap map page (2.6.9-2.6.19 i386 header)")
        else:
            try:
                target = ctx.pointer(value, ENC_SWP_ENTRY, ("swsusp_header", at, "image"), "")
            except FormatError:
                return
        page = bytes(buf[target * n : (target + 1) * n])
        if _looks_like_uts(page):
            _read_pbe(ctx, pmdisk=False, sig_raw=bytes(buf[base + n - 10 : base + n]),
                      orig_raw=bytes(buf[base + n - 20 : base + n - 10]))
            return
        first = int.from_bytes(page[:w], "little")
        info = base // n + swp_offset(first, w, ENC_SWP_ENTRY)
        sized = first > 0 and info < ctx.file_pages and any(
            buf[info * n + (432 if w == 8 else 412) : info * n + (440 if w == 8 else 416)])
        if w == 8 and sized:
            return  # a 2.6.17+ map: the 2.6.20+ reader's own structure
        sig_raw = bytes(buf[base + n - 10 : base + n])
        orig_raw = bytes(buf[base + n - 20 : base + n - 10])
        _read_map(ctx, "2.6.17" if sized or (w == 4 and not 0 < first < ctx.file_pages)
                  else "2.6.16", sig_raw, orig_raw)
        return


def open_s1suspend_legacy(image: Any, hit: SignatureHit, base: int, probe: bool = True) -> bool:
    """``S1SUSPEND`` images of 2.6.9-2.6.19 (and i386 2.6.20-2.6.22 without CONFIG_LBD).

    Returns False (``probe``) when no legacy layout fits, or when the image is one the 2.6.20+
    reader handles (8-byte words, PFN metadata).
    """
    n = hit.page_size
    _, device_pages = _swap_info(image.buf, base, n)
    po = getattr(image, "page_offset", None)
    candidates: list[tuple[_Ctx, Callable[[], _Read | None]]] = []
    for w in (8, 4):
        ctx = _Ctx(image.buf, base, n, w, device_pages, po)
        candidates += [(ctx, reader) for reader in _classify(ctx)]
    if not candidates:
        _diagnose(image.buf, base, n, device_pages, po)
        if probe:
            return False
        raise FormatError("swsusp_header", base + n - 24, "swsusp_info / image",
                          "a pointer to a 2.6.9-2.6.19 swsusp_info or swap map page", None)
    first: FormatError | None = None
    for ctx, reader in candidates:
        try:
            r = reader()
        except FormatError as exc:
            first = first or exc
            continue
        if r is None:
            return False
        return _fill(image, r, ctx)
    assert first is not None
    raise first


__all__ = [
    "ENC_I386_PTE",
    "ENC_PLAIN",
    "ENC_SWP_ENTRY",
    "info_2616_struct",
    "map_geometry",
    "open_link_era",
    "open_link_era_short",
    "open_pmdisk",
    "open_s1suspend_legacy",
    "pbe_info_fields",
    "pbe_info_struct",
    "pbe_struct",
    "suspend_header_struct",
    "swap_map_struct",
    "swp_entry",
    "swp_offset",
    "swp_type",
    "swsusp_header_struct",
]
