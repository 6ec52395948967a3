"""Forge the pagedir eras (2.4/2.5 patch, link26 2.6.0-2.6.8, pmdisk 2.6.0-2.6.8, pbe
2.6.9-2.6.15): data pages, a pagedir of pbes, then the image header.

    patch / link26   data pages, contiguous pbe pages (link.next = previous), suspend_header,
                     then page 0: magic with its last L bytes replaced by link.next
    pmdisk / pbe     data pages, pbe pages, swsusp_info (pmdisk_info), header page

References:
    2.4/2.5 swsusp patch (kernel/suspend.c) and kernel/power/swsusp.c 2.6.0-2.6.8
    (``write_suspend_image()``, ``mark_swapfiles()``); kernel/power/pmdisk.c 2.6.0-2.6.8;
    kernel/power/swsusp.c 2.6.9-2.6.15 (pbe ``next`` from 2.6.12, ``key_iv`` 2.6.14-2.6.15):
    the write order and structs are in :mod:`swsusp_inspect.formats.legacy.structs`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from swsusp_inspect.forge.legacy_encode import encrypt, pad, release, uts_bytes, words
from swsusp_inspect.formats.legacy import structs as lg

if TYPE_CHECKING:
    from swsusp_inspect.forge.legacy import Build, ForgedLegacy

__all__ = ["forge_pagedir_era"]


def _pbe_data(b: Build) -> list[int]:
    """Allocate the data pages (first, as these writers do) and fill them unless sparse."""
    n = b.n
    data = [b.alloc() for _ in range(b.count)]
    if not b.spec.zero_data:
        blob = b.data_bytes()
        if b.spec.key_iv is not None:
            blob = encrypt(blob, b.spec.key_iv)
        for i, off in enumerate(data):
            b.pages[off] = blob[i * n : (i + 1) * n]
    return data


def _pbe_array(b: Build, swap_entries: list[int], contiguous: bool, npd: int) -> bytes:
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
    return pad(words(rows.reshape(-1), w), n).ljust(npd * n, b"\0")


def _pagedir_pages(
    b: Build, arr: bytes, npd: int, link: bool, entry: Callable[[int], int]
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
            page[n - w :] = words([prev], w)
            prev = entry(off)
        b.pages[off] = bytes(page)
        pd_pages.append(off)
    return pd_pages, prev


def _link_header(b: Build, top: int, prev: int, entry: Callable[[int], int]) -> None:
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
    hdr[n - w :] = words([prev], w)
    b.pages[top] = bytes(hdr)
    if spec.era == "patch":
        sig = b"SUSP1R...." if spec.swap_version == 0 else b"SUSP2R...."
    else:
        sig = b"S1SUSP...." if spec.swap_version == 0 else b"S2SUSP...."
    b.page0[n - 10 :] = sig
    b.page0[n - w :] = words([entry(top)], w)


def _pbe_header(
    b: Build, top: int, npd: int, pd_pages: list[int], entry: Callable[[int], int]
) -> None:
    """pmdisk / pbe: swsusp_info (pmdisk_info) at ``top`` listing the pagedir pages, page 0
    the swsusp_header pointing at it."""
    spec, n, w = b.spec, b.n, b.w
    pmdisk = spec.era == "pmdisk"
    head = lg.pbe_info_fields(w, pmdisk=pmdisk)
    info_fields: dict[str, Any] = {
        "uts": uts_bytes(release(b.vc), b.machine),
        "version_code": b.vc,
        "num_physpages": spec.num_physpages or b.count,
        "cpus": spec.cpus,
        "image_pages": b.count,
        "pagedir_pages": npd,
    }
    if not pmdisk:
        info_fields["suspend_pagedir"] = b.po + 0x00400000
    # the kernel's struct may span two pages (x86_64): only the first is written
    blob = head.build(info_fields) + words([entry(p) for p in pd_pages], w)
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


def forge_pagedir_era(b: Build, res: ForgedLegacy) -> None:
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
