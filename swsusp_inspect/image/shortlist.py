"""Which saved pages may hold a byte string, found in the file without decompressing it.

A search through the saved kernel's memory (the VMCOREINFO note, for one) otherwise
decompresses every chunk until it meets what it looks for.  The file itself can be searched at
memory speed: a raw image stores each page as it was, and a compressor emits the first
occurrence of a string in a chunk as literal bytes unless an earlier stretch of the same chunk
repeats part of it.  So the pages (raw) or chunks (compressed) whose stored bytes hold the
string literally are a shortlist to try first.  A shortlist, not a census: a compressed chunk
can encode the string as back-references, a match can straddle two swap slots that are not
adjacent in the file, and an image whose stored pages are transformed (s2disk's encryption)
has none.  The caller tries the shortlist, then sweeps as before.

Every VMCOREINFO note of the real samples (LZO and LZ4, 6.1 to 7.2, x86_64, i386, arm64, a
1.49 GiB image) sits in a chunk whose compressed bytes hold ``VMCOREINFO`` literally.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from swsusp_inspect.arrays import unique
from swsusp_inspect.errors import SwsuspError
from swsusp_inspect.formats import chunks as fchunks

if TYPE_CHECKING:
    from swsusp_inspect.image.hibernation import HibernationImage

__all__ = ["MAX_HITS", "pages_holding"]

MAX_HITS = 256  # matches looked at in the file (a hostile file can hold millions)

_NONE = np.empty(0, np.uint64)


def _file_slots(buf: bytes, needle: bytes, page_size: int) -> np.ndarray:
    """File page numbers holding a match (both pages of a match across a boundary), at most
    :data:`MAX_HITS` matches."""
    slots: list[int] = []
    pos = buf.find(needle)
    while pos >= 0 and len(slots) < 2 * MAX_HITS:
        slots.append(pos // page_size)
        slots.append((pos + len(needle) - 1) // page_size)
        pos = buf.find(needle, pos + 1)
    return unique(np.asarray(slots, np.int64))


def pages_holding(image: HibernationImage, needle: bytes) -> np.ndarray:
    """Data PFNs, in stream order, whose stored bytes hold ``needle`` literally: each such
    raw page, or every data page of each such compressed chunk (empty when the file cannot
    be searched this way, or the map cannot be walked)."""
    buf = image.buf
    if not needle or image.page_transform is not None or not hasattr(buf, "find"):
        return _NONE
    n = image.page_size
    slots = _file_slots(buf, needle, n)
    if not slots.size:
        return _NONE
    entries = image.entries.astype(np.int64, copy=False)
    stream = np.flatnonzero(np.isin(entries, slots))  # stream-page (entry) indices
    stream = stream[stream >= 1]
    try:
        if image.compression != "none":
            stream = _chunk_pages(image, stream)
        data_pfns = image.pagedir.data_pfns
    except SwsuspError:
        return _NONE
    d = stream - 1 - image.meta_pages
    d = d[(d >= 0) & (d < data_pfns.size)]
    found: np.ndarray = data_pfns[unique(d)]
    return found


def _chunk_pages(image: HibernationImage, idx: np.ndarray) -> np.ndarray:
    """The stream pages of every chunk holding one of the swap-map entries ``idx``."""
    table = image.chunk_table.ensure_all()
    # chunks in map order (a salvaging table marks those it could not place with -1)
    chunks = np.flatnonzero(table.first_entry >= 0)
    chunks = chunks[np.argsort(table.first_entry[chunks], kind="stable")]
    first = table.first_entry[chunks]
    at = np.searchsorted(first, idx, side="right") - 1
    inside = at >= 0
    at, idx = at[inside], idx[inside]
    c = chunks[at]
    k = unique(c[idx < table.first_entry[c] + table.n_pages[c]])
    step = fchunks.UNC_PAGES
    out = [np.arange(1 + j * step, 1 + j * step + int(table.unc_pages[j])) for j in k.tolist()]
    return np.concatenate(out) if out else np.empty(0, np.int64)
