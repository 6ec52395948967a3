"""2.6.16 and 2.6.17-2.6.19 swap-map chains under ``S1SUSPEND`` (and i386 2.6.20-2.6.22
without ``CONFIG_LBD``), told apart from each other and from the pbe eras by consistency.

See :mod:`swsusp_inspect.formats.legacy` for the References.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from swsusp_inspect.errors import FormatError, TruncatedError
from swsusp_inspect.formats import pagedir as fpagedir
from swsusp_inspect.formats import snapshot
from swsusp_inspect.formats.legacy import addresses
from swsusp_inspect.formats.legacy.context import (
    NO_CHECKSUM,
    Ctx,
    Read,
    check_data,
    make_header,
    opened,
    release,
    swap_info,
    translate,
    utsname,
)
from swsusp_inspect.formats.legacy.pbe import pbe_info, read_pbe
from swsusp_inspect.formats.legacy.structs import (
    ENC_PLAIN,
    ENC_SWP_ENTRY,
    ERA_2616,
    ERA_2617_VA,
    ERA_2619,
    ERA_2620_S4,
    UTS_LEN,
    info_2616_struct,
    map_geometry,
    swp_offset,
    swp_type,
)
from swsusp_inspect.formats.opened import OpenedImage, OpenOptions
from swsusp_inspect.formats.parse import cstring, parse_at
from swsusp_inspect.formats.signatures import SignatureHit
from swsusp_inspect.formats.swap import LAYOUTS
from swsusp_inspect.model.image import SnapshotInfo

# -- 2.6.16 and 2.6.17-2.6.19: swap-map chains ----------------------------------------------

POINTERS = "swap-area page offsets, relative to the swap header page"
# 2.6.20 made them block-device pages (sector_t, swapdev_block()): the same numbers for a swap
# partition, whose area starts the device
POINTERS_2620 = (
    "block-device pages (sector_t), read as 2.6.19's swap-area offsets: the same "
    "numbers when the swap area starts the device"
)


def _walk_map(
    ctx: Ctx, first: int, layout: str, where: tuple[str, int, str]
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
            raise FormatError(
                *where,
                "a swap-map page not yet visited",
                page - ctx.base_page,
                detail="the swap-map chain loops",
            )
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


def _map_info(ctx: Ctx, layout: str) -> tuple[int, np.ndarray, list[int], SnapshotInfo]:
    """Header pointer -> map chain -> swsusp_info, with the counts checked."""
    n, w = ctx.n, ctx.word
    at = ctx.base + n - 20 - w
    first = ctx.pointer(
        ctx.word_at(at), ENC_SWP_ENTRY, ("swsusp_header", at, "image"), "swap map page"
    )
    raw, pages = _walk_map(ctx, first, layout, ("swsusp_header", at, "image"))
    per, _ = map_geometry(n, w, layout)
    enc = ENC_SWP_ENTRY if layout == "2.6.16" else ENC_PLAIN
    if not raw.size:
        raise FormatError("swap map page", first * n, "entries[0]", "the swsusp_info page", 0)
    ip = ctx.pointer(
        int(raw[0]), enc, ("swap map page", first * n, "entries[0]"), "swsusp_info page"
    )
    off = ip * n
    if layout == "2.6.16":
        st = info_2616_struct(w)
        fi = parse_at(st, ctx.buf, off, "swsusp_info")
        size_at = off + st.sizeof()
        stray = ctx.word_at(size_at)
        if stray:
            raise FormatError(
                "swsusp_info", size_at, "(after pages)", "0 (2.6.16 has no size field)", stray
            )
        image_pages, pages_n = int(fi.image_pages), int(fi.pages)
        info = SnapshotInfo(
            offset=off,
            word_size=w,
            num_physpages=int(fi.num_physpages),
            cpus=int(fi.cpus),
            image_pages=image_pages,
            pages=pages_n,
            size=pages_n * n,
            version_code=int(fi.version_code),
            uts=utsname(bytes(fi.uts)),
            arch=None,
        )
        pages_at = off + (424 if w == 8 else 408)
    else:
        info = snapshot.decode_info(ctx.buf, off, n, w)
        image_pages, pages_n = info.image_pages, info.pages
        pages_at = off + (424 if w == 8 else 408)
    meta = -(-image_pages * w // n)
    if pages_n != image_pages + meta + 1:
        raise FormatError(
            "swsusp_info",
            pages_at,
            "pages",
            f"image_pages + {meta} metadata pages + 1 = {image_pages + meta + 1:#x}",
            pages_n,
        )
    if raw.size < pages_n:
        last = pages[-1] * n + per * w
        raise FormatError(
            "swap map page",
            last,
            "next_swap",
            f"more entries ({pages_n:#x} stream pages in swsusp_info.pages)",
            f"0 after {raw.size:#x} entries",
        )
    return ip, raw[:pages_n], pages, info


Locate = Callable[[int], tuple[str, int]]


def _metadata_words(ctx: Ctx, stream: np.ndarray, meta: int) -> tuple[list[int], np.ndarray]:
    """The stream's metadata pages (each inside the file) and their words."""
    n = ctx.n
    meta_pages = [int(p) for p in stream[1 : 1 + meta]]
    for i, p in enumerate(meta_pages):
        if p >= ctx.file_pages:
            raise TruncatedError(f"metadata page {i}", p * n, n, len(ctx.buf))
    return meta_pages, ctx.gather(meta_pages)


