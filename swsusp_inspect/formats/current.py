"""The current kernel layout (2.6.20 -> now) on a swap device, and the ``/dev/snapshot`` stream.

References:
    kernel/power/swap.c ``swsusp_write()`` / ``load_image*()`` (2.6.20 -> now): the
        ``swsusp_header`` at the end of the swap area's first page names the first swap-map page
        (``image``); the map chain lists the device page of every stream page: the
        ``swsusp_info`` page, the metadata (PFN directory) pages, then the data, raw or in
        32-page compressed chunks (``save_compressed_image()``).
    kernel/power/user.c ``snapshot_read()``: the same stream without a container.
    32-bit kernels built without ``CONFIG_LBDAF`` (``CONFIG_LBD`` before its rename; 2.6.23-5.1,
        kernel/power/swap.c at 2.6.24 and 3.6, include/linux/types.h, block/Kconfig) write
        the same structures with a 4-byte ``sector_t``: header slots (see
        :mod:`~swsusp_inspect.formats.swap`), swap-map entries and ``next_swap``
        (``MAP_PAGE_ENTRIES = PAGE_SIZE / sizeof(sector_t) - 1``: 1023 a 4 KiB page), and,
        being 32-bit, 4-byte ``swsusp_info`` longs, PFN directory words and chunk
        ``size_t cmp_len`` headers.  Era ``"2.6.23-5.1, 4-byte sector_t"``; the 2.6.20-2.6.22
        ones are byte for byte 2.6.19's and read by formats/legacy.
    See :mod:`~swsusp_inspect.formats.swap`, :mod:`~swsusp_inspect.formats.swapmap`,
    :mod:`~swsusp_inspect.formats.snapshot` and :mod:`~swsusp_inspect.formats.chunks`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from swsusp_inspect.errors import FormatError, TruncatedError
from swsusp_inspect.formats import chunks as fchunks
from swsusp_inspect.formats import snapshot, swap, swapmap
from swsusp_inspect.formats.opened import OpenedImage, OpenOptions
from swsusp_inspect.formats.signatures import SignatureHit
from swsusp_inspect.model.image import (
    SF_COMPRESSION_ALG_LZ4,
    SF_NOCOMPRESS_MODE,
    SnapshotInfo,
    SwsuspHeader,
)

__all__ = ["compression_of", "decode_info_any_word", "open_stream", "open_swap"]


def compression_of(header: SwsuspHeader | None) -> str:
    """``"none"``, ``"lzo"`` or ``"lz4"``: what the swap header's flags say."""
    if header is None or header.flags is None:
        return "none"  # a stream, or 2.6.20-2.6.22 (no compression existed)
    if header.flags & SF_NOCOMPRESS_MODE:
        return "none"
    return "lz4" if header.flags & SF_COMPRESSION_ALG_LZ4 else "lzo"


def decode_info_any_word(buf: Any, off: int, page_size: int) -> SnapshotInfo:
    """``swsusp_info`` with 8-byte longs, else 4-byte ones (i386 writers; ``sector_t`` stays
    8 bytes since 5.2); the 8-byte complaint when neither reads."""
    try:
        return snapshot.decode_info(buf, off, page_size, 8)
    except FormatError:
        try:
            return snapshot.decode_info(buf, off, page_size, 4)
        except FormatError:
            pass
        raise


def open_swap(
    buf: Any, hit: SignatureHit | None, base: int, options: OpenOptions, *, probe: bool = False
) -> OpenedImage | None:
    """The 2.6.20+ layout of a swap area whose header page starts at ``base``.

    Each plausible reading of the header (8- or 4-byte ``sector_t``, see
    :func:`swap.header_readings`) is followed through the swap map to ``swsusp_info``; the
    first that holds is the image.  Else the error of the reading that got furthest (the one
    whose map walked is the image's layout, damaged further on), the first on a tie.
    """
    if hit is None:
        return None
    n = hit.page_size
    version, last_page = swap.decode_swap_info(buf, base)
    # last_page counts from the swap area's start; pointers count from the device's
    device_pages = options.resume_offset + last_page + 1 if version == 1 and last_page else None
    best: tuple[int, FormatError] | None = None
    for header in swap.decode_headers(buf, base, n):
        reached = [0]
        try:
            return _open_reading(buf, header, device_pages, options, reached)
        except FormatError as exc:
            if best is None or reached[0] > best[0]:
                best = (reached[0], exc)
    assert best is not None
    raise best[1]


