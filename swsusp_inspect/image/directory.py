"""The PFN directory of an opened image, and placing stream pages by PFN.

The directory is read from the metadata pages (stream pages ``1 .. meta_pages``), never
allocating for more metadata than the file can hold; data pages follow it in directory order
(zero pages have none).  :class:`~swsusp_inspect.image.hibernation.HibernationImage` calls
these for ``pagedir``, ``read_page()``, ``iter_data_pages()`` and ``chunk_data_pages()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from swsusp_inspect.errors import FormatError
from swsusp_inspect.formats import chunks as fchunks
from swsusp_inspect.formats import pagedir as fpagedir

if TYPE_CHECKING:
    from swsusp_inspect.image.hibernation import HibernationImage

__all__ = ["chunk_data_pages", "data_lookup", "data_page_of", "iter_data_pages", "read_directory"]


def read_directory(image: HibernationImage) -> fpagedir.PfnDirectory:
    """Every saved PFN, decoded from the image's metadata pages."""
    meta = image.meta_pages
    if meta <= 0:
        raise FormatError(
            "swsusp_info",
            image.info.offset,
            "pages - image_pages - 1",
            "at least one metadata page",
            meta,
        )
    # never allocate for more metadata than the file can hold
    if image.compression == "none":
        if 1 + meta > image.entries.size:
            where = "swap map lists" if image.container == "swap" else "file holds"
            raise FormatError(
                "swsusp_info",
                image.info.offset,
                "pages - image_pages - 1",
                f"at most {image.entries.size - 1} metadata pages (the {where} "
                f"{image.entries.size} stream pages)",
                meta,
            )
    elif 1 + meta > 1 + fchunks.UNC_PAGES * len(image.chunk_table):  # pragma: no cover
        raise FormatError(
            "swsusp_info",
            image.info.offset,
            "pages - image_pages - 1",
            "metadata within the compressed chunks",
            meta,
        )
    # one owned, writable buffer filled a chunk at a time: decode() masks it in place,
    # so a directory of P PFNs costs about 9 bytes per PFN at its peak
    arr = np.empty(meta * image.page_size, dtype=np.uint8)
    image.read_stream_into(1, meta, arr)
    return fpagedir.decode(
        arr,
        image.word_size,
        image.info.image_pages,
        locate=lambda pos: _locate_meta(image, pos),
        page_size=image.page_size,
    )


def _locate_meta(image: HibernationImage, pos: int) -> tuple[str, int]:
    """``(structure, file offset)`` of byte ``pos`` of the PFN directory (for messages)."""
    n = image.page_size
    stream_page, within = divmod(pos, n)
    stream_page += 1
    if image.compression == "none":
        return "PFN directory", int(image.entries[stream_page]) * n + within
    k = (stream_page - 1) // fchunks.UNC_PAGES
    # inside compressed data there is no file offset: name the chunk and the position
    return (
        f"PFN directory (stream page {stream_page} + {within:#x}, "
        f"decompressed from compressed chunk {k})",
        image.chunk_location(k)[0],
    )


def data_lookup(pd: fpagedir.PfnDirectory) -> tuple[np.ndarray, np.ndarray]:
    """Sorted PFNs and, for each, its data-page index (-1 for a zero page)."""
    pfns = pd.pfns
    data_index = np.cumsum(~pd.zero) - 1
    order = np.argsort(pfns, kind="stable")
    return pfns[order], np.where(pd.zero[order], -1, data_index[order])


def data_page_of(lookup: tuple[np.ndarray, np.ndarray], pfn: int) -> int:
    """The data-page index of saved PFN ``pfn`` in :func:`data_lookup`'s ``lookup`` (-1 for a
    zero page).

    Raises:
        KeyError: ``pfn`` is not in the image (any integer, however large or negative).
    """
    sorted_pfns, index = lookup
    if not 0 <= pfn < 1 << 64:
        raise KeyError(f"PFN {pfn:#x} is not saved in this image")
    i = int(np.searchsorted(sorted_pfns, np.uint64(pfn)))
    if i >= sorted_pfns.size or int(sorted_pfns[i]) != pfn:
        raise KeyError(f"PFN {pfn:#x} is not saved in this image")
    return int(index[i])


def iter_data_pages(
    image: HibernationImage, start_data: int = 0
) -> Iterator[tuple[np.ndarray, bytes | memoryview]]:
    """``(pfns, data)`` for runs of data pages in stream order, from data page ``start_data``.

    ``data`` holds ``len(pfns)`` pages, each the content of the matching PFN.
    """
    data_pfns = image.pagedir.data_pfns
    first_stream = 1 + image.meta_pages
    s = first_stream + start_data
    end = image.info.pages
    while s < end:
        if image.compression == "none":
            take = min(fchunks.UNC_PAGES, end - s)
        else:
            within = (s - 1) % fchunks.UNC_PAGES
            take = min(fchunks.UNC_PAGES - within, end - s)
        data = image.stream_pages(s, take)
        d0 = s - first_stream
        yield data_pfns[d0 : d0 + take], data
        s += take


def chunk_data_pages(
    image: HibernationImage, k: int, data: bytes | memoryview
) -> tuple[np.ndarray, bytes | memoryview]:
    """The data pages inside decompressed chunk ``k``: ``(pfns, their bytes)`` (metadata
    pages at the start of the stream are skipped)."""
    n = image.page_size
    s = 1 + k * fchunks.UNC_PAGES
    npages = len(data) // n
    first_data = 1 + image.meta_pages
    skip = min(npages, max(0, first_data - s))
    d0 = s + skip - first_data
    return (image.pagedir.data_pfns[d0 : d0 + npages - skip], memoryview(data)[skip * n :])