def _metadata_kind(
    ctx: Ctx, layout: str, words: np.ndarray, ip_count: int, locate_meta: Locate
) -> str:
    """``"pfn"`` (2.6.19+ pack_pfns) or ``"va"`` (orig addresses), told by the word after the
    image_pages entries: BM_END_OF_MAP, 0, or (none there) the size of the values."""
    w = ctx.word
    after = int(words[ip_count]) if ip_count < words.size else None
    if layout == "2.6.16":
        return "va"
    if after == np.iinfo(ctx.dtype).max:
        return "pfn"
    if after == 0:
        return "va"
    if after is None:
        return "pfn" if int(words.max(initial=0)) < (1 << (30 if w == 4 else 40)) else "va"
    at = locate_meta(ip_count)
    raise FormatError(
        at[0],
        at[1],
        f"entry {ip_count}",
        f"0 (end of orig_address list) or BM_END_OF_MAP after "
        f"{ip_count:#x} entries (swsusp_info.image_pages)",
        after,
    )


def _pfn_list(
    ctx: Ctx, info: SnapshotInfo, words: np.ndarray, locate_meta: Locate, details: dict[str, Any]
) -> tuple[np.ndarray, str]:
    """2.6.19 (and 2.6.20-2.6.22 i386) PFN metadata: the PFNs and the era."""
    n, w = ctx.n, ctx.word
    pd = fpagedir.decode(
        words.view(np.uint8).copy(),
        w,
        info.image_pages,
        locate=lambda pos: locate_meta(pos // w),
        page_size=n,
    )
    era = (
        ERA_2620_S4
        if (info.version_code >> 8) == 0x0206 and 0x14 <= info.version_code & 0xFF <= 0x16
        else ERA_2619
    )
    details["metadata"] = "PFNs ending in BM_END_OF_MAP (pack_pfns)"
    if era == ERA_2619:  # save_highmem() until 2.6.19; 2.6.20 lists highmem PFNs
        po = ctx.page_offset or addresses.I386_PAGE_OFFSETS[0][0]
        note = addresses.highmem_note(w, n, po, info.num_physpages)
        if note is not None:
            details["highmem"] = note
    return pd.pfns, era


def _orig_addresses(
    ctx: Ctx,
    layout: str,
    info: SnapshotInfo,
    words: np.ndarray,
    locate_meta: Locate,
    *,
    details: dict[str, Any],
) -> tuple[np.ndarray, str]:
    """2.6.16-2.6.18 orig_address metadata (zero padded): the PFNs and the era."""
    ip_count = info.image_pages
    tail = np.flatnonzero(words[ip_count:])
    if tail.size:
        i = ip_count + int(tail[0])
        at = locate_meta(i)
        raise FormatError(
            at[0],
            at[1],
            f"entry {i}",
            "0 (pack_orig_addresses() zero-pads the last page)",
            int(words[i]),
        )
    pfns = translate(
        ctx, words[:ip_count], locate_meta, info.num_physpages, details, highmem_copied=True
    )
    return pfns, ERA_2616 if layout == "2.6.16" else ERA_2617_VA


def _read_map(ctx: Ctx, layout: str, sig_raw: bytes, orig_raw: bytes) -> Read | None:
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

    stream = check_data(
        ctx, raw, enc, htype if enc == ENC_SWP_ENTRY else None, locate_entry, fld="entries"
    )
    meta_pages, words = _metadata_words(ctx, stream, info.meta_pages)

    def locate_meta(i: int) -> tuple[str, int]:
        return (f"metadata page {i * w // n}", meta_pages[i * w // n] * n + (i * w) % n)

    kind = _metadata_kind(ctx, layout, words, info.image_pages, locate_meta)
    if kind == "pfn" and w == 8:
        return None  # the 2.6.20+ reader's own layout (2.6.19 x86_64 included)
    details: dict[str, Any] = {
        "pointers": POINTERS,
        "swap_type": htype,
        "map_pages_order": (
            "written last, in reverse; next_swap names the following page"
            if layout == "2.6.16"
            else "interleaved with the data, in order"
        ),
        "release_from_version_code": release(info.version_code),
        "verify": NO_CHECKSUM,
    }
    if kind == "pfn":
        pfns, era = _pfn_list(ctx, info, words, locate_meta, details)
    else:
        pfns, era = _orig_addresses(ctx, layout, info, words, locate_meta, details=details)
    hdr_layout = (
        f"swsusp_header ({w}-byte swp_entry_t image), "
        f"{'swp_entry_t' if layout == '2.6.16' else 'unsigned long'} swap map"
    )
    if era == ERA_2620_S4:  # the current layout's own 2.6.20 header, with S = 4
        hdr_layout, details["pointers"], details["swap_type"] = LAYOUTS[1], POINTERS_2620, None
    header = make_header(
        ctx, hdr_layout, cstring(sig_raw), cstring(orig_raw), pages[0] - ctx.base_page
    )
    return Read(era, header, info, stream, pfns, tuple(pages), details)


# -- S1SUSPEND written by 2.6.9-2.6.19 --------------------------------------------------------


def _classify(ctx: Ctx) -> list[Callable[[], Read | None]]:
    """Readers whose layout the header's target page fits (cheap checks only)."""
    n = ctx.n
    sig_raw = bytes(ctx.buf[ctx.base + n - 10 : ctx.base + n])
    orig_raw = bytes(ctx.buf[ctx.base + n - 20 : ctx.base + n - 10])
    out: list[Callable[[], Read | None]] = []
    try:
        pbe_info(ctx, "swsusp_info", False)
    except FormatError:
        pass
    else:
        out.append(lambda: read_pbe(ctx, pmdisk=False, sig_raw=sig_raw, orig_raw=orig_raw))
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
    return (
        0 < len(name) < UTS_LEN
        and all(0x20 <= c < 0x7F for c in name)
        and not any(page[len(name) : UTS_LEN])
    )


def _s4_map(buf: Any, page: bytes, n: int, file_pages: int) -> bool:
    """``page`` starts like a 4-byte ``sector_t`` map (2.6.23-5.1, 32-bit): ``entries[0]``
    names a ``swsusp_info`` page whose 4-byte ``size`` (at 412) is set."""
    info = int.from_bytes(page[:4], "little")
    return 0 < info < file_pages and any(buf[info * n + 412 : info * n + 416])


def _diagnose(
    buf: Any, base: int, n: int, device_pages: int | None, page_offset: int | None
) -> None:
    """Raise the legacy reader's own error for an S1SUSPEND header no layout fully fits.

    Only headers that are legacy beyond doubt: the 4-byte layout (the 2.6.23+ ``image`` slot
    before it is zero and the 4 bytes are no half of a 2.6.20 ``image``), or the 8-byte one
    pointing at a ``swsusp_info`` page (uts text) instead of a swap-map page.  Anything else
    (a 2.6.17+ map, a 4-byte ``sector_t`` one) is left to the 2.6.20+ reader's complaint.
    """
    if base + n > len(buf):
        return
    i386 = any(buf[base + n - 24 : base + n - 20]) and not any(buf[base + n - 32 : base + n - 24])
    for w in (4, 8) if i386 else (8,):
        ctx = Ctx(buf, base, n, w, device_pages, page_offset)
        at = base + n - 20 - w
        value = ctx.word_at(at)
        if w == 4:
            target = ctx.pointer(
                value,
                ENC_SWP_ENTRY,
                ("swsusp_header", at, "swsusp_info / image"),
                "swsusp_info or swap map page (2.6.9-2.6.19 i386 header)",
            )
        else:
            try:
                target = ctx.pointer(value, ENC_SWP_ENTRY, ("swsusp_header", at, "image"), "")
            except FormatError:
                return
        page = bytes(buf[target * n : (target + 1) * n])
        if _looks_like_uts(page):
            read_pbe(
                ctx,
                pmdisk=False,
                sig_raw=bytes(buf[base + n - 10 : base + n]),
                orig_raw=bytes(buf[base + n - 20 : base + n - 10]),
            )
            return
        first = int.from_bytes(page[:w], "little")
        info = base // n + swp_offset(first, w, ENC_SWP_ENTRY)
        sized = (
            first > 0
            and info < ctx.file_pages
            and any(buf[info * n + (432 if w == 8 else 412) : info * n + (440 if w == 8 else 416)])
        )
        if w == 8 and (sized or _s4_map(buf, page, n, ctx.file_pages)):
            return  # a 2.6.17+ map, or a 4-byte sector_t one: the 2.6.20+ reader's own
        sig_raw = bytes(buf[base + n - 10 : base + n])
        orig_raw = bytes(buf[base + n - 20 : base + n - 10])
        _read_map(
            ctx,
            "2.6.17" if sized or (w == 4 and not 0 < first < ctx.file_pages) else "2.6.16",
            sig_raw,
            orig_raw,
        )
        return


def open_s1suspend_legacy(
    buf: Any, hit: SignatureHit | None, base: int, options: OpenOptions, *, probe: bool = True
) -> OpenedImage | None:
    """``S1SUSPEND`` images of 2.6.9-2.6.19 (and i386 2.6.20-2.6.22 without CONFIG_LBD).

    Returns None (``probe``) when no legacy layout fits, or when the image is one the 2.6.20+
    reader handles (8-byte words, PFN metadata).
    """
    if hit is None:
        return None
    n = hit.page_size
    _, device_pages = swap_info(buf, base, n)
    po = options.page_offset
    candidates: list[tuple[Ctx, Callable[[], Read | None]]] = []
    for w in (8, 4):
        ctx = Ctx(buf, base, n, w, device_pages, po)
        candidates += [(ctx, reader) for reader in _classify(ctx)]
    if not candidates:
        _diagnose(buf, base, n, device_pages, po)
        if probe:
            return None
        raise FormatError(
            "swsusp_header",
            base + n - 24,
            "swsusp_info / image",
            "a pointer to a 2.6.9-2.6.19 swsusp_info or swap map page",
            None,
        )
    first: FormatError | None = None
    for ctx, reader in candidates:
        try:
            r = reader()
        except FormatError as exc:
            first = first or exc
            continue
        if r is None:
            return None
        return opened(r, ctx)
    assert first is not None
    raise first
