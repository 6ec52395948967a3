"""Physical memory of the hibernated kernel, read out of an opened image.

A hibernation image is a copy of the kernel's page frames: every saved PFN has its page's
bytes (or, 6.6+, a "zero page" flag meaning the page was all zero when copied).  This module
reads that memory by physical address, across pages, with a bounded page cache, and says
clearly when an address lies in a page the image did not save (:class:`NotInImageError`):
unsaved memory is never read as zeros.

The kernel layer depends on the opened image only through :class:`ImageLike` (a
``typing.Protocol``): ``page_size``, ``word_size``, ``info.arch``, ``info.version_code``,
``pagedir.pfns`` / ``pagedir.zero``, ``read_page(pfn)`` and ``iter_data_pages()``.
:func:`swsusp_inspect.open_image` objects satisfy it, and so does
:class:`swsusp_inspect.kernel.excerpt.MemoryExcerpt` (a few recorded pages of a real image).

References:
    kernel/power/snapshot.c ``copy_data_pages()`` / ``swsusp_save()`` (2.6.x -> now): the
        saved page frames; ``pack_pfns()`` with ``ENCODED_PFN_ZERO_FLAG`` (6.6+, "PM:
        hibernate: don't store zero pages in the image file"): pages saved as zero have no data.
    drgn ``libdrgn/memory_reader.c`` and crash ``memory.c`` (models for "a fault is an
        answer": reads of unmapped physical memory raise a fault naming the address).
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from swsusp_inspect.errors import (
    KernelDataError,
    KernelMemoryError,
    NotInImageError,
    TranslationError,
)
from swsusp_inspect.model import ArchRecord

__all__ = [
    "ImageLike",
    "KernelDataError",
    "KernelMemoryError",
    "NotInImageError",
    "PhysicalMemory",
    "TranslationError",
]


# -- the narrow surface of an opened image ---------------------------------------------------


class InfoLike(Protocol):
    @property
    def arch(self) -> ArchRecord | None: ...

    @property
    def version_code(self) -> int: ...

    @property
    def uts(self) -> UtsLike | None: ...


class UtsLike(Protocol):
    @property
    def machine(self) -> str: ...


class PagedirLike(Protocol):
    @property
    def pfns(self) -> npt.NDArray[np.uint64]: ...

    @property
    def zero(self) -> npt.NDArray[np.bool_]: ...


class ImageLike(Protocol):
    """What the kernel layer uses of an opened hibernation image (and nothing else)."""

    @property
    def page_size(self) -> int: ...

    @property
    def word_size(self) -> int: ...

    @property
    def info(self) -> InfoLike: ...

    @property
    def pagedir(self) -> PagedirLike: ...

    def read_page(self, pfn: int) -> bytes:
        """The saved page ``pfn`` (zeros for a page saved as zero); KeyError if not saved."""
        ...

    def iter_data_pages(self) -> Iterator[tuple[npt.NDArray[np.uint64], bytes | memoryview]]:
        """``(pfns, data)`` runs of data pages in stream order."""
        ...


# -- physical memory -----------------------------------------------------------------------------


class PhysicalMemory:
    """Read the saved kernel's memory by physical address.

    Args:
        image: an opened image (anything satisfying :class:`ImageLike`).
        cache_pages: most pages kept in the cache (LRU); a read that spans more pages than
            ``bulk_pages`` is served without filling the cache, so one large read cannot evict
            the small structures read around it.

    Attributes:
        page_size, word_size: the image's.
        reads: PFNs read through this object so far (a set; for recording excerpts).
    """

    def __init__(
        self,
        image: ImageLike,
        *,
        cache_pages: int = 4096,
        bulk_pages: int = 64,
        record: bool = False,
    ) -> None:
        self.image = image
        self.page_size = int(image.page_size)
        self.word_size = int(image.word_size)
        self.page_shift = self.page_size.bit_length() - 1
        self._cache: OrderedDict[int, bytes] = OrderedDict()
        self._cache_pages = max(16, cache_pages)
        self._bulk_pages = bulk_pages
        self._missing: set[int] = set()
        self._saved: npt.NDArray[np.uint64] | None = None
        self.reads: set[int] | None = set() if record else None
        self.word = "<Q" if self.word_size == 8 else "<I"
        self.word_dtype = np.dtype("<u8") if self.word_size == 8 else np.dtype("<u4")

    # -- which page frames are saved
    @property
    def saved_pfns(self) -> npt.NDArray[np.uint64]:
        """The saved PFNs, sorted (zero pages included)."""
        if self._saved is None:
            self._saved = np.sort(np.asarray(self.image.pagedir.pfns, dtype=np.uint64))
        return self._saved

    @property
    def saved_bytes(self) -> int:
        """Bytes of memory the image saved (no read can justify more)."""
        return int(self.saved_pfns.size) * self.page_size

    def is_saved(self, pfns: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Vectorised: which of ``pfns`` the image saved."""
        p = np.asarray(pfns, dtype=np.uint64)
        s = self.saved_pfns
        if s.size == 0:
            return np.zeros(p.shape, dtype=bool)
        i = np.searchsorted(s, p)
        i = np.minimum(i, s.size - 1)
        return np.asarray(s[i] == p)

    def has(self, address: int, size: int = 1) -> bool:
        """Whether every page of ``[address, address + size)`` is in the image."""
        if address < 0 or size <= 0:
            return False
        first = address >> self.page_shift
        last = (address + size - 1) >> self.page_shift
        return bool(self.is_saved(np.arange(first, last + 1, dtype=np.uint64)).all())

    # -- pages
    def page(self, pfn: int, what: str | None = None) -> bytes:
        """The saved page ``pfn``.

        Raises:
            NotInImageError: the image did not save that page frame.
        """
        cached = self._cache.get(pfn)
        if cached is not None:
            self._cache.move_to_end(pfn)
            return cached
        data = self._fetch(pfn, what)
        self._cache[pfn] = data
        if len(self._cache) > self._cache_pages:
            self._cache.popitem(last=False)
        return data

    def _fetch(self, pfn: int, what: str | None) -> bytes:
        if pfn < 0 or pfn in self._missing:
            raise NotInImageError(max(pfn, 0) << self.page_shift, max(pfn, 0), what)
        try:
            data = self.image.read_page(pfn)
        except KeyError:
            self._missing.add(pfn)
            raise NotInImageError(pfn << self.page_shift, pfn, what) from None
        if self.reads is not None:
            self.reads.add(pfn)
        return bytes(data)

    def read(self, address: int, size: int, what: str | None = None) -> bytes:
        """``size`` bytes from physical ``address`` (may cross pages).

        Raises:
            NotInImageError: a page of the range is not in the image (names the first one).
        """
        if size <= 0:
            return b""
        if address < 0:
            raise NotInImageError(address, -1, what)
        if size > self.saved_bytes:
            raise KernelDataError(
                what or "read",
                address,
                "size",
                f"<= {self.saved_bytes:#x} (all the memory the image saved)",
                size,
                space="phys",
            )
        shift = self.page_shift
        first = address >> shift
        last = (address + size - 1) >> shift
        if first == last:
            off = address - (first << shift)
            return self.page(first, what)[off : off + size]
        bulk = last - first + 1 > self._bulk_pages
        parts = []
        for pfn in range(first, last + 1):
            page = self._cache.get(pfn)
            if page is None:
                page = self._fetch(pfn, what) if bulk else self.page(pfn, what)
            parts.append(page)
        blob = b"".join(parts)
        off = address - (first << shift)
        return blob[off : off + size]

    def read_u8(self, address: int, what: str | None = None) -> int:
        return self.read(address, 1, what)[0]

    def read_u16(self, address: int, what: str | None = None) -> int:
        return int(struct.unpack("<H", self.read(address, 2, what))[0])

    def read_u32(self, address: int, what: str | None = None) -> int:
        return int(struct.unpack("<I", self.read(address, 4, what))[0])

    def read_u64(self, address: int, what: str | None = None) -> int:
        return int(struct.unpack("<Q", self.read(address, 8, what))[0])

    def read_word(self, address: int, what: str | None = None) -> int:
        """An ``unsigned long`` of the image's kernel."""
        return int(struct.unpack(self.word, self.read(address, self.word_size, what))[0])

    # -- vectorised
    def gather(
        self, addresses: npt.ArrayLike, dtype: npt.DTypeLike
    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]:
        """Read one ``dtype`` value at each physical address (vectorised).

        Values must not cross a page boundary (naturally aligned values never do).  Returns
        ``(values, ok)``: ``ok`` is False where the page is not in the image (value 0 there)
        or the value would cross a page.
        """
        dt = np.dtype(dtype)
        addrs = np.asarray(addresses, dtype=np.uint64).ravel()
        values = np.zeros(addrs.shape, dtype=dt)
        ok = np.zeros(addrs.shape, dtype=bool)
        if addrs.size == 0:
            return values, ok
        shift = np.uint64(self.page_shift)
        pfns = addrs >> shift
        within = (addrs & np.uint64(self.page_size - 1)).astype(np.int64)
        fits = within + dt.itemsize <= self.page_size
        saved = self.is_saved(pfns) & fits
        if not saved.any():
            return values, ok
        upfns, inverse = np.unique(pfns[saved], return_inverse=True)
        buf = np.empty((upfns.size, self.page_size), dtype=np.uint8)
        good = np.ones(upfns.size, dtype=bool)
        for i, pfn in enumerate(upfns.tolist()):  # one Python step per distinct page
            try:
                buf[i] = np.frombuffer(self.page(int(pfn)), dtype=np.uint8)
            except NotInImageError:
                good[i] = False
        idx = np.flatnonzero(saved)
        rows = inverse.ravel()
        w = within[idx]
        if not np.any(w % dt.itemsize):
            vals = buf.view(dt)[rows, w // dt.itemsize]
        else:
            flat = buf.reshape(-1)
            base = rows.astype(np.int64) * self.page_size + w
            gathered = np.stack([flat[base + k] for k in range(dt.itemsize)], axis=1)
            vals = np.ascontiguousarray(gathered).view(dt).ravel()
        values[idx] = vals
        ok[idx] = good[rows]
        values[~ok] = 0
        return values, ok

    def gather_words(
        self, addresses: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
        """Vectorised ``unsigned long`` reads, widened to uint64."""
        v, ok = self.gather(addresses, self.word_dtype)
        return v.astype(np.uint64), ok

    # -- sweeping
    def iter_saved_data(self) -> Iterable[tuple[npt.NDArray[np.uint64], bytes | memoryview]]:
        """The image's data pages in stream order (bounded sweep; see ImageLike).  An image
        read around damage (``iter_readable``) is swept around its unreadable pages, so one
        lost chunk does not end a search through the rest."""
        readable = getattr(self.image, "iter_readable", None)
        if readable is None:
            return self.image.iter_data_pages()
        return ((pfns, data) for _, pfns, data in readable())

    def pages_holding(self, needle: bytes) -> npt.NDArray[np.uint64]:
        """Saved PFNs worth trying first in a search for ``needle`` (stream order): the image's
        shortlist where it offers one (``pages_holding``, found in the file without
        decompressing), else none.  A shortlist may miss pages: sweep after it."""
        finder = getattr(self.image, "pages_holding", None)
        if finder is None:
            return np.empty(0, np.uint64)
        return np.asarray(finder(needle), np.uint64)

    def clear_cache(self) -> None:
        self._cache.clear()
