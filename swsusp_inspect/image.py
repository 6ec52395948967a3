"""HibernationImage: one opened image, its headers, PFN directory and page access.

Detection is by content only (never a version flag): the signature at the end of the first page
(4 KiB..64 KiB) of the swap area, else a ``/dev/snapshot`` stream starting with ``swsusp_info``.
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
import os
import re
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from swsusp_inspect.errors import (
    FormatError,
    NotAnImageError,
    SwsuspError,
    TruncatedError,
    UnsupportedFormatError,
)
from swsusp_inspect.formats import chunks as fchunks
from swsusp_inspect.formats import pagedir as fpagedir
from swsusp_inspect.formats import signatures, snapshot, swap, swapmap
from swsusp_inspect.model import (
    SF_COMPRESSION_ALG_LZ4,
    SF_NOCOMPRESS_MODE,
    Banner,
    Crc32Result,
    SnapshotInfo,
    SwsuspHeader,
)
from swsusp_inspect.transport import Source, open_source

__all__ = ["HibernationImage", "VerifyResult", "open_image"]

# __START_KERNEL_map on x86_64: kernel-text virtual addresses are phys + this - phys_base.
X86_64_START_KERNEL_MAP = 0xFFFFFFFF80000000

_BANNER_RE = re.compile(rb"Linux version ([^\s\0]+) [\x20-\x7e]{0,400}\n\0")


_FORKED_IMAGE: HibernationImage | None = None


def _can_fork() -> bool:
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def _run_forked(worker: Any, lo: int, hi: int,
                part: tuple[np.ndarray, np.ndarray, np.ndarray], args: tuple[Any, ...]) -> Any:
    image = _FORKED_IMAGE
    assert image is not None
    image.chunk_table.adopt(lo, part)
    _prefault(image, lo, hi)
    return worker(image, lo, hi, *args)


MADV_POPULATE_READ = 22  # Linux 5.14+: map the pages now instead of one fault at a time


def _prefault(image: HibernationImage, lo: int, hi: int) -> None:
    """Populate this process's page tables for chunks ``lo..hi-1`` in one call: a forked
    worker otherwise takes a minor fault per 4 KiB page of the shared mapping."""
    buf = image.buf
    if not hasattr(buf, "madvise") or hi <= lo:
        return
    t = image.chunk_table
    first = int(t.first_entry[lo])
    last = int(t.first_entry[hi - 1] + t.n_pages[hi - 1]) - 1
    pages = image.entries[first : last + 1]
    start = int(pages.min()) * image.page_size
    end = min(len(buf), (int(pages.max()) + 1) * image.page_size)
    align = mmap.ALLOCATIONGRANULARITY
    start -= start % align
    if end <= start:
        return
    with contextlib.suppress(OSError, ValueError):
        buf.madvise(MADV_POPULATE_READ, start, end - start)


def _verify_span_forked(image: HibernationImage, lo: int, hi: int,
                        windows: list[tuple[int, int]]) -> tuple[int, int, int, list[Banner]]:
    """Worker: plain zlib CRC32 (from 0), bytes, pages and banners of chunks ``lo..hi-1``."""
    import zlib

    crc = 0
    nbytes = 0
    npages = 0
    banners: list[Banner] = []
    n = image.page_size
    data_pfns = image.pagedir.data_pfns
    first_data = 1 + image.meta_pages
    for k in range(lo, hi):
        data = image._decompress_uncached(k)
        crc = zlib.crc32(data, crc)
        nbytes += len(data)
        npages += len(data) // n
        banners.extend(_banners_in(image, 1 + k * fchunks.UNC_PAGES, data, data_pfns,
                                   first_data, windows))
    return crc, nbytes, npages, banners


def _verify_span(image: HibernationImage, lo: int, hi: int | None,
                 windows: list[tuple[int, int]], progress: Any
                 ) -> tuple[int, int, list[Banner]]:
    """Serial verify: kernel CRC32, pages read and banners of the whole stream."""
    crc = 0
    pages_read = 0
    banners: list[Banner] = []
    data_pfns = image.pagedir.data_pfns
    first_data = 1 + image.meta_pages
    n = image.page_size
    for s, data in image.iter_chunks():
        crc = fchunks.crc32_le(crc, data)
        npages = len(data) // n
        pages_read += npages
        if windows:
            banners.extend(_banners_in(image, s, data, data_pfns, first_data, windows))
            if any(_BUILD_NUMBER_RE.search(b.banner) for b in banners):
                windows = []  # the real linux_banner is found: stop searching
        if progress is not None:
            progress(npages)
    return crc, pages_read, banners


def _banners_in(image: HibernationImage, s: int, data: bytes | memoryview,
                data_pfns: np.ndarray, first_data: int,
                windows: list[tuple[int, int]]) -> list[Banner]:
    """Banners in stream pages ``s..`` held in ``data``, if they fall in a search window."""
    n = image.page_size
    npages = len(data) // n
    if s + npages <= first_data:
        return []
    skip = max(0, first_data - s)
    d0 = s + skip - first_data
    pfns = data_pfns[d0 : d0 + npages - skip]
    if not pfns.size:
        return []
    lo, hi = int(pfns.min()), int(pfns.max())
    if not any(lo < w_hi and hi >= w_lo for w_lo, w_hi in windows):
        return []
    if not _has_banner_prefix(data):
        return []
    return image._search_banner(pfns, memoryview(data)[skip * n :])


def _has_banner_prefix(data: bytes | memoryview) -> bool:
    # bytes.find is a fast memmem; a regex scan of every chunk costs a quarter of `verify`
    raw = data if isinstance(data, bytes) else bytes(data)
    return raw.find(b"Linux version ") >= 0


_BUILD_NUMBER_RE = re.compile(r"\) #\d+ ")


@dataclass(frozen=True)
class VerifyResult:
    chunks: int
    stream_pages_read: int
    crc32: Crc32Result
    ok: bool
    banners: tuple[Banner, ...] = ()  # "Linux version" banners met on the way


class HibernationImage:
    """An opened hibernation image (read-only; close it, or use ``with``).

    Attributes:
        path: the input path.
        container: ``"swap"`` (a swap device/partition dump) or ``"stream"`` (/dev/snapshot).
        page_size: N.
        header: ``swsusp_header`` (None for a stream).
        info: ``swsusp_info``.
        entries: device page of each stream page (swap) / stream page numbers (stream).
    """

    def __init__(self, source: Source, *, resume_offset: int = 0,
                 passphrase: str | bytes | None = None,
                 page_offset: int | None = None) -> None:
        self.source = source
        self.path = source.path
        self.buf = source.buf
        self.resume_offset = resume_offset
        self.page_offset = page_offset  # PAGE_OFFSET for legacy eras listing virtual addresses
        # set by an opener: (image, first stream page, count, raw pages) -> pages (decryption)
        self.page_transform: Any = None
        self.header: SwsuspHeader | None = None
        self.device_pages: int | None = None
        self.map_pages: tuple[int, ...] = ()
        self._chunk_cache: OrderedDict[int, bytes] = OrderedDict()
        self.era = "unknown"  # which writer family: "2.6.20+", "stream", or a legacy era
        self.details: dict[str, Any] = {}  # format-specific facts for reports (legacy, uswsusp)
        self.passphrase = passphrase  # for openers of encrypted formats (uswsusp)
        self._detect()

    # -- opening -------------------------------------------------------------------------

    def _detect(self) -> None:
        buf = self.buf
        if self.resume_offset:
            hit = None
            for ps in signatures.PAGE_SIZES:
                hit = signatures.sniff(buf, self.resume_offset * ps)
                if hit is not None and hit.page_size == ps:
                    break
                hit = None
        else:
            hit = signatures.sniff(buf, 0)
        base = 0 if hit is None else hit.offset + 10 - hit.page_size
        if signatures.is_tuxonice(buf, base):
            raise UnsupportedFormatError(
                "TuxOnIce hibernation image (magic ed c3 02 e9 98 56 e5 0c at offset "
                f"{base:#x}): recognised, not supported"
            )
        if hit is not None:
            kind = hit.signature.kind
            if kind == "swap":
                raise NotAnImageError(
                    f"no hibernation image: page {self.resume_offset} ends with "
                    f"{hit.raw.decode('ascii', 'replace')!r} at {hit.offset:#x} (plain swap area)"
                )
            self.container = "swap"
            self.page_size = hit.page_size
            self.era = "2.6.20+"
            if kind == "unsupported":
                opener = _other_reader(hit.signature.name)
                if opener is None:
                    raise UnsupportedFormatError(
                        f"{hit.signature.name} signature at {hit.offset:#x}: "
                        f"{hit.signature.era}; recognised, not readable by this version"
                    )
                opener(self, hit, base)
                return
            try:
                self._open_swap(base)
            except FormatError:
                # S1SUSPEND was also written by 2.6.9-2.6.19, whose headers and maps differ
                opener = _other_reader("S1SUSPEND-legacy")
                if opener is None or not opener(self, hit, base, probe=True):
                    raise
            else:
                # 64-bit 2.6.17-2.6.18 share this header and map but list virtual addresses
                opener = _other_reader("S1SUSPEND-legacy")
                if opener is not None and self.header is not None \
                        and self.header.layout == "2.6.20-2.6.22":
                    opener(self, hit, base, probe=True)
            return
        stream = snapshot.sniff_stream(buf)
        if stream is not None:
            self.container = "stream"
            self.era = "stream"
            self.page_size, word = stream
            self.info = snapshot.decode_info(buf, 0, self.page_size, word)
            # pages is read from the file: list no more stream pages than the file can hold
            # (one past its end, so reading that one reports the truncation)
            n_listed = min(self.info.pages, len(buf) // self.page_size + 1)
            self.entries = np.arange(n_listed, dtype=np.uint64)
            return
        # 64-bit 2.5.48-2.6.8: link.next overwrote all of "S1SUSP...." but "S1"/"S2"
        opener = _other_reader("S1SUSP-short")
        if opener is not None and opener(self, None, 0, probe=True):
            return
        base = self.resume_offset * 4096
        tail = bytes(buf[base + 4086 : base + 4096]) if len(buf) >= base + 4096 else b""
        shown = (f"page {self.resume_offset} ends with {tail!r} at {base + 4086:#x}" if tail
                 else f"file ends at {len(buf):#x}")
        raise NotAnImageError(
            f"no hibernation image: {shown}; no swap or hibernation signature at the end of the "
            "first 4-64 KiB and no swsusp_info at offset 0"
        )

    def _open_swap(self, base: int) -> None:
        n = self.page_size
        version, last_page = swap.decode_swap_info(self.buf, base)
        # last_page counts from the swap area's start; pointers count from the device's.
        if version == 1 and last_page:
            self.device_pages = self.resume_offset + last_page + 1
        self.header = swap.decode_header(self.buf, base, n)
        # swsusp_header.image sits at N-24-S (2.6.23+) or N-20-S (2.6.20-2.6.22)
        tail = 24 if self.header.layout == "2.6.23+" else 20
        smap = swapmap.walk(self.buf, self.header.image, n, self.header.sector_size,
                            self.device_pages,
                            image_offset=base + n - tail - self.header.sector_size)
        self.map_pages = smap.map_pages
        self.entries = smap.entries
        if not self.entries.size:
            raise FormatError("swap map page", self.header.image * n, "entries[0]",
                              "the swsusp_info page", 0)
        info_off = int(self.entries[0]) * n
        if info_off + n > len(self.buf):
            raise TruncatedError("swsusp_info", info_off, n, len(self.buf))
        self.info = self._decode_info(info_off)
        if self.compression == "none":
            needed = self.info.pages
        else:  # the swsusp_info page, then at least one page per 32-page chunk
            needed = 1 + -(-(self.info.pages - 1) // fchunks.UNC_PAGES)
        if self.entries.size < needed:
            raise FormatError("swap map", self.header.image * n, None,
                              f"{needed:#x} entries (swsusp_info.pages = {self.info.pages:#x})",
                              self.entries.size)

    def _decode_info(self, off: int) -> SnapshotInfo:
        try:
            return snapshot.decode_info(self.buf, off, self.page_size, 8)
        except FormatError:
            # i386 writers: 4-byte longs in swsusp_info (sector_t stays 8 bytes since 5.2)
            try:
                return snapshot.decode_info(self.buf, off, self.page_size, 4)
            except FormatError:
                pass
            raise

    # -- basic properties ----------------------------------------------------------------

    @property
    def word_size(self) -> int:
        return self.info.word_size

    @property
    def flags(self) -> int:
        return (self.header.flags or 0) if self.header else 0

    @property
    def compression(self) -> str:
        if self.container == "stream" or self.header is None:
            return "none"
        if self.header.flags is None:
            # 2.6.20-2.6.22: no compression existed
            return "none"
        if self.flags & SF_NOCOMPRESS_MODE:
            return "none"
        return "lz4" if self.flags & SF_COMPRESSION_ALG_LZ4 else "lzo"

    @property
    def meta_pages(self) -> int:
        return self.info.meta_pages

    @property
    def file_size(self) -> int:
        return len(self.buf)

    @cached_property
    def pages_beyond_eof(self) -> int:
        """Stream pages stored past the end of the file (a dump trimmed after its last
        non-zero page): raw pages there read as zeros, within the device size."""
        if self.container != "swap":
            return 0
        return int(np.count_nonzero(self.entries >= self.file_size // self.page_size))

    # -- stream access -------------------------------------------------------------------

    @cached_property
    def chunk_table(self) -> fchunks.ChunkTable:
        """The chunk table, walked lazily (``ensure(k)``; ``ensure_all()`` for everything)."""
        return fchunks.ChunkTable(self.buf, self.entries, self.page_size, self.word_size,
                                  self.info.pages, self._entry_offset)

    def _entry_offset(self, index: int) -> int:
        """File offset of swap-map slot ``index`` (for messages)."""
        if self.header is None:  # stream: entry i is stream page i
            return index * self.page_size
        return swapmap.entry_offset(self.map_pages, index, self.page_size,
                                    self.header.sector_size)

    @cached_property
    def _decompressor(self) -> fchunks.Decompressor:
        return fchunks.Decompressor(self.compression, self.page_size)

    def chunk_location(self, k: int) -> tuple[int, bytes | memoryview]:
        """File offset and compressed bytes (after the ``cmp_len`` header) of chunk ``k``."""
        t = self.chunk_table
        t.ensure(k)
        first, npg, cmp_len = int(t.first_entry[k]), int(t.n_pages[k]), int(t.cmp_len[k])
        off = int(self.entries[first]) * self.page_size
        raw = fchunks.gather(self.buf, self.entries, first, npg, self.page_size,
                             f"compressed chunk {k}")
        h = self.word_size
        return off, raw[h : h + cmp_len]

    def decompress_chunk(self, k: int) -> bytes:
        """Decompressed stream pages of chunk ``k`` (stream pages 1+32k ...)."""
        cached = self._chunk_cache.get(k)
        if cached is not None:
            self._chunk_cache.move_to_end(k)
            return cached
        out = self._decompress_uncached(k)
        self._chunk_cache[k] = out
        if len(self._chunk_cache) > 8:
            self._chunk_cache.popitem(last=False)
        return out

    def _decompress_uncached(self, k: int) -> bytes:
        # thread-safe: reads the map and the table only
        off, data = self.chunk_location(k)
        return self._decompressor.decompress(
            data, int(self.chunk_table.unc_pages[k]), where=f"compressed chunk {k}", offset=off
        )

    def stream_pages(self, start: int, count: int) -> bytes | memoryview:
        """``count`` stream pages from stream page ``start`` (>= 1), decompressed if needed."""
        n = self.page_size
        if start < 1 or start + count > self.info.pages:
            raise IndexError(
                f"stream pages {start}..{start + count - 1} outside 1..{self.info.pages - 1}"
            )
        if self.compression == "none":
            if start + count > self.entries.size:
                # only a stream lists fewer entries than pages (swap maps are checked at open)
                missing = self.file_size // n
                raise TruncatedError("image stream page", missing * n, n, self.file_size)
            data = fchunks.gather(self.buf, self.entries, start, count, n, "image data page",
                                  zero_fill_below=self.device_pages)
            if self.page_transform is not None:
                return self.page_transform(self, start, count, data)  # type: ignore[no-any-return]
            return data
        parts: list[bytes] = []
        s = start
        while s < start + count:
            k, within = divmod(s - 1, fchunks.UNC_PAGES)
            data = self.decompress_chunk(k)
            take = min(start + count - s, fchunks.UNC_PAGES - within)
            parts.append(data[within * n : (within + take) * n])
            s += take
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read_stream_into(self, start: int, count: int, out: np.ndarray) -> None:
        """Copy ``count`` stream pages from ``start`` into ``out`` (uint8, count * N bytes)."""
        n = self.page_size
        s = start
        step = fchunks.UNC_PAGES
        while s < start + count:
            take = min(start + count - s, step - (s - 1) % step)
            pos = (s - start) * n
            out[pos : pos + take * n] = np.frombuffer(self.stream_pages(s, take), np.uint8)
            s += take

    def iter_chunks(self, jobs: int = 1) -> Iterator[tuple[int, bytes | memoryview]]:
        """``(first stream page, data)`` over the whole stream after page 0, in order.

        With ``jobs > 1`` compressed chunks are decompressed by that many threads (the
        decompressors release the GIL), at most ``2 * jobs`` chunks ahead of the consumer, so
        memory stays bounded by a few chunks whatever the image size.
        """
        if self.compression == "none":
            step = fchunks.UNC_PAGES
            for s in range(1, self.info.pages, step):
                yield s, self.stream_pages(s, min(step, self.info.pages - s))
            return
        n_chunks = len(self.chunk_table)
        if jobs <= 1 or n_chunks < 2:
            cache = self._chunk_cache  # a sweep reuses what is cached and caches nothing
            for k in range(n_chunks):
                data = cache.get(k)
                yield 1 + k * fchunks.UNC_PAGES, (data if data is not None
                                                  else self._decompress_uncached(k))
            return
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="swsusp-chunk") as pool:
            pending: deque[Any] = deque()
            nxt = 0
            for k in range(n_chunks):
                while nxt < n_chunks and len(pending) < 2 * jobs:
                    pending.append(pool.submit(self._decompress_uncached, nxt))
                    nxt += 1
                try:
                    data = pending.popleft().result()
                except BaseException:
                    for fut in pending:
                        fut.cancel()
                    raise
                yield 1 + k * fchunks.UNC_PAGES, data

    # -- the PFN directory ---------------------------------------------------------------

    @cached_property
    def pagedir(self) -> fpagedir.PfnDirectory:
        """Every saved PFN (an opener of another format may set it directly)."""
        meta = self.meta_pages
        if meta <= 0:
            raise FormatError("swsusp_info", self.info.offset, "pages - image_pages - 1",
                              "at least one metadata page", meta)
        # never allocate for more metadata than the file can hold
        if self.compression == "none":
            if 1 + meta > self.entries.size:
                where = "swap map lists" if self.container == "swap" else "file holds"
                raise FormatError("swsusp_info", self.info.offset, "pages - image_pages - 1",
                                  f"at most {self.entries.size - 1} metadata pages (the {where} "
                                  f"{self.entries.size} stream pages)", meta)
        elif 1 + meta > 1 + fchunks.UNC_PAGES * len(self.chunk_table):  # pragma: no cover
            raise FormatError("swsusp_info", self.info.offset, "pages - image_pages - 1",
                              "metadata within the compressed chunks", meta)
        # one owned, writable buffer filled a chunk at a time: decode() masks it in place,
        # so a directory of P PFNs costs about 9 bytes per PFN at its peak
        arr = np.empty(meta * self.page_size, dtype=np.uint8)
        self.read_stream_into(1, meta, arr)
        return fpagedir.decode(arr, self.word_size, self.info.image_pages,
                               locate=self._locate_meta, page_size=self.page_size)

    def _locate_meta(self, pos: int) -> tuple[str, int]:
        """``(structure, file offset)`` of byte ``pos`` of the PFN directory (for messages)."""
        n = self.page_size
        stream_page, within = divmod(pos, n)
        stream_page += 1
        if self.compression == "none":
            return "PFN directory", int(self.entries[stream_page]) * n + within
        k = (stream_page - 1) // fchunks.UNC_PAGES
        # inside compressed data there is no file offset: name the chunk and the position
        return (f"PFN directory (stream page {stream_page} + {within:#x}, "
                f"decompressed from compressed chunk {k})", self.chunk_location(k)[0])

    @cached_property
    def _data_lookup(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted data PFNs and, for each, its data-page index (for read_page)."""
        pd = self.pagedir
        pfns = pd.pfns
        data_index = np.cumsum(~pd.zero) - 1
        order = np.argsort(pfns, kind="stable")
        return pfns[order], np.where(pd.zero[order], -1, data_index[order])

    def read_page(self, pfn: int) -> bytes:
        """Contents of the saved page frame ``pfn`` (zeros for a page saved as a zero page).

        Raises:
            KeyError: ``pfn`` is not in the image.
        """
        sorted_pfns, index = self._data_lookup
        i = int(np.searchsorted(sorted_pfns, np.uint64(pfn)))
        if i >= sorted_pfns.size or int(sorted_pfns[i]) != pfn:
            raise KeyError(f"PFN {pfn:#x} is not saved in this image")
        d = int(index[i])
        if d < 0:
            return bytes(self.page_size)
        return bytes(self.stream_pages(1 + self.meta_pages + d, 1))

    def iter_data_pages(
        self, start_data: int = 0
    ) -> Iterator[tuple[np.ndarray, bytes | memoryview]]:
        """``(pfns, data)`` for runs of data pages in stream order, from data page ``start_data``.

        ``data`` holds ``len(pfns)`` pages, each the content of the matching PFN.
        """
        data_pfns = self.pagedir.data_pfns
        first_stream = 1 + self.meta_pages
        s = first_stream + start_data
        end = self.info.pages
        while s < end:
            if self.compression == "none":
                take = min(fchunks.UNC_PAGES, end - s)
            else:
                within = (s - 1) % fchunks.UNC_PAGES
                take = min(fchunks.UNC_PAGES - within, end - s)
            data = self.stream_pages(s, take)
            d0 = s - first_stream
            yield data_pfns[d0 : d0 + take], data
            s += take

    # -- integrity -----------------------------------------------------------------------

    def verify(self, progress: Any = None, *, jobs: int = 1) -> VerifyResult:
        """Read (and decompress) every stream page; compute the CRC32 the kernel computes.

        With ``jobs > 1`` a compressed image is split into contiguous ranges of chunks that
        forked worker processes decompress and checksum (LZ4 holds the GIL, so threads would
        not help); their CRC32s are chained with zlib-ng's ``crc32_combine``.  The kernel banner
        is looked for on the way, in the same windows :meth:`find_banner` searches.

        Raises:
            FormatError: a chunk that cannot be read or decompressed (bounds, lengths).
        """
        _ = self.pagedir  # must decode too (and its chunks stay cached)
        windows = self._banner_windows()
        # the sweep looks in the kernel-text window only; the fallback window (from the lowest
        # PFN) is searched afterwards, and only when that found nothing
        first, fallback = windows[:1], windows[1:]
        n_chunks = len(self.chunk_table) if self.compression != "none" else 0
        if jobs > 1 and n_chunks >= 8 * jobs and _can_fork():
            crc, pages_read, banners = self._verify_parallel(jobs, first, progress)
        else:
            crc, pages_read, banners = _verify_span(self, 0, None, first, progress)
        if not banners and fallback:
            found = self.find_banner()
            banners = [found] if found is not None else []
        stored = self.header.crc32 if self.header else None
        computed = crc if stored is not None else None
        result = Crc32Result(stored, computed)
        ok = result.ok is not False and pages_read == self.info.pages - 1
        # a checksum of another format, checked by its opener over the data it decoded
        # (details["checksum"]: uswsusp's MD5 of the whole stream)
        ok = ok and (self.details.get("checksum") or {}).get("ok") is not False
        return VerifyResult(n_chunks, pages_read, result, ok, tuple(banners))

    def _verify_parallel(self, jobs: int, windows: list[tuple[int, int]],
                         progress: Any) -> tuple[int, int, list[Banner]]:
        from zlib_ng import zlib_ng

        crc = 0
        pages_read = 0
        banners: list[Banner] = []
        mask = 0xFFFFFFFF
        for z_range, nbytes, npages, found in self.map_chunk_ranges(
                _verify_span_forked, jobs, windows):
            # kernel crc32_le(seed, B) == zlib crc32(B, seed ^ ~0) ^ ~0, and zlib's
            # crc32(B, v) == crc32_combine(v, crc32(B), len(B)) for any v
            crc = zlib_ng.crc32_combine(crc ^ mask, z_range, nbytes) ^ mask
            pages_read += npages
            banners.extend(found)
            if progress is not None:
                progress(npages)
        return crc, pages_read, banners

    def map_chunk_ranges(self, worker: Any, jobs: int, *args: Any) -> Iterator[Any]:
        """Run ``worker(image, lo, hi, *args)`` over contiguous ranges of compressed chunks
        in forked processes (``jobs`` at a time); results in chunk order.

        The workers inherit this image (its map and directory) through ``fork``; each range is
        submitted as soon as the parent's walk of the chunk headers has passed it, with that
        part of the table, so the walk overlaps the workers' decompression.
        """
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        global _FORKED_IMAGE  # noqa: PLW0603 - handed to forked workers, never pickled
        n_chunks = len(self.chunk_table)
        n_ranges = max(1, min(n_chunks, 16 * jobs))  # small ranges: workers finish together
        bounds = np.linspace(0, n_chunks, n_ranges + 1).astype(np.int64).tolist()
        _ = self.pagedir.data_pfns, self._decompressor  # computed once, before forking
        table = self.chunk_table
        _FORKED_IMAGE = self
        try:
            ctx = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                futures = [pool.submit(_run_forked, worker, lo, hi, table.part(lo, hi), args)
                           for lo, hi in itertools.pairwise(bounds)]
                for fut in futures:
                    yield fut.result()
        finally:
            _FORKED_IMAGE = None

    def chunk_data_pages(self, k: int, data: bytes | memoryview
                         ) -> tuple[np.ndarray, bytes | memoryview]:
        """The data pages inside decompressed chunk ``k``: ``(pfns, their bytes)``
        (metadata pages at the start of the stream are skipped)."""
        n = self.page_size
        s = 1 + k * fchunks.UNC_PAGES
        npages = len(data) // n
        first_data = 1 + self.meta_pages
        skip = min(npages, max(0, first_data - s))
        d0 = s + skip - first_data
        return (self.pagedir.data_pfns[d0 : d0 + npages - skip],
                memoryview(data)[skip * n :])

    def _banner_windows(self, window: int = 64 << 20) -> list[tuple[int, int]]:
        """PFN ranges ``[lo, hi)`` where the banner is looked for: from the kernel's text (the
        arch record's ``jump_address_phys``), then from the lowest saved PFN (the only one
        without an arch record)."""
        data_pfns = self.pagedir.data_pfns
        if not data_pfns.size:
            return []
        span = window // self.page_size
        arch = self.info.arch
        starts = []
        if arch is not None and arch.jump_address_phys:
            i = int(np.searchsorted(data_pfns, np.uint64(arch.jump_address_phys // self.page_size)))
            if i < data_pfns.size:
                starts.append(int(data_pfns[i]))
        starts.append(int(data_pfns.min()))
        return [(lo, lo + span) for lo in starts]

    # -- kernel banner -------------------------------------------------------------------

    def find_banner(self, start_pfn: int | None = None, *, window: int = 64 << 20) -> Banner | None:
        """Find ``linux_banner`` ("Linux version ...\\n\\0") in the saved pages.

        Scans data pages from the first one at or above ``start_pfn`` (default: the kernel's
        physical text address from the arch record; .rodata follows .text) through ``window``
        bytes of physical address space, then the first ``window`` bytes from the lowest PFN if
        nothing was found (``verify`` meets every banner on its way instead).
        Only matches ending in "\\n\\0" count (the printk ring buffer's copy of the line has
        neither).  6.1+ kernels also keep a weak placeholder banner without the build number
        ("# SMP ..." instead of "#1 SMP ..."): a banner with a build number wins.
        """
        data_pfns = self.pagedir.data_pfns
        if not data_pfns.size:
            return None
        if start_pfn is None:
            arch = self.info.arch
            start_pfn = ((arch.jump_address_phys or 0) // self.page_size) if arch else 0
        start = int(np.searchsorted(data_pfns, np.uint64(start_pfn)))
        if start >= data_pfns.size:
            start = 0
        span = window // self.page_size
        candidates: list[Banner] = []
        # two bounded windows: from the kernel text, then from the lowest PFN; never the whole
        # image, so `info` costs the same whatever the image's size
        for first in (start, 0):
            stop = int(data_pfns[first]) + span
            for pfns, data in self.iter_data_pages(first):
                if int(pfns[0]) >= stop:
                    break
                candidates.extend(self._search_banner(pfns, data))
            if candidates or start == 0:
                break
        return best_banner(candidates)

    def _search_banner(self, pfns: np.ndarray, data: bytes | memoryview) -> list[Banner]:
        n = self.page_size
        found = []
        for m in _BANNER_RE.finditer(data):
            page = m.start() // n
            if m.end() > (page + 1) * n:
                continue  # spans two saved pages that need not be adjacent in memory
            pfn = int(pfns[page])
            text = m.group(0)[:-2].decode("ascii", "replace")
            found.append(Banner(m.group(1).decode("ascii", "replace"), text, pfn,
                                pfn * n + m.start() % n))
        return found

    def banner_near(self, phys: int) -> Banner | None:
        """The banner at physical address ``phys`` (e.g. System.map's linux_banner), if saved."""
        pfn = phys // self.page_size
        try:
            page = self.read_page(pfn)
        except KeyError:
            return None
        found = self._search_banner(np.array([pfn], np.uint64), page)
        return next((b for b in found if b.physical_address == phys), None)

    def banner_at(self, phys: int, length: int = 512) -> str | None:
        """The NUL-terminated string at physical address ``phys``, if that page is saved."""
        pfn, off = divmod(phys, self.page_size)
        try:
            page = self.read_page(pfn)
        except KeyError:
            return None
        raw = page[off : off + length].split(b"\0", 1)[0]
        return raw.decode("ascii", "replace")

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        self._chunk_cache.clear()
        for name in ("pagedir", "_data_lookup", "chunk_table"):
            self.__dict__.pop(name, None)
        self.buf = None
        self.source.close()

    def __enter__(self) -> HibernationImage:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        # errors met lazily (a chunk, the directory) name the input like those met at open
        if isinstance(exc, FormatError) and exc.path is None:
            exc.with_path(self.path)
        self.close()


# Readers of formats other than the 2.6.20+ kernel layout, by signature name: "module:function".
# An opener fills the image's attributes (container, page_size, header, info, entries, era,
# details, and optionally a pre-decoded ``pagedir``) so that everything downstream works
# unchanged; with ``probe=True`` (S1SUSPEND written by 2.6.9-2.6.19) it returns False instead
# of raising when the layout is not its own.
OTHER_READERS: dict[str, str] = {
    "S1SUSPEND-legacy": "swsusp_inspect.formats.legacy:open_s1suspend_legacy",
    "S1SUSP-short": "swsusp_inspect.formats.legacy:open_link_era_short",
    "S1SUSP": "swsusp_inspect.formats.legacy:open_link_era",
    "S2SUSP": "swsusp_inspect.formats.legacy:open_link_era",
    "SUSP1R": "swsusp_inspect.formats.legacy:open_link_era",
    "SUSP2R": "swsusp_inspect.formats.legacy:open_link_era",
    "pmdisk": "swsusp_inspect.formats.legacy:open_pmdisk",
    "ULSUSPEND": "swsusp_inspect.formats.uswsusp:open_uswsusp",
}


def _other_reader(name: str) -> Any:
    target = OTHER_READERS.get(name)
    if target is None:
        return None
    module_name, func = target.split(":")
    import importlib

    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return None
    return getattr(module, func, None)


def best_banner(candidates: list[Banner] | tuple[Banner, ...]) -> Banner | None:
    """The real ``linux_banner`` among candidates: one with a build number ("#1 SMP") wins
    over the weak placeholder 6.1+ kernels also carry ("# SMP")."""
    for cand in candidates:
        if _BUILD_NUMBER_RE.search(cand.banner):
            return cand
    return candidates[0] if candidates else None


def open_image(path: str | os.PathLike[str], *, resume_offset: int = 0,
               passphrase: str | bytes | None = None,
               page_offset: int | None = None) -> HibernationImage:
    """Open a hibernation image read-only, detecting its format from its content.

    Args:
        path: a swap device/partition dump, a ``/dev/snapshot`` stream, or either compressed with
            xz, gzip or zstd.
        resume_offset: pages from the start of the file to the swap area's header page (as the
            kernel's ``resume_offset=``), for swap files inside a partition image.
        passphrase: decrypts an encrypted uswsusp (s2disk) image.
        page_offset: the kernel's PAGE_OFFSET, for images before 2.6.19 that name pages by
            virtual address (default: inferred from the addresses).

    Raises:
        NotAnImageError: a plain swap area or unrelated data.
        UnsupportedFormatError: a recognised format this version cannot read.
        FormatError: a damaged image (structure, file offset, expected vs found).
    """
    source = open_source(path)
    try:
        return HibernationImage(source, resume_offset=resume_offset, passphrase=passphrase,
                                page_offset=page_offset)
    except SwsuspError as exc:
        source.close()
        if isinstance(exc, FormatError) and exc.path is None:
            exc.with_path(source.path)
        raise
    except BaseException:
        source.close()
        raise
