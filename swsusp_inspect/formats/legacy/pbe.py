"""pmdisk (2.6.0-2.6.8) and 2.6.9-2.6.15 ``swsusp.c``: ``swsusp_info.pagedir[]`` of pbe pages,
and the AES-encrypted images of 2.6.14-2.6.15.

See :mod:`swsusp_inspect.formats.legacy` for the References.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from swsusp_inspect.errors import FormatError, TruncatedError, UnsupportedFormatError
from swsusp_inspect.formats.legacy.context import (
    NO_CHECKSUM,
    Ctx,
    Read,
    check_data,
    first_working,
    make_header,
    opened,
    release,
    swap_info,
    translate,
    under_signature,
    utsname,
)
from swsusp_inspect.formats.legacy.structs import (
    AES_BLOCK,
    ENC_SWP_ENTRY,
    ERA_PBE,
    ERA_PBE_AES,
    ERA_PMDISK,
    MAXIV,
    MAXKEY,
    pbe_info_fields,
    swp_type,
)
from swsusp_inspect.formats.opened import OpenedImage, OpenOptions
from swsusp_inspect.formats.parse import cstring, parse_at
from swsusp_inspect.formats.signatures import SignatureHit
from swsusp_inspect.model.details import AesKeyInClear, PagedirOverflow
from swsusp_inspect.model.image import SnapshotInfo

# -- pmdisk and 2.6.9-2.6.15: swsusp_info.pagedir[] of pbe pages ------------------------------


def pbe_info(ctx: Ctx, pointer_name: str, pmdisk: bool) -> tuple[int, Any, int, int]:
    """``(info page, parsed fields, pagedir slots on disk, pagedir[] file offset)``."""
    at = ctx.base + ctx.n - 20 - ctx.word
    ip = ctx.pointer(
        ctx.word_at(at),
        ENC_SWP_ENTRY,
        ("swsusp_header" if not pmdisk else "pmdisk_header", at, pointer_name),
        f"{pointer_name} page",
    )
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
        raise FormatError(
            name,
            img_at,
            "image_pages",
            f"1..{ctx.file_pages * per:#x} (pbes the file can hold)",
            image_pages,
        )
    allowed = {image_pages * 4 * w // ctx.n + 1, -(-image_pages // per)}
    if pd not in allowed:
        want = " or ".join(f"{v:#x}" for v in sorted(allowed))
        raise FormatError(
            name, pd_at, "pagedir_pages", f"{want} (pagedir pages for {image_pages:#x} pbes)", pd
        )
    slots = (ctx.n - head.sizeof()) // w
    if pd > max(768, slots):
        raise FormatError(
            name, pd_at, "pagedir_pages", f"at most {max(768, slots)} (pagedir[] slots)", pd
        )
    return ip, info, slots, off + head.sizeof()


def _pagedir_pages(ctx: Ctx, name: str, ip: int, pd_off: int, on_disk: int) -> list[int]:
    """The pagedir[] pointers as page numbers, each checked; none listed twice nor the info
    page."""
    w = ctx.word
    raw_pd = np.frombuffer(ctx.buf, dtype=ctx.dtype, count=on_disk, offset=pd_off)
    pages = [
        ctx.pointer(
            int(v), ENC_SWP_ENTRY, (name, pd_off + i * w, f"pagedir[{i}]"), f"pagedir page {i}"
        )
        for i, v in enumerate(raw_pd.tolist())
    ]
    if len(set(pages)) != len(pages) or ip in pages:
        dup = next(i for i, p in enumerate(pages) if p == ip or pages.index(p) != i)
        raise FormatError(
            name,
            pd_off + dup * w,
            f"pagedir[{dup}]",
            "a page not listed before",
            pages[dup] - ctx.base_page,
        )
    return pages


def _pbe_details(
    ctx: Ctx, info: Any, *, pmdisk: bool, ptype: int | None, slots: int, readable: int
) -> dict[str, Any]:
    """The era's details before translation: pointers, pagedir layout, and the overflow of a
    pagedir[] longer than the one page of swsusp_info on disk."""
    name = "pmdisk_info" if pmdisk else "swsusp_info"
    n, w = ctx.n, ctx.word
    image_pages, pd = int(info.image_pages), int(info.pagedir_pages)
    per = n // (4 * w)
    details: dict[str, Any] = {
        "pointers": "swap-area page offsets (swp_offset), relative to the swap header page",
        "swap_type": ptype,
        "pagedir_pages": pd,
        "pbes_per_page": per,
        "pagedir_layout": (
            "contiguous, SUSPEND_PD_PAGES() (2.6.0-2.6.11)"
            if pd == image_pages * 4 * w // n + 1 and pd != -(-image_pages // per)
            else "PBES_PER_PAGE pages (2.6.12-2.6.15)"
        ),
        "verify": NO_CHECKSUM,
    }
    if not pmdisk:
        details["suspend_pagedir"] = int(info.suspend_pagedir)
    if pd > slots:
        details["pagedir_overflow"] = PagedirOverflow(
            pagedir_pages=pd,
            slots_on_disk=slots,
            pbes_unreachable=image_pages - readable,
            note=(
                f"{name} is one page on disk: pagedir[{slots}..{pd - 1}] lay in its "
                "second page, which was never written; the kernel could not have resumed "
                f"this image either. {readable:,} of {image_pages:,} pages are read."
            ),
        )
    return details


def _aes_key(ctx: Ctx, details: dict[str, Any]) -> _AesCbcPages | None:
    """2.6.14-2.6.15: the AES key and IV in clear in swsusp_header.key_iv (all zeros: not
    encrypted); records them in ``details``."""
    key_off = ctx.base + ctx.n - 20 - ctx.word - MAXKEY - MAXIV
    key_iv = bytes(ctx.buf[key_off : key_off + MAXKEY + MAXIV])
    if not any(key_iv):
        return None
    details["encryption"] = AesKeyInClear(
        mode=(
            f"AES-256-CBC, key and IV in clear in swsusp_header.key_iv at {key_off:#x}: decrypted"
        ),
        cipher="aes-256-cbc (CONFIG_SWSUSP_ENCRYPT)",
        key_iv_offset=key_off,
        key=key_iv[:MAXKEY].hex(),
        iv=key_iv[MAXKEY : MAXKEY + AES_BLOCK].hex(),
        note=(
            "the key and IV sit in clear in swsusp_header.key_iv (2.6.14-2.6.15 "
            "wrote them beside the image they protect): anyone holding the swap "
            "device decrypts it; only data pages are encrypted"
        ),
    )
    return _AesCbcPages(key_iv[:MAXKEY], key_iv[MAXKEY : MAXKEY + AES_BLOCK], key_off)


def read_pbe(ctx: Ctx, *, pmdisk: bool, sig_raw: bytes, orig_raw: bytes) -> Read:
    name = "pmdisk_info" if pmdisk else "swsusp_info"
    pointer_name = name
    ip, info, slots, pd_off = pbe_info(ctx, pointer_name, pmdisk)
    n, w = ctx.n, ctx.word
    image_pages, pd = int(info.image_pages), int(info.pagedir_pages)
    on_disk = min(pd, slots)
    per = n // (4 * w)
    ptype = swp_type(ctx.word_at(ctx.base + n - 20 - w), w, ENC_SWP_ENTRY)
    pages = _pagedir_pages(ctx, name, ip, pd_off, on_disk)
    readable = min(image_pages, on_disk * per)
    pbes = ctx.gather(pages).reshape(-1, 4)[:readable]

    def locate(i: int, col: int = 2) -> tuple[str, int]:
        return (
            f"pbe {i} (pagedir page {i // per})",
            pages[i // per] * n + (i % per) * 4 * w + col * w,
        )

    data = check_data(ctx, pbes[:, 2], ENC_SWP_ENTRY, ptype, locate, fld="swap_address")
    details = _pbe_details(ctx, info, pmdisk=pmdisk, ptype=ptype, slots=slots, readable=readable)
    pfns = translate(
        ctx,
        pbes[:, 1],
        lambda i: locate(i, 1),
        int(info.num_physpages),
        details,
        highmem_copied=not pmdisk,
    )
    transform = None if pmdisk else _aes_key(ctx, details)
    era = ERA_PMDISK if pmdisk else ERA_PBE if transform is None else ERA_PBE_AES
    uts = utsname(bytes(info.uts))
    details["release_from_version_code"] = release(int(info.version_code))
    sinfo = SnapshotInfo(
        offset=ip * n,
        word_size=w,
        num_physpages=int(info.num_physpages),
        cpus=int(info.cpus),
        image_pages=readable,
        pages=readable + 1,
        size=(readable + 1) * n,
        version_code=int(info.version_code),
        uts=uts,
        arch=None,
    )
    if readable != image_pages:
        details["image_pages_declared"] = image_pages
    layout = (
        f"{'pmdisk_header' if pmdisk else 'swsusp_header'} ({w}-byte swp_entry_t "
        f"{pointer_name}{', key_iv' if transform else ''})"
    )
    header = make_header(ctx, layout, cstring(sig_raw), cstring(orig_raw), ip - ctx.base_page)
    if transform is not None:
        transform.bind(ctx)
    entries = np.concatenate([[np.uint64(ip)], data]).astype(np.uint64)
    return Read(era, header, sinfo, entries, pfns, tuple(pages), details, transform)


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
                "to decrypt it"
            ) from exc
        self._cipher, self._aes, self._cbc = Cipher, algorithms.AES(key), modes.CBC
        self.iv = iv
        self.ctx: Ctx | None = None
        self.entries: np.ndarray | None = None

    def bind(self, ctx: Ctx) -> None:
        self.ctx = ctx

    def __call__(
        self, entries: np.ndarray, start: int, count: int, data: bytes | memoryview
    ) -> bytes:
        ctx = self.ctx
        assert ctx is not None
        n = ctx.n
        pages = entries[start : start + count]
        beyond = np.flatnonzero(pages >= np.uint64(ctx.file_pages))
        if beyond.size:
            # ciphertext that is not in the file cannot be read as zeros
            raise TruncatedError("encrypted data page", int(pages[beyond[0]]) * n, n, len(ctx.buf))
        if start == 1:
            iv = self.iv
        else:
            prev = int(entries[start - 1])
            if prev >= ctx.file_pages:
                raise TruncatedError("encrypted data page", prev * n, n, len(ctx.buf))
            iv = bytes(ctx.buf[(prev + 1) * n - AES_BLOCK : (prev + 1) * n])
        dec = self._cipher(self._aes, self._cbc(iv)).decryptor()
        out: bytes = dec.update(bytes(data)) + dec.finalize()
        return out


def open_pmdisk(
    buf: Any, hit: SignatureHit | None, base: int, options: OpenOptions, *, probe: bool = False
) -> OpenedImage | None:
    """``pmdisk-swa``: 2.6.0-2.6.8 pmdisk; word size by consistency (8, then 4)."""
    if hit is None:
        return None
    n = hit.page_size
    _, device_pages = swap_info(buf, base, n)
    po = options.page_offset
    ctxs = [Ctx(buf, base, n, w, device_pages, po) for w in (8, 4)]
    plausible = []
    for ctx in ctxs:
        with contextlib.suppress(FormatError):
            pbe_info(ctx, "pmdisk_info", True)
            plausible.append(ctx)
    orig = bytes(buf[base + n - 20 : base + n - 10])
    try:
        if not plausible:
            if probe:
                return None
            # the x86 word size whose pointer is nonzero names the complaint
            at = base + n - 28
            w = 8 if int.from_bytes(bytes(buf[at : at + 4]), "little") else 4
            pbe_info(ctxs[0] if w == 8 else ctxs[1], "pmdisk_info", True)
        r = first_working(
            [
                lambda c=c: read_pbe(
                    c,
                    pmdisk=True,
                    sig_raw=hit.raw,  # type: ignore[misc]
                    orig_raw=orig,
                )
                for c in plausible
            ]
        )
    except FormatError as exc:
        raise under_signature(exc, hit, ERA_PMDISK) from None
    return opened(r, next(c for c in plausible if c.word == r.info.word_size))
