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

from swsusp_inspect.arrays import unique
from swsusp_inspect.errors import FormatError, TruncatedError


@dataclass(frozen=True)
class SwapMap:
    """Stream page -> device page, in stream order.

    A salvaging walk (``salvage=True``) never raises for the chain itself: an entry it cannot
    trust is 0 (device page 0 is the swap header, never data), ``problems`` holds the
    one-line messages the strict walk would have raised, ``complete`` says whether the chain
    ended where the kernel ended it (``next_swap`` 0), and ``cut`` that a map page lies past
    the end of the file (the dump was cut short, not trimmed).
    """

    entries: np.ndarray  # uint64 device page numbers, entry 0 = swsusp_info page
    map_pages: tuple[int, ...]  # device pages of the swap-map pages, in chain order
    problems: tuple[str, ...] = ()
    complete: bool = True
    cut: bool = False


def map_page_entries(page_size: int, sector_size: int) -> int:
    return page_size // sector_size - 1


def entry_offset(
    map_pages: tuple[int, ...], index: int, page_size: int, sector_size: int = 8
) -> int:
    """File offset of the slot holding stream entry ``index`` in the swap-map chain.

    One past the last slot of the last map page is that page's ``next_swap`` (where the chain
    ended).
    """
    per_page = map_page_entries(page_size, sector_size)
    page_idx, slot = divmod(index, per_page)
    if page_idx >= len(map_pages):
        return map_pages[-1] * page_size + per_page * sector_size
    return map_pages[page_idx] * page_size + slot * sector_size


def _dtype(sector_size: int) -> np.dtype[Any]:
    return np.dtype("<u8") if sector_size == 8 else np.dtype("<u4")


def _follow(
    buf: Any,
    first: int,
    page_size: int,
    sector_size: int,
    *,
    limit: int | None,
    image_offset: int | None,
) -> tuple[list[np.ndarray], list[int], FormatError | None]:
    """The chain's pages from ``first`` until ``next_swap`` is 0, or the error that stopped it
    (a pointer past the device, a loop, a page past the end of the file)."""
    per_page = map_page_entries(page_size, sector_size)
    file_pages = len(buf) // page_size
    seen: set[int] = set()
    chunks: list[np.ndarray] = []
    order: list[int] = []
    page = first
    prev_field = ("swsusp_header", image_offset, "image")
    while page:
        off = page * page_size
        structure, at, field = prev_field
        if limit is not None and page >= limit:
            return (
                chunks,
                order,
                FormatError(structure, at, field, f"< {limit:#x} (device pages)", page),
            )
        if page in seen:
            return (
                chunks,
                order,
                FormatError(
                    structure,
                    at,
                    field,
                    "a swap-map page not yet visited",
                    page,
                    detail="the swap-map chain loops",
                ),
            )
        if page >= file_pages:
            return chunks, order, TruncatedError("swap map page", off, page_size, len(buf))
        seen.add(page)
        order.append(page)
        arr = np.frombuffer(buf, dtype=_dtype(sector_size), count=per_page + 1, offset=off)
        chunks.append(arr[:per_page].astype(np.uint64))
        page = int(arr[per_page])
        prev_field = ("swap map page", off, "next_swap")
    return chunks, order, None


