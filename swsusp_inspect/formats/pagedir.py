"""The PFN directory: metadata pages listing the page frame numbers that were saved.

References:
    kernel/power/snapshot.c ``pack_pfns()`` / ``unpack_orig_pfns()`` (2.6.19 -> now): each
        metadata page is an array of ``unsigned long``; after the last PFN comes
        ``BM_END_OF_MAP`` (~0UL) and the rest of the page is zero.  When the PFNs fill the last
        page exactly there is no terminator (``nr_meta_pages = DIV_ROUND_UP(nr_pfns *
        sizeof(long), PAGE_SIZE)``).
    6.6+ (commit 005e8dddd497): bit ``BITS_PER_LONG - 1`` is ``ENCODED_PFN_ZERO_FLAG``: the page
        was all zeros and has no data page; ``BM_END_OF_MAP`` is tested before the flag.
    Data page k belongs to the k-th entry without the zero flag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from swsusp_inspect.errors import FormatError

# MAXPHYADDR is at most 52 on x86_64 and arm64 (LPA); i386 PAE stops at 36 bits
MAX_PHYS_ADDR = 1 << 52


@dataclass(frozen=True)
class PfnDirectory:
    """Decoded PFN directory (bulk arrays; never per-PFN Python objects)."""

    pfns: np.ndarray  # uint64, every PFN listed, in directory order
    zero: np.ndarray  # bool, True where the entry carries ENCODED_PFN_ZERO_FLAG
    terminated: bool  # whether BM_END_OF_MAP was present

    @property
    def saved_pfns(self) -> int:
        return int(self.pfns.size)

    @property
    def zero_pages(self) -> int:
        return int(np.count_nonzero(self.zero))

    @cached_property
    def data_pfns(self) -> np.ndarray:
        """PFNs that have a data page, in data-page order (computed once; no copy when the
        directory has no zero pages)."""
        if not self.zero.any():
            return self.pfns
        out: np.ndarray = self.pfns[~self.zero]
        return out


_Error = Callable[[int, str | None, object, object], FormatError]


def _count_mismatch(
    error: _Error,
    entries: np.ndarray,
    zero: np.ndarray,
    *,
    terminated: bool,
    image_pages: int,
    word_size: int,
) -> FormatError:
    """The error for a directory whose data PFNs (the entries before the terminator not
    flagged zero) are not ``image_pages``: where BM_END_OF_MAP should have been."""
    n = int(zero.size)
    data = int(n - np.count_nonzero(zero))
    if data > image_pages:
        # the entry after the image_pages-th data PFN is where BM_END_OF_MAP belongs
        at = int(np.flatnonzero(~zero)[image_pages])
        return error(
            at * word_size,
            f"entry {at}",
            f"BM_END_OF_MAP after {image_pages} data PFNs (swsusp_info.image_pages)",
            int(entries[at]),
        )
    if not terminated:
        return error(
            (n - 1) * word_size if n else 0,
            None,
            f"BM_END_OF_MAP after {image_pages} data PFNs",
            f"no terminator in {n} entries ({data} data PFNs)",
        )
    return error(
        n * word_size,
        f"entry {n}",
        f"BM_END_OF_MAP after {image_pages} data PFNs (swsusp_info.image_pages)",
        f"BM_END_OF_MAP after {data}",
    )


def decode(
    raw: np.ndarray,
    word_size: int,
    image_pages: int,
    *,
    offset: int = 0,
    locate: Callable[[int], tuple[str, int]] | None = None,
    page_size: int = 4096,
) -> PfnDirectory:
    """Decode the concatenated metadata pages ``raw`` (uint8 array).

    Args:
        raw: the metadata pages, stream pages 1..nr_meta_pages, concatenated.
        word_size: sizeof(long) of the writer.
        image_pages: ``swsusp_info.image_pages``; must equal the number of data pages listed.
        offset: where the metadata starts (file offset, or stream offset), for messages.
        locate: maps a byte position in ``raw`` to ``(structure, file offset)`` for messages,
            for metadata pages that are not contiguous in the file (scattered swap pages,
            compressed chunks).  Default: ``("PFN directory", offset + position)``.
        page_size: N; a PFN whose physical address needs more than 52 bits (the x86_64 and
            arm64 architectural maximum) is corrupt.
    """

    def error(pos: int, field: str | None, expected: object, found: object) -> FormatError:
        structure, at = locate(pos) if locate is not None else ("PFN directory", offset + pos)
        return FormatError(structure, at, field, expected, found)

    dtype = np.dtype("<u8") if word_size == 8 else np.dtype("<u4")
    entries = raw.view(dtype)
    end_of_map = np.iinfo(dtype).max
    zero_flag = 1 << (8 * word_size - 1)
    hits = np.flatnonzero(entries == end_of_map)
    if hits.size:
        n = int(hits[0])
        terminated = True
        tail = entries[n + 1 :]
        nonzero_tail = np.flatnonzero(tail)
        if nonzero_tail.size:
            at = n + 1 + int(nonzero_tail[0])
            raise error(at * word_size, f"entry {at}", "0 after BM_END_OF_MAP", int(entries[at]))
    else:
        n = entries.size
        terminated = False
    listed = entries[:n]
    zero = listed >= dtype.type(zero_flag)
    if listed.flags.writeable and dtype.itemsize == 8:
        # in place: no second copy of a directory that can hold hundreds of millions of PFNs
        np.bitwise_and(listed, dtype.type(zero_flag - 1), out=listed)
        pfns = listed.view(np.uint64)
    else:
        pfns = (listed & dtype.type(zero_flag - 1)).astype(np.uint64)
    data = int(n - np.count_nonzero(zero))
    if data != image_pages:
        raise _count_mismatch(
            error,
            entries,
            zero,
            terminated=terminated,
            image_pages=image_pages,
            word_size=word_size,
        )
    too_high = np.flatnonzero(pfns >= np.uint64(MAX_PHYS_ADDR // page_size))
    if too_high.size:
        at = int(too_high[0])
        raise error(
            at * word_size,
            f"entry {at}",
            f"a PFN below {MAX_PHYS_ADDR // page_size:#x} (52-bit physical addresses)",
            int(pfns[at]),
        )
    if not terminated and n * word_size < raw.size:  # pragma: no cover - n == entries.size
        raise error(0, None, "BM_END_OF_MAP", "none")
    return PfnDirectory(pfns, zero, terminated)


def meta_pages_for(nr_pfns: int, word_size: int, page_size: int) -> int:
    """``DIV_ROUND_UP(nr_pfns * sizeof(long), PAGE_SIZE)`` (``swsusp_save()``)."""
    return -(-nr_pfns * word_size // page_size)


def build(pfns: np.ndarray, zero: np.ndarray | None, word_size: int, page_size: int) -> bytes:
    """Build metadata pages as ``pack_pfns()`` does (for forged images)."""
    dtype = np.dtype("<u8") if word_size == 8 else np.dtype("<u4")
    vals = pfns.astype(np.uint64)
    if zero is not None:
        vals = vals | (zero.astype(np.uint64) << np.uint64(8 * word_size - 1))
    n_pages = meta_pages_for(vals.size, word_size, page_size)
    out = np.zeros(n_pages * page_size // word_size, dtype)
    out[: vals.size] = vals.astype(dtype)
    if vals.size < out.size:
        out[vals.size] = np.iinfo(dtype).max
    return out.tobytes()
