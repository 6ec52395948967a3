"""Reading a damaged image page by page: what is lost, and everything that is not.

A salvaging image (``open_image(..., salvage=True)``) knows some losses from its structure
when it opens (chunks the resynchronising walk could not place or whose pages are past the end
of the file, swap-map entries the damaged map lost, raw pages past the end of a cut dump) and
learns the others by reading (a chunk that does not decompress).  Nothing here fills a page
with zeros: a page is read, or it is named as lost with the strict reader's message.

References:
    kernel/power/swap.c ``load_compressed_image()`` / ``load_image()``: the kernel gives up
        at the first error; see :mod:`~swsusp_inspect.formats.resync` for how chunks after
        damage are found and numbered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from swsusp_inspect.errors import FormatError, SwsuspError, TruncatedError
from swsusp_inspect.formats import chunks as fchunks
from swsusp_inspect.image.pages import Lost, pfn_runs

if TYPE_CHECKING:
    from swsusp_inspect.formats.opened import OpenOptions
    from swsusp_inspect.image.hibernation import HibernationImage
    from swsusp_inspect.transport import Source

__all__ = ["check_all", "check_raw", "iter_readable", "lost_pages", "strict_error"]


def _listed(image: HibernationImage) -> int:
    """Stream pages an uncompressed image lists (never more than the map or file holds)."""
    return min(int(image.entries.size), image.info.pages)


def raw_unreadable(image: HibernationImage) -> np.ndarray:
    """Per listed stream page of an uncompressed image: True where it cannot be read
    (computed once; pages past the listed ones are lost too, see :func:`lost_pages`)."""
    cached = image.__dict__.get("_raw_unreadable")
    if cached is not None:
        return np.asarray(cached)
    ent = image.entries
    listed = _listed(image)
    bad = np.zeros(listed, bool)
    if image.container == "swap":
        bad[1:] |= ent[1:listed] == 0
    # past the end of the file: a cut dump lost them; a dump trimmed after its last non-zero
    # page did not (zeros, within the device's size, as the strict reader reads them)
    beyond = ent[:listed] >= image.file_size // image.page_size
    if not image.cut and image.device_pages:
        beyond &= ent[:listed] >= image.device_pages
    bad |= beyond
    bad[: 1 + image.meta_pages] = False  # the directory read, or the image did not open
    image.__dict__["_raw_unreadable"] = bad
    return bad


def _raw_reason(image: HibernationImage, first: int) -> str:
    ent, n = image.entries, image.page_size
    if first < ent.size and int(ent[first]) == 0:
        located = [p for p in image.problems if " at 0x" in p and "entries[" in p]
        return (
            located[0]
            if located
            else str(
                FormatError(
                    "swap map page",
                    image._entry_offset(first),
                    f"entry {first}",
                    "the device page of a stream page",
                    "an entry the damaged map lost",
                )
            )
        )
    if first >= ent.size and image.problems:
        return image.problems[0]  # the map broke off before listing it
    if first < ent.size:
        at = int(ent[first]) * n
    else:  # a stream's page s is at s * N; a map's unlisted entry has no place
        at = first * n if image.container == "stream" else image.file_size
    return str(TruncatedError("image data page", at, n, image.file_size))


def _raw_lost(image: HibernationImage) -> list[Lost]:
    stream = np.flatnonzero(raw_unreadable(image))
    starts, lengths = pfn_runs(stream)
    out = [
        Lost(int(stream[s]), c, _raw_reason(image, int(stream[s])))
        for s, c in zip(starts.tolist(), lengths.tolist(), strict=True)
    ]
    listed = _listed(image)
    if listed < image.info.pages:  # a map or stream that ends before the image does
        out.append(Lost(listed, image.info.pages - listed, _raw_reason(image, listed)))
    return out


def lost_pages(image: HibernationImage) -> list[Lost]:
    """Every stream page known to be unreadable so far, with the reason (empty unless
    salvaging)."""
    if not image.salvage:
        return []
    if image.compression == "none":
        return _raw_lost(image)
    table = image.chunk_table
    why = {**table.lost, **image.failed_chunks}
    return [
        Lost(1 + k * fchunks.UNC_PAGES, int(table.unc_pages[k]), reason)
        for k, reason in sorted(why.items())
    ]


def check_raw(image: HibernationImage, start: int, count: int) -> None:
    """Raise the reason when a stream page in ``start .. start + count - 1`` is lost."""
    listed = raw_unreadable(image)
    bad = listed[start : start + count]
    if bad.any():
        first = start + int(np.argmax(bad))
    elif start + count > listed.size:
        first = max(start, listed.size)
    else:
        return
    for lost in _raw_lost(image):
        if lost.first <= first < lost.first + lost.count:
            raise FormatError(lost.reason, None)


Pages = Iterator[tuple[int, np.ndarray, bytes | memoryview]]


def _strict(image: HibernationImage, start_data: int) -> Pages:
    d0 = start_data
    for pfns, data in image.iter_data_pages(start_data):
        yield d0, pfns, data
        d0 += int(pfns.size)


def _readable_raw(image: HibernationImage, start_data: int) -> Pages:
    bad = raw_unreadable(image)
    data_pfns = image.pagedir.data_pfns
    first_stream = 1 + image.meta_pages
    end = bad.size
    step = fchunks.UNC_PAGES
    for s in range(first_stream + start_data, end, step):
        take = min(step, end - s)
        good = np.flatnonzero(~bad[s : s + take])
        starts, lengths = pfn_runs(good)
        for a, c in zip(starts.tolist(), lengths.tolist(), strict=True):
            s0 = s + int(good[a])
            d0 = s0 - first_stream
            yield d0, data_pfns[d0 : d0 + c], image.stream_pages(s0, c)


def _readable_chunks(image: HibernationImage, start_data: int) -> Pages:
    first_stream = 1 + image.meta_pages
    n = image.page_size
    k0 = (first_stream + start_data - 1) // fchunks.UNC_PAGES
    for k in range(k0, len(image.chunk_table)):
        try:
            data = image.decompress_chunk(k, cache=False)
        except FormatError:
            continue  # lost, or does not decompress: named by page_states()
        pfns, pages = image.chunk_data_pages(k, data)
        d_first = max(0, 1 + k * fchunks.UNC_PAGES - first_stream)
        skip = max(0, start_data - d_first)
        if skip:
            pfns, pages = pfns[skip:], memoryview(pages)[skip * n :]
        if pfns.size:
            yield d_first + skip, pfns, pages
    if start_data == 0:
        image.swept = True


def iter_readable(image: HibernationImage, start_data: int = 0) -> Pages:
    """``(first data-page index, pfns, data)`` of the readable data pages in stream order,
    from data page ``start_data`` (a strict image reads every page, or raises)."""
    if not image.salvage:
        return _strict(image, start_data)
    if image.compression == "none":
        return _readable_raw(image, start_data)
    return _readable_chunks(image, start_data)


def _try_range(image: HibernationImage, lo: int, hi: int) -> dict[int, str]:
    """Worker: which chunks of ``lo..hi-1`` do not decompress, and why."""
    failed: dict[int, str] = {}
    for k in range(lo, hi):
        if k in image.chunk_table.lost:
            continue
        try:
            image.decompress_chunk(k, cache=False)
        except FormatError as exc:
            failed[k] = str(exc)
    return failed


def check_all(image: HibernationImage, jobs: int = 1) -> None:
    """Try every chunk not tried yet, so that the image knows all it cannot read."""
    if not image.salvage or image.compression == "none" or image.swept:
        return
    from swsusp_inspect.image.parallel import can_split

    if can_split(image, jobs):
        for failed in image.map_chunk_ranges(_try_range, jobs):
            image.failed_chunks.update(failed)
    else:
        image.failed_chunks.update(_try_range(image, 0, len(image.chunk_table)))
    image.swept = True


def strict_error(source: Source, options: OpenOptions) -> SwsuspError | None:
    """What the strict reader says about an input a salvaging one could not open (the
    header, ``swsusp_info`` or the PFN directory unreadable): its message, not the
    salvager's, which may have read past where the strict one stopped."""
    from swsusp_inspect.formats.detect import detect
    from swsusp_inspect.image.hibernation import HibernationImage

    strict = dataclasses.replace(options, salvage=False)
    try:
        _ = HibernationImage(source, detect(source.buf, strict), strict).pagedir
    except SwsuspError as exc:
        return exc
    return None  # pragma: no cover - the strict reader fails where the salvager does
