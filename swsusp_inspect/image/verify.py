"""Reading every stream page, and the CRC32 the kernel computes over them.

References:
    kernel/power/swap.c ``crc32_threadfn()`` (3.2 -> now): ``crc32_le`` from seed 0 over the
        uncompressed stream after ``swsusp_info``, stored in ``swsusp_header.crc32`` with
        ``SF_CRC32_MODE``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from swsusp_inspect.errors import FormatError
from swsusp_inspect.formats import chunks as fchunks
from swsusp_inspect.image import banner as fbanner
from swsusp_inspect.image import salvage as fsalvage
from swsusp_inspect.image.pages import pfn_runs
from swsusp_inspect.image.parallel import can_split
from swsusp_inspect.model.details import UswsuspDetails
from swsusp_inspect.model.image import Banner, Crc32Result

if TYPE_CHECKING:
    from swsusp_inspect.image.hibernation import HibernationImage

__all__ = ["VerifyResult", "verify"]


@dataclass(frozen=True)
class VerifyResult:
    chunks: int
    stream_pages_read: int
    crc32: Crc32Result
    ok: bool
    banners: tuple[Banner, ...] = ()  # "Linux version" banners met on the way


def _span(
    image: HibernationImage, lo: int, hi: int, windows: list[tuple[int, int]]
) -> tuple[int, int, int, list[Banner], dict[int, str]]:
    """Worker (a thread or a forked process): plain zlib CRC32 (from 0), bytes, pages and
    banners of chunks ``lo..hi-1``; salvaging, the chunks that cannot be read and why."""
    crc = 0
    nbytes = 0
    npages = 0
    banners: list[Banner] = []
    failed: dict[int, str] = {}
    n = image.page_size
    for k in range(lo, hi):
        try:
            data = image.decompress_chunk(k, cache=False)
        except FormatError as exc:
            if not image.salvage:
                raise
            failed[k] = str(exc)
            continue
        crc = zlib.crc32(data, crc)
        nbytes += len(data)
        npages += len(data) // n
        banners.extend(fbanner.banners_in(image, 1 + k * fchunks.UNC_PAGES, data, windows))
    return crc, nbytes, npages, banners, failed


def _stream(image: HibernationImage) -> Iterator[tuple[int, bytes | memoryview]]:
    """``(first stream page, data)`` over the stream after page 0; salvaging, only what
    can be read (the image records the rest)."""
    if not image.salvage:
        yield from image.iter_chunks()
        return
    if image.compression != "none":
        for k in range(len(image.chunk_table)):
            try:
                yield 1 + k * fchunks.UNC_PAGES, image.decompress_chunk(k, cache=False)
            except FormatError:
                continue
        image.swept = True
        return
    bad = fsalvage.raw_unreadable(image)
    good = np.flatnonzero(~bad[1:]) + 1
    starts, lengths = pfn_runs(good)
    for a, c in zip(starts.tolist(), lengths.tolist(), strict=True):
        s0 = int(good[a])
        for s in range(s0, s0 + c, fchunks.UNC_PAGES):
            yield s, image.stream_pages(s, min(fchunks.UNC_PAGES, s0 + c - s))


def _serial(
    image: HibernationImage, windows: list[tuple[int, int]], progress: Any
) -> tuple[int, int, list[Banner]]:
    """Kernel CRC32, pages read and banners of the whole stream, in one process."""
    crc = 0
    pages_read = 0
    banners: list[Banner] = []
    n = image.page_size
    for s, data in _stream(image):
        crc = fchunks.crc32_le(crc, data)
        npages = len(data) // n
        pages_read += npages
        if windows:
            banners.extend(fbanner.banners_in(image, s, data, windows))
            if any(fbanner.has_build_number(b) for b in banners):
                windows = []  # the real linux_banner is found: stop searching
        if progress is not None:
            progress(npages)
    return crc, pages_read, banners


def _parallel(
    image: HibernationImage, jobs: int, windows: list[tuple[int, int]], progress: Any
) -> tuple[int, int, list[Banner]]:
    from zlib_ng import zlib_ng

    crc = 0
    pages_read = 0
    banners: list[Banner] = []
    mask = 0xFFFFFFFF
    for z_range, nbytes, npages, found, failed in image.map_chunk_ranges(_span, jobs, windows):
        image.failed_chunks.update(failed)
        # kernel crc32_le(seed, B) == zlib crc32(B, seed ^ ~0) ^ ~0, and zlib's
        # crc32(B, v) == crc32_combine(v, crc32(B), len(B)) for any v
        crc = zlib_ng.crc32_combine(crc ^ mask, z_range, nbytes) ^ mask
        pages_read += npages
        banners.extend(found)
        if progress is not None:
            progress(npages)
    if image.salvage:
        image.swept = True
    return crc, pages_read, banners


def verify(image: HibernationImage, progress: Any = None, *, jobs: int = 1) -> VerifyResult:
    """Read (and decompress) every stream page; compute the CRC32 the kernel computes.

    With ``jobs > 1`` a compressed image is split into contiguous ranges of chunks that
    workers decompress and checksum (threads for LZO, forked processes for LZ4: see
    :mod:`~swsusp_inspect.image.parallel`); their CRC32s are chained with zlib-ng's
    ``crc32_combine``.  The kernel banner is looked for on the way, in the kernel-text window
    :func:`~swsusp_inspect.image.banner.find_banner` searches first; the fallback window only
    when that found nothing.

    A salvaging image (``open_image(..., salvage=True)``) reads around what cannot be read:
    its ``page_states()`` then names the unreadable pages, and no CRC32 is computed.

    Raises:
        FormatError: a chunk that cannot be read or decompressed (bounds, lengths; a strict
            image).
    """
    _ = image.pagedir  # must decode too (and its chunks stay cached)
    windows = fbanner.search_windows(image)
    first, fallback = windows[:1], windows[1:]
    n_chunks = len(image.chunk_table) if image.compression != "none" else 0
    if can_split(image, jobs):
        crc, pages_read, banners = _parallel(image, jobs, first, progress)
    else:
        crc, pages_read, banners = _serial(image, first, progress)
    if not banners and fallback:
        found = fbanner.find_banner(image)
        banners = [found] if found is not None else []
    stored = image.header.crc32 if image.header else None
    # pages missing: no checksum to compare (the unreadable pages say what is wrong)
    complete = pages_read == image.info.pages - 1
    result = Crc32Result(stored, crc if stored is not None and complete else None)
    ok = result.ok is not False and pages_read == image.info.pages - 1
    # a checksum of another format, checked by its opener over the data it decoded
    # (uswsusp's MD5 of the whole stream)
    details = image.details
    if isinstance(details, UswsuspDetails) and details.checksum is not None:
        ok = ok and details.checksum.ok
    return VerifyResult(n_chunks, pages_read, result, ok, tuple(banners))
