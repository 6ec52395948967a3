"""The 2.4/2.5 swsusp patch and 2.5.48-2.6.8 ``swsusp.c``: ``link.next`` chains from page 0.

See :mod:`swsusp_inspect.formats.legacy` for the References.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from swsusp_inspect.errors import FormatError
from swsusp_inspect.formats.legacy.context import (
    NO_CHECKSUM,
    Ctx,
    Read,
    check_data,
    first_working,
    make_header,
    opened,
    plausible_version,
    release,
    swap_info,
    translate,
    under_signature,
)
from swsusp_inspect.formats.legacy.structs import (
    ENC_I386_PTE,
    ENC_SWP_ENTRY,
    ERA_LINK_26,
    ERA_LINK_PATCH,
    suspend_header_struct,
    swp_type,
)
from swsusp_inspect.formats.opened import OpenedImage, OpenOptions
from swsusp_inspect.formats.parse import cstring, parse_at
from swsusp_inspect.formats.signatures import PAGE_SIZES, SignatureHit
from swsusp_inspect.model.image import SnapshotInfo, Utsname

# -- 2.4/2.5 patch and 2.5.48-2.6.8: link.next chains ----------------------------------------


def _link_header(ctx: Ctx, encoding: str) -> tuple[int, Any, int]:
    """``(header page, parsed suspend_header, pagedir pages)`` or FormatError."""
    at = ctx.base + ctx.n - ctx.word
    hp = ctx.pointer(
        ctx.word_at(at), encoding, ("swap header", at, "link.next"), "suspend_header page"
    )
    off = hp * ctx.n
    sh = parse_at(suspend_header_struct(ctx.word), ctx.buf, off, "suspend_header")
    ps_at = off + (48 if ctx.word == 8 else 40)
    if sh.page_size != ctx.n:
        raise FormatError("suspend_header", ps_at, "page_size", ctx.n, int(sh.page_size))
    if not plausible_version(int(sh.version_code)):
        raise FormatError(
            "suspend_header",
            off,
            "version_code",
            "a 2.4/2.5/2.6 LINUX_VERSION_CODE",
            int(sh.version_code),
        )
    nd_at = off + (64 if ctx.word == 8 else 48)
    num = int(sh.num_pbes)
    pbe_size = 4 * ctx.word
    npd = num * pbe_size // ctx.n + 1  # SUSPEND_PD_PAGES()
    if num == 0 or npd > ctx.file_pages:
        raise FormatError(
            "suspend_header",
            nd_at,
            "num_pbes",
            f"1..{ctx.file_pages * ctx.n // pbe_size:#x} (pbes the file can hold)",
            num,
        )
    return hp, sh, npd


def _pagedir_chain(ctx: Ctx, encoding: str, hp: int, npd: int) -> list[int]:
    """The ``npd`` pagedir pages, first to last, walked back from the suspend_header page
    ``hp``: header.link.next -> last pagedir page -> ... -> first (link.next = 0)."""
    n, w = ctx.n, ctx.word
    hdr_off = hp * n
    seen = {ctx.base_page, hp}
    chain: list[int] = []
    where = ("suspend_header page", hdr_off + n - w, "link.next")
    nxt = ctx.word_at(hdr_off + n - w)
    for k in range(npd):
        page = ctx.pointer(nxt, encoding, where, f"pagedir page {npd - 1 - k} of {npd}")
        if page in seen:
            raise FormatError(
                *where,
                "a page not yet visited",
                page - ctx.base_page,
                detail="the link.next chain loops",
            )
        seen.add(page)
        chain.append(page)
        where = (f"pagedir page {npd - 1 - k}", page * n + n - w, "link.next")
        nxt = ctx.word_at(page * n + n - w)
    if nxt:
        raise FormatError(*where, "0 (the first pagedir page ends the chain)", nxt)
    return chain[::-1]


def _snapshot_info(sh: Any, hdr_off: int, w: int, n: int) -> SnapshotInfo:
    """The snapshot facts a suspend_header at ``hdr_off`` gives (one pbe per image page, plus
    the header page)."""
    num = int(sh.num_pbes)
    return SnapshotInfo(
        offset=hdr_off,
        word_size=w,
        num_physpages=int(sh.num_physpages),
        cpus=int(sh.num_cpus),
        image_pages=num,
        pages=num + 1,
        size=(num + 1) * n,
        version_code=int(sh.version_code),
        uts=Utsname("", "", "", cstring(bytes(sh.version)), cstring(bytes(sh.machine)), ""),
        arch=None,
    )


def _read_link(ctx: Ctx, encoding: str, sig_raw: bytes, era: str) -> Read:
    hp, sh, npd = _link_header(ctx, encoding)
    n, w = ctx.n, ctx.word
    hdr_off = hp * n
    pages = _pagedir_chain(ctx, encoding, hp, npd)
    num = int(sh.num_pbes)
    per = n // (4 * w)
    pbes = ctx.gather(pages).reshape(-1, 4)[:num]
    htype = swp_type(ctx.word_at(ctx.base + n - w), w, encoding)

    def locate(i: int, col: int = 2) -> tuple[str, int]:
        return (
            f"pbe {i} (pagedir page {i // per})",
            pages[i // per] * n + (i % per) * 4 * w + col * w,
        )

    data = check_data(ctx, pbes[:, 2], encoding, htype, locate, fld="swap_address")
    details: dict[str, Any] = {
        "signature_bytes": sig_raw.hex(),
        "link_next_encoding": encoding,
        "swap_type": htype,
        "pointers": "swap-area page offsets, relative to the swap header page",
        "machine": cstring(bytes(sh.machine)),
        "version": cstring(bytes(sh.version)),
        "release_from_version_code": release(int(sh.version_code)),
        "suspend_pagedir": int(sh.suspend_pagedir),
        "pagedir_pages": npd,
        "verify": NO_CHECKSUM,
    }
    pfns = translate(
        ctx,
        pbes[:, 1],
        lambda i: locate(i, 1),
        int(sh.num_physpages),
        details,
        highmem_copied=era == ERA_LINK_26,
    )
    visible = cstring(sig_raw[: 10 - w])
    orig = "SWAP-SPACE" if visible[1:2] == "1" or visible[4:5] == "1" else "SWAPSPACE2"
    info = _snapshot_info(sh, hdr_off, w, n)
    header = make_header(
        ctx,
        f"link.next ({w}-byte {encoding} in the last bytes of page 0)",
        visible,
        orig,
        hp - ctx.base_page,
    )
    entries = np.concatenate([[np.uint64(hp)], data]).astype(np.uint64)
    return Read(era, header, info, entries, pfns, tuple(pages), details)


def open_link_era(
    buf: Any, hit: SignatureHit | None, base: int, options: OpenOptions, *, probe: bool = False
) -> OpenedImage | None:
    """``SUSP1R``/``SUSP2R``/``S1SUSP``/``S2SUSP`` with six visible letters: 4-byte link.next."""
    if hit is None:
        return None
    n = hit.page_size
    _, device_pages = swap_info(buf, base, n)
    ctx = Ctx(buf, base, n, 4, device_pages, options.page_offset)
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
                return None
            _link_header(ctx, encodings[0])  # raises the first encoding's complaint
        r = first_working(
            [
                lambda e=enc: _read_link(ctx, e, hit.raw, era)  # type: ignore[misc]
                for enc in plausible
            ]
        )
    except FormatError as exc:
        raise under_signature(exc, hit, era) from None
    return opened(r, ctx)


def open_link_era_short(
    buf: Any, hit: SignatureHit | None, base: int, options: OpenOptions, *, probe: bool = True
) -> OpenedImage | None:
    """64-bit 2.5/2.6.0-2.6.8: ``link.next`` (8 bytes) leaves only ``S1``/``S2`` of the magic.

    No signature table can match two letters, so this probe runs when nothing else matched;
    it claims the file only if the whole chain holds.
    """
    resume = options.resume_offset
    for n in PAGE_SIZES:
        b = resume * n if resume else base
        if b + n > len(buf):
            break
        raw = bytes(buf[b + n - 10 : b + n])
        if raw[:2] not in (b"S1", b"S2"):
            continue
        _, device_pages = swap_info(buf, b, n)
        ctx = Ctx(buf, b, n, 8, device_pages, options.page_offset)
        try:
            _link_header(ctx, ENC_SWP_ENTRY)
        except FormatError:
            continue
        r = _read_link(ctx, ENC_SWP_ENTRY, raw, ERA_LINK_26)
        return opened(r, ctx)
    if probe:
        return None
    raise FormatError("swap header", base, "sig", "S1/S2 followed by link.next", None)