def _open_reading(
    buf: Any,
    header: SwsuspHeader,
    device_pages: int | None,
    options: OpenOptions,
    reached: list[int],
) -> OpenedImage:
    """One header reading followed through the swap map to ``swsusp_info``.

    ``reached[0]`` counts the steps that held: the first map page's ``entries[0]`` (read with
    this ``sector_t``) inside the file, the map walked to a ``swsusp_info`` page inside the
    file, ``swsusp_info`` decoded.
    """
    n, s = header.page_size, header.sector_size
    at = header.image * n
    if 0 < int.from_bytes(bytes(buf[at : at + s]), "little") < len(buf) // n:
        reached[0] = 1
    smap = swapmap.walk(
        buf,
        header.image,
        n,
        s,
        device_pages=device_pages,
        image_offset=header.offset + swap.image_slot(n, s, header.layout),
        salvage=options.salvage,
    )
    entries = smap.entries
    if not entries.size or not int(entries[0]):
        raise FormatError("swap map page", at, "entries[0]", "the swsusp_info page", 0)
    info_off = int(entries[0]) * n
    if info_off + n > len(buf):
        raise TruncatedError("swsusp_info", info_off, n, len(buf))
    reached[0] = 2
    # a 4-byte sector_t was a 32-bit kernel's: its longs are 4 bytes too
    info = (
        decode_info_any_word(buf, info_off, n)
        if s == 8
        else snapshot.decode_info(buf, info_off, n, 4)
    )
    reached[0] = 3
    if compression_of(header) == "none":
        needed = info.pages
    else:  # the swsusp_info page, then at least one page per 32-page chunk
        needed = 1 + -(-(info.pages - 1) // fchunks.UNC_PAGES)
    if options.salvage:
        return _salvaged(buf, header, smap, info, device_pages)
    if entries.size < needed:
        raise FormatError(
            "swap map",
            header.image * n,
            None,
            f"{needed:#x} entries (swsusp_info.pages = {info.pages:#x})",
            entries.size,
        )
    return OpenedImage(
        container="swap",
        era=_era(header),
        page_size=n,
        buf=buf,
        header=header,
        info=info,
        entries=entries,
        map_pages=smap.map_pages,
        device_pages=device_pages,
    )


def _era(header: SwsuspHeader) -> str:
    """The era an opened swap header names: 8-byte ``sector_t`` or the 4-byte layouts."""
    return "2.6.20+" if header.sector_size == 8 else swap.ERA_S4[header.layout]


def _map_is_short(
    buf: Any, header: SwsuspHeader, smap: swapmap.SwapMap, info: SnapshotInfo
) -> bool:
    """Whether the map lists fewer entries than the stream needs (or cannot tell, a chunk
    header being damaged): then the rest of a broken chain is looked for."""
    n = header.page_size
    if compression_of(header) == "none":
        return smap.entries.size < info.pages
    try:
        table = fchunks.build_table(buf, smap.entries, n, info.word_size, info.pages)
    except FormatError:
        return True
    return table.entries_used != smap.entries.size


def _salvaged(
    buf: Any,
    header: SwsuspHeader,
    smap: swapmap.SwapMap,
    info: SnapshotInfo,
    device_pages: int | None,
) -> OpenedImage:
    """The 2.6.20+ layout read around a damaged swap map (``OpenOptions.salvage``).

    A chain broken off (a bad ``next_swap``, a map page overwritten) is continued at the one
    loose chain of map pages that lists none of the pages already known
    (:func:`~swsusp_inspect.formats.swapmap.find_continuation`); the entries in between are
    unknown (0).  The map is taken as whole (its last entry the stream's last page) when it
    ends as the kernel ends one: ``next_swap`` 0 on a page that is not full (a map that ends
    exactly at a page boundary is what an overwritten, zeroed page also looks like).  An entry
    the map holds but cannot be trusted (past the device) is 0 in its own slot: the pages
    after it keep their places.
    """
    n = header.page_size
    per_page = swapmap.map_page_entries(n, header.sector_size)
    entries, problems = smap.entries, list(smap.problems)
    last, cut = smap, smap.cut
    gaps: tuple[int, ...] = ()
    if smap.problems or not smap.complete or _map_is_short(buf, header, smap, info):
        cont = swapmap.find_continuation(buf, smap, n, header.sector_size, device_pages)
        if cont is not None:
            # a full, sound last page whose next_swap alone is bad lost no entry; otherwise an
            # unknown entry keeps a chunk from running on into the continuation
            clean = not smap.complete and len(smap.problems) == 1 and entries.size % per_page == 0
            gap = 0 if clean else 1
            if compression_of(header) == "none":
                gap = info.pages - entries.size - cont.entries.size
            if gap >= 0:
                gaps = (entries.size,) if gap and compression_of(header) != "none" else ()
                entries = np.concatenate([entries, np.zeros(gap, np.uint64), cont.entries])
                problems.append(
                    f"swap map: chain continued at map page {cont.map_pages[0]:#x} "
                    f"(found by its content; {gap} entries unknown before it)"
                )
                last = cont
        elif compression_of(header) == "none" and entries.size < info.pages:
            problems.append(
                str(
                    FormatError(
                        "swap map",
                        header.image * n,
                        None,
                        f"{info.pages:#x} entries (swsusp_info.pages = {info.pages:#x})",
                        entries.size,
                    )
                )
            )
    # a bad entry in a sound map page loses that page only: where the map ends is still known
    end_known = last.complete and (
        entries.size == info.pages
        if compression_of(header) == "none"
        else last.entries.size % per_page != 0
    )
    map_pages = smap.map_pages if last is smap else smap.map_pages + last.map_pages
    return OpenedImage(
        container="swap",
        era=_era(header),
        page_size=n,
        buf=buf,
        header=header,
        info=info,
        entries=entries,
        map_pages=map_pages,
        device_pages=device_pages,
        problems=tuple(problems),
        end_known=end_known,
        cut=cut,
        gaps=gaps,
    )


def open_stream(buf: Any, options: OpenOptions | None = None) -> OpenedImage | None:
    """A ``/dev/snapshot`` stream (it starts with ``swsusp_info``), or None.

    Salvaging (``options.salvage``), a stream cut short lists the pages the file holds and
    says it was cut: the pages past its end are lost."""
    stream = snapshot.sniff_stream(buf)
    if stream is None:
        return None
    page_size, word = stream
    info = snapshot.decode_info(buf, 0, page_size, word)
    # pages is read from the file: list no more stream pages than the file can hold (one past
    # its end, so reading that one reports the truncation)
    n_listed = min(info.pages, len(buf) // page_size + 1)
    cut = options is not None and options.salvage and info.pages > len(buf) // page_size
    if cut:
        n_listed = len(buf) // page_size
    return OpenedImage(
        container="stream",
        era="stream",
        page_size=page_size,
        buf=buf,
        header=None,
        info=info,
        entries=np.arange(n_listed, dtype=np.uint64),
        cut=cut,
    )
