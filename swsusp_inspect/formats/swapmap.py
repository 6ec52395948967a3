"""The chain of swap-map pages that lists where each image stream page was written.

References:
    kernel/power/swap.c ``struct swap_map_page { sector_t entries[MAP_PAGE_ENTRIES];
        sector_t next_swap; }``, ``MAP_PAGE_ENTRIES = PAGE_SIZE / sizeof(sector_t) - 1``
        (2.6.20 -> now; 2.6.17-2.6.19 used ``unsigned long``).  Entries and ``next_swap`` are
        page-sized block numbers on the resume block device.  ``get_swap_reader()`` /
        ``swap_read_page()``: an entry of 0 ends the data (-EFAULT if more was expected).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from swsusp_inspect.errors import FormatError, TruncatedError


@dataclass(frozen=True)
class SwapMap:
    """Stream page -> device page, in stream order."""

    entries: np.ndarray  # uint64 device page numbers, entry 0 = swsusp_info page
    map_pages: tuple[int, ...]  # device pages of the swap-map pages, in chain order


def map_page_entries(page_size: int, sector_size: int) -> int:
    return page_size // sector_size - 1


def entry_offset(map_pages: tuple[int, ...], index: int, page_size: int,
                 sector_size: int = 8) -> int:
    """File offset of the slot holding stream entry ``index`` in the swap-map chain.

    One past the last slot of the last map page is that page's ``next_swap`` (where the chain
    ended).
    """
    per_page = map_page_entries(page_size, sector_size)
    page_idx, slot = divmod(index, per_page)
    if page_idx >= len(map_pages):
        return map_pages[-1] * page_size + per_page * sector_size
    return map_pages[page_idx] * page_size + slot * sector_size


def walk(
    buf: Any,
    first: int,
    page_size: int,
    sector_size: int = 8,
    device_pages: int | None = None,
    image_offset: int | None = None,
) -> SwapMap:
    """Follow ``next_swap`` from ``first``, bounded by the file and cycle-checked.

    Args:
        buf: the file (bytes-like / mmap).
        first: device page of the first swap-map page (``swsusp_header.image``).
        page_size: N.
        sector_size: sizeof(sector_t) on disk.
        device_pages: size of the swap device in pages when known (from ``last_page``); pointers
            at or beyond it are corrupt even if the file happens to be longer.
        image_offset: file offset of ``swsusp_header.image`` (for messages about ``first``).
    """
    dtype = np.dtype("<u8") if sector_size == 8 else np.dtype("<u4")
    per_page = map_page_entries(page_size, sector_size)
    file_pages = len(buf) // page_size
    limit = device_pages if device_pages else None
    seen: set[int] = set()
    chunks: list[np.ndarray] = []
    order: list[int] = []
    page = first
    prev_field = ("swsusp_header", image_offset, "image")
    while page:
        off = page * page_size
        if limit is not None and page >= limit:
            structure, at, field = prev_field
            raise FormatError(structure, at, field,
                              f"< {limit:#x} (device pages)", page)
        if page in seen:
            structure, at, field = prev_field
            raise FormatError(structure, at, field,
                              "a swap-map page not yet visited", page,
                              detail="the swap-map chain loops")
        if page >= file_pages:
            raise TruncatedError("swap map page", off, page_size, len(buf))
        seen.add(page)
        order.append(page)
        arr = np.frombuffer(buf, dtype=dtype, count=per_page + 1, offset=off)
        chunks.append(arr[:per_page].astype(np.uint64))
        page = int(arr[per_page])
        prev_field = ("swap map page", off, "next_swap")
    if not chunks:  # pragma: no cover - first == 0 is rejected by the header decoder
        return SwapMap(np.zeros(0, np.uint64), ())
    entries = np.concatenate(chunks)
    # An entry of 0 ends the data; the kernel clears the tail of the last map page.
    zero = np.flatnonzero(entries == 0)
    if zero.size:
        end = int(zero[0])
        tail_nonzero = np.flatnonzero(entries[end:])
        if tail_nonzero.size:
            bad = end + int(tail_nonzero[0])
            page_idx = bad // per_page
            raise FormatError(
                "swap map page",
                order[page_idx] * page_size + (bad % per_page) * sector_size,
                f"entries[{bad % per_page}]",
                "0 (the data ended at an earlier empty entry)",
                int(entries[bad]),
            )
        entries = entries[:end]
    if limit is not None and entries.size and int(entries.max()) >= limit:
        bad = int(np.flatnonzero(entries >= limit)[0])
        raise FormatError(
            "swap map page",
            order[bad // per_page] * page_size + (bad % per_page) * sector_size,
            f"entries[{bad % per_page}]",
            f"< {limit:#x} (device pages)",
            int(entries[bad]),
        )
    return SwapMap(entries, tuple(order))


def build_map_pages(entries: list[int], next_pages: list[int], page_size: int,
                    sector_size: int = 8) -> list[bytes]:
    """Build swap-map pages (for forged images): ``entries`` split over pages in order."""
    per_page = map_page_entries(page_size, sector_size)
    dtype = np.dtype("<u8") if sector_size == 8 else np.dtype("<u4")
    pages: list[bytes] = []
    for i, nxt in enumerate(next_pages):
        arr = np.zeros(per_page + 1, dtype)
        part = entries[i * per_page : (i + 1) * per_page]
        arr[: len(part)] = part
        arr[per_page] = nxt
        pages.append(arr.tobytes())
    return pages