def _slot_offset(
    order: list[int], index: int, per_page: int, page_size: int, sector_size: int
) -> int:
    return order[index // per_page] * page_size + (index % per_page) * sector_size


def _check_entries(
    entries: np.ndarray,
    order: list[int],
    page_size: int,
    sector_size: int,
    *,
    limit: int | None,
    salvage: bool,
) -> tuple[np.ndarray, list[str]]:
    """Entries up to the first 0 (strict) or the last non-zero one (salvage, with bad entries
    set to 0); the strict walk's complaints as messages (raised when not salvaging)."""
    per_page = map_page_entries(page_size, sector_size)
    problems: list[str] = []
    zero = np.flatnonzero(entries == 0)
    if zero.size:
        end = int(zero[0])
        tail_nonzero = np.flatnonzero(entries[end:])
        if tail_nonzero.size:
            bad = end + int(tail_nonzero[0])
            err = FormatError(
                "swap map page",
                _slot_offset(order, bad, per_page, page_size, sector_size),
                f"entries[{bad % per_page}]",
                "0 (the data ended at an earlier empty entry)",
                int(entries[bad]),
            )
            if not salvage:
                raise err
            problems.append(str(err))
            end = int(np.flatnonzero(entries)[-1]) + 1
        entries = entries[:end]
    if limit is not None and entries.size and int(entries.max()) >= limit:
        bad = int(np.flatnonzero(entries >= limit)[0])
        err = FormatError(
            "swap map page",
            _slot_offset(order, bad, per_page, page_size, sector_size),
            f"entries[{bad % per_page}]",
            f"< {limit:#x} (device pages)",
            int(entries[bad]),
        )
        if not salvage:
            raise err
        problems.append(str(err))
        entries = np.where(entries >= limit, np.uint64(0), entries)
    return entries, problems


def walk(
    buf: Any,
    first: int,
    page_size: int,
    sector_size: int = 8,
    *,
    device_pages: int | None = None,
    image_offset: int | None = None,
    salvage: bool = False,
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
        salvage: keep what can be trusted instead of raising (see :class:`SwapMap`); the first
            map page must still be readable.
    """
    limit = device_pages if device_pages else None
    chunks, order, error = _follow(
        buf, first, page_size, sector_size, limit=limit, image_offset=image_offset
    )
    if error is not None and (not salvage or not chunks):
        raise error
    problems = [str(error)] if error is not None else []
    entries = np.concatenate(chunks) if chunks else np.zeros(0, np.uint64)
    entries, more = _check_entries(
        entries, order, page_size, sector_size, limit=limit, salvage=salvage
    )
    return SwapMap(
        entries,
        tuple(order),
        tuple(problems + more),
        complete=error is None,
        cut=isinstance(error, TruncatedError),
    )


_SCAN_BLOCK = 4096  # pages looked at per step of the continuation search
_MAX_HEADS = 64  # loose chains followed at most


def _map_page_candidates(buf: Any, page_size: int, sector_size: int, limit: int) -> np.ndarray:
    """Device pages that look like swap-map pages: a non-empty run of entries below ``limit``,
    then zeros only, ``next_swap`` below ``limit`` (0 when the page is not full), and entries
    that mostly follow one another (the kernel allocates swap pages in order)."""
    per_page = map_page_entries(page_size, sector_size)
    file_pages = len(buf) // page_size
    arr = np.frombuffer(buf, dtype=_dtype(sector_size), count=file_pages * (per_page + 1))
    arr = arr.reshape(file_pages, per_page + 1)
    found: list[np.ndarray] = []
    for lo in range(0, file_pages, _SCAN_BLOCK):
        block = arr[lo : lo + _SCAN_BLOCK]
        ent, nxt = block[:, :per_page], block[:, per_page]
        nonzero = ent != 0
        count = nonzero.sum(axis=1)
        prefix = np.where(nonzero.all(axis=1), per_page, np.argmin(nonzero, axis=1))
        ok = (count > 0) & (count == prefix) & (nxt < limit)
        ok &= ((ent < limit) | ~nonzero).all(axis=1)
        ok &= (count == per_page) | (nxt == 0)
        steps = (np.diff(ent.astype(np.int64), axis=1) == 1) & nonzero[:, 1:]
        ok &= 2 * steps.sum(axis=1) >= count - 1
        found.append(lo + np.flatnonzero(ok))
    return np.concatenate(found) if found else np.zeros(0, np.int64)


def find_continuation(
    buf: Any, smap: SwapMap, page_size: int, sector_size: int = 8, device_pages: int | None = None
) -> SwapMap | None:
    """The rest of a broken swap-map chain: the one chain of map pages, outside ``smap``, that
    nothing points to and that ends as the kernel ends one (``next_swap`` 0), listing no page
    ``smap`` lists.  None when there is none, or more than one (nothing is guessed).
    """
    file_pages = len(buf) // page_size
    # entries may point past the end of a trimmed dump, not past the device
    limit = device_pages or 2 * file_pages
    cand = _map_page_candidates(buf, page_size, sector_size, limit)
    known = np.concatenate([smap.entries, np.asarray(smap.map_pages, np.uint64)])
    cand = cand[~np.isin(cand.astype(np.uint64), known)]
    if not cand.size:
        return None
    per_page = map_page_entries(page_size, sector_size)
    nxt = np.frombuffer(buf, dtype=_dtype(sector_size), count=file_pages * (per_page + 1))
    nxt = nxt.reshape(file_pages, per_page + 1)[cand, per_page].astype(np.int64)
    heads = cand[~np.isin(cand, nxt)]
    if heads.size > _MAX_HEADS:
        return None  # more loose chains than a damaged map explains: stale data, not ours
    chains: list[SwapMap] = []
    for head in heads.tolist():
        try:
            part = walk(buf, int(head), page_size, sector_size, device_pages=device_pages)
        except FormatError:
            continue
        used = np.concatenate([part.entries, np.asarray(part.map_pages, np.uint64)])
        if (
            np.isin(np.asarray(part.map_pages), cand).all()
            and not np.isin(used, known).any()
            and unique(used).size == used.size
        ):
            chains.append(part)
    return chains[0] if len(chains) == 1 else None


def build_map_pages(
    entries: list[int], next_pages: list[int], page_size: int, sector_size: int = 8
) -> list[bytes]:
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
