"""HibernationImage: one opened image, its PFN directory and page access.

Built from what a format's opener read (:class:`~swsusp_inspect.formats.opened.OpenedImage`);
its structures never change after that.  Stream pages are read on demand: raw pages straight
from the map, compressed ones a 32-page chunk at a time (a few chunks cached).
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from collections.abc import Generator, Iterator
from functools import cached_property
from typing import Any

import numpy as np

from swsusp_inspect.errors import FormatError, SwsuspError, TruncatedError
from swsusp_inspect.formats import chunks as fchunks
from swsusp_inspect.formats import pagedir as fpagedir
from swsusp_inspect.formats import swapmap
from swsusp_inspect.formats.current import compression_of
from swsusp_inspect.formats.detect import detect
from swsusp_inspect.formats.opened import OpenedImage, OpenOptions, PageTransform
from swsusp_inspect.image import banner as fbanner
from swsusp_inspect.image import directory as fdirectory
from swsusp_inspect.image import pages as fpages
from swsusp_inspect.image import parallel
from swsusp_inspect.image import salvage as fsalvage
from swsusp_inspect.image import shortlist as fshortlist
from swsusp_inspect.image import verify as fverify
from swsusp_inspect.model.details import FormatDetails
from swsusp_inspect.model.image import Banner, SnapshotInfo, SwsuspHeader
from swsusp_inspect.transport import Expansion, Source, open_source

__all__ = ["HibernationImage", "open_image"]

CHUNK_CACHE = 8  # decompressed chunks kept (a page read next to the last one is free)


class HibernationImage:
    """An opened hibernation image (read-only; close it, or use ``with``).

    Attributes:
        path: the input path.
        source: the opened input (its transport, its map).
        options: what was said about the input (resume offset, passphrase, PAGE_OFFSET).
    """

    def __init__(self, source: Source, opened: OpenedImage, options: OpenOptions) -> None:
        self.source = source
        self.path = source.path
        self.options = options
        self._opened = opened
        self._chunk_cache: OrderedDict[int, bytes] = OrderedDict()
        self.failed_chunks: dict[int, str] = {}  # salvaging: chunk -> why it did not decompress
        self.swept = False  # salvaging: every data chunk has been tried
        if opened.pagedir is not None:
            self.__dict__["pagedir"] = opened.pagedir  # decoded by the opener

    # -- what the opener read ------------------------------------------------------------

    @property
    def container(self) -> str:
        """``"swap"`` (a swap device/partition dump) or ``"stream"`` (/dev/snapshot)."""
        return self._opened.container

    @property
    def era(self) -> str:
        """The writer family: ``"2.6.20+"``, ``"stream"``, ``"uswsusp"`` or a legacy era."""
        return self._opened.era

    @property
    def page_size(self) -> int:
        return self._opened.page_size

    @property
    def buf(self) -> Any:
        """The bytes stream pages are read from (the input's map, or a decoded stream)."""
        return self._opened.buf

    @property
    def header(self) -> SwsuspHeader | None:
        """``swsusp_header`` (None for a stream)."""
        return self._opened.header

    @property
    def info(self) -> SnapshotInfo:
        """``swsusp_info``."""
        return self._opened.info

    @property
    def entries(self) -> np.ndarray:
        """Device page of each stream page (swap) / stream page numbers (stream)."""
        return self._opened.entries

    @property
    def map_pages(self) -> tuple[int, ...]:
        return self._opened.map_pages

    @property
    def device_pages(self) -> int | None:
        return self._opened.device_pages

    @property
    def details(self) -> FormatDetails | None:
        """Format-specific facts (legacy eras, uswsusp); None for the current layout."""
        return self._opened.details

    @property
    def salvage(self) -> bool:
        """Whether damage is read around (``open_image(..., salvage=True)``)."""
        return self.options.salvage

    @property
    def problems(self) -> tuple[str, ...]:
        """What the salvaging opener found wrong in the swap map and read around."""
        return self._opened.problems

    @property
    def cut(self) -> bool:
        """The file ends before the image does (salvaging: pages past its end are lost)."""
        return self._opened.cut

    @property
    def page_transform(self) -> PageTransform | None:
        return self._opened.transform

    @property
    def word_size(self) -> int:
        return self.info.word_size

    @property
    def flags(self) -> int:
        return (self.header.flags or 0) if self.header else 0

    @property
    def compression(self) -> str:
        return compression_of(self.header) if self.container == "swap" else "none"

    @property
    def meta_pages(self) -> int:
        return self.info.meta_pages

    @property
    def file_size(self) -> int:
        """Bytes the stream pages are read from (a decoded uswsusp stream's own size)."""
        return len(self.buf)

    @property
    def input_size(self) -> int:
        """Bytes of the input (decompressed when it came in a transport)."""
        return len(self.source.buf)

    @cached_property
    def pages_beyond_eof(self) -> int:
        """Stream pages stored past the end of the file (a dump trimmed after its last
        non-zero page): raw pages there read as zeros, within the device size."""
        if self.container != "swap":
            return 0
        return int(np.count_nonzero(self.entries >= self.file_size // self.page_size))

    # -- compressed chunks ---------------------------------------------------------------

    @cached_property
    def chunk_table(self) -> fchunks.ChunkTable:
        """The chunk table, walked lazily (``ensure(k)``; ``ensure_all()`` for everything)."""
        salvage = None
        if self.salvage:
            salvage = fchunks.Salvage(
                self.compression,
                self._opened.end_known,
                self.device_pages,
                self.problems,
                self._opened.gaps,
            )
        return fchunks.ChunkTable(
            self.buf,
            self.entries,
            self.page_size,
            self.word_size,
            self.info.pages,
            entry_offset=self._entry_offset,
            salvage=salvage,
        )

    def _entry_offset(self, index: int) -> int:
        """File offset of swap-map slot ``index`` (for messages)."""
        if self.header is None:  # stream: entry i is stream page i
            return index * self.page_size
        return swapmap.entry_offset(self.map_pages, index, self.page_size, self.header.sector_size)

    @cached_property
    def _decompressor(self) -> fchunks.Decompressor:
        return fchunks.Decompressor(self.compression, self.page_size)

    def chunk_location(self, k: int) -> tuple[int, bytes | memoryview]:
        """File offset and compressed bytes (after the ``cmp_len`` header) of chunk ``k``."""
        t = self.chunk_table
        t.ensure(k)
        first, npg, cmp_len = int(t.first_entry[k]), int(t.n_pages[k]), int(t.cmp_len[k])
        off = int(self.entries[first]) * self.page_size
        raw = fchunks.gather(
            self.buf, self.entries, first, npg, self.page_size, structure=f"compressed chunk {k}"
        )
        h = self.word_size
        return off, raw[h : h + cmp_len]

    def decompress_chunk(self, k: int, *, cache: bool = True) -> bytes:
        """Decompressed stream pages of chunk ``k`` (stream pages 1+32k ...); ``cache=False``
        for sweeps (thread-safe: reads the map and the table only)."""
        cached = self._chunk_cache.get(k)
        if cached is not None:
            self._chunk_cache.move_to_end(k)
            return cached
        lost = self.chunk_table.lost.get(k) or self.failed_chunks.get(k)
        if lost is not None:
            raise FormatError(lost, None)  # the message the strict reader gave
        off, data = self.chunk_location(k)
        try:
            out = self._decompressor.decompress(
                data, int(self.chunk_table.unc_pages[k]), where=f"compressed chunk {k}", offset=off
            )
        except FormatError as exc:
            if self.salvage:
                self.failed_chunks[k] = str(exc)
            raise
        if cache:
            self._chunk_cache[k] = out
            if len(self._chunk_cache) > CHUNK_CACHE:
                self._chunk_cache.popitem(last=False)
        return out

    def prepare_for_fork(self) -> None:
        """Compute what forked workers share (the directory, the decompressor) once."""
        _ = self.pagedir.data_pfns, self._decompressor

    # -- stream pages --------------------------------------------------------------------

    def stream_pages(self, start: int, count: int) -> bytes | memoryview:
        """``count`` stream pages from stream page ``start`` (>= 1), decompressed if needed."""
        n = self.page_size
        if start < 1 or start + count > self.info.pages:
            raise IndexError(
                f"stream pages {start}..{start + count - 1} outside 1..{self.info.pages - 1}"
            )
        if self.compression == "none":
            if self.salvage:
                fsalvage.check_raw(self, start, count)
            if start + count > self.entries.size:
                # only a stream lists fewer entries than pages (swap maps are checked at open)
                missing = self.file_size // n
                raise TruncatedError("image stream page", missing * n, n, self.file_size)
            data = fchunks.gather(
                self.buf,
                self.entries,
                start,
                count,
                n,
                structure="image data page",
                zero_fill_below=self.device_pages,
            )
            if self.page_transform is not None:
                return self.page_transform(self.entries, start, count, data)
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

    def iter_chunks(self) -> Iterator[tuple[int, bytes | memoryview]]:
        """``(first stream page, data)`` over the whole stream after page 0, in order; a
        sweep reuses what is cached and caches nothing."""
        if self.compression == "none":
            step = fchunks.UNC_PAGES
            for s in range(1, self.info.pages, step):
                yield s, self.stream_pages(s, min(step, self.info.pages - s))
            return
        for k in range(len(self.chunk_table)):
            yield 1 + k * fchunks.UNC_PAGES, self.decompress_chunk(k, cache=False)

    # -- the PFN directory ---------------------------------------------------------------

    @cached_property
    def pagedir(self) -> fpagedir.PfnDirectory:
        """Every saved PFN, from the metadata pages (or as the opener decoded it)."""
        return fdirectory.read_directory(self)

    @cached_property
    def _data_lookup(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted data PFNs and, for each, its data-page index (for read_page)."""
        return fdirectory.data_lookup(self.pagedir)

    def read_page(self, pfn: int) -> bytes:
        """Contents of the saved page frame ``pfn`` (zeros for a page saved as a zero page).

        Raises:
            KeyError: ``pfn`` is not in the image (any integer, however large or negative).
        """
        d = fdirectory.data_page_of(self._data_lookup, pfn)
        if d < 0:
            return bytes(self.page_size)
        return bytes(self.stream_pages(1 + self.meta_pages + d, 1))

    def iter_data_pages(
        self, start_data: int = 0
    ) -> Iterator[tuple[np.ndarray, bytes | memoryview]]:
        """``(pfns, data)`` for runs of data pages in stream order, from data page ``start_data``.

        ``data`` holds ``len(pfns)`` pages, each the content of the matching PFN.
        """
        return fdirectory.iter_data_pages(self, start_data)

    def pages_holding(self, needle: bytes) -> np.ndarray:
        """Data PFNs (stream order) whose stored bytes hold ``needle`` literally: a shortlist
        for a search to try before sweeping (see :mod:`~swsusp_inspect.image.shortlist`)."""
        return fshortlist.pages_holding(self, needle)

    def chunk_data_pages(
        self, k: int, data: bytes | memoryview
    ) -> tuple[np.ndarray, bytes | memoryview]:
        """The data pages inside decompressed chunk ``k``: ``(pfns, their bytes)``
        (metadata pages at the start of the stream are skipped)."""
        return fdirectory.chunk_data_pages(self, k, data)

    # -- salvaging: which pages can be read ----------------------------------------------

    def page_states(self) -> fpages.PageStates:
        """Every saved PFN: readable, zero page, or unreadable (with why); see
        :mod:`~swsusp_inspect.image.pages`.  Complete once every chunk has been tried
        (``check_pages()``, or a whole ``iter_readable()`` sweep)."""
        pd = self.pagedir
        return fpages.build(
            pd.pfns,
            pd.zero,
            self.meta_pages,
            fsalvage.lost_pages(self),
            self.swept or self.compression == "none",
        )

    def iter_readable(
        self, start_data: int = 0
    ) -> Iterator[tuple[int, np.ndarray, bytes | memoryview]]:
        """``(first data-page index, pfns, data)`` in stream order from data page
        ``start_data``, skipping the pages that cannot be read (a salvaging image; a strict
        one raises as :meth:`iter_data_pages` does)."""
        return fsalvage.iter_readable(self, start_data)

    def check_pages(self, jobs: int = 1) -> fpages.PageStates:
        """Try every data chunk once (forked workers with ``jobs > 1``) so that
        :meth:`page_states` is complete."""
        fsalvage.check_all(self, jobs)
        return self.page_states()

    # -- integrity, banner, workers --------------------------------------------------------

    def verify(self, progress: Any = None, *, jobs: int = 1) -> fverify.VerifyResult:
        """Read every stream page, check the CRC32 (:func:`~swsusp_inspect.image.verify.verify`)."""
        return fverify.verify(self, progress, jobs=jobs)

    def find_banner(
        self, start_pfn: int | None = None, *, window: int = fbanner.WINDOW
    ) -> Banner | None:
        """``linux_banner`` in the saved pages (:func:`swsusp_inspect.image.banner.find_banner`)."""
        return fbanner.find_banner(self, start_pfn, window=window)

    def banner_near(self, phys: int) -> Banner | None:
        """The banner at physical address ``phys``, if that page is saved."""
        return fbanner.banner_near(self, phys)

    def banner_at(self, phys: int, length: int = 512) -> str | None:
        """The NUL-terminated string at physical address ``phys``, if that page is saved."""
        return fbanner.banner_at(self, phys, length)

    def map_chunk_ranges(self, worker: Any, jobs: int, *args: Any) -> Generator[Any, None, None]:
        """``worker(self, lo, hi, *args)`` over ranges of chunks, in threads (LZO) or forked
        processes (LZ4): :func:`~swsusp_inspect.image.parallel.map_ranges`."""
        return parallel.map_ranges(self, worker, jobs, *args)

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        self._chunk_cache.clear()
        for name in ("pagedir", "_data_lookup", "chunk_table"):
            self.__dict__.pop(name, None)
        for obj in reversed(self._opened.closers):
            with contextlib.suppress(BufferError, OSError):  # views may still be alive
                obj.close()
        self.source.close()

    def __enter__(self) -> HibernationImage:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        # errors met lazily (a chunk, the directory) name the input like those met at open
        if isinstance(exc, FormatError) and exc.path is None:
            exc.with_path(self.path)
        self.close()


def open_image(
    path: str | os.PathLike[str],
    *,
    resume_offset: int = 0,
    passphrase: str | bytes | None = None,
    page_offset: int | None = None,
    salvage: bool = False,
    expansion: Expansion | None = None,
) -> HibernationImage:
    """Open a hibernation image read-only, detecting its format from its content.

    Args:
        path: a swap device/partition dump, a ``/dev/snapshot`` stream, or either compressed with
            xz, gzip or zstd.
        resume_offset: pages from the start of the file to the swap area's header page (as the
            kernel's ``resume_offset=``), for swap files inside a partition image.
        passphrase: decrypts an encrypted uswsusp (s2disk) image.
        page_offset: the kernel's PAGE_OFFSET, for images before 2.6.19 that name pages by
            virtual address (default: inferred from the addresses).
        salvage: read around damage in the 2.6.20+ layout and in streams (a chunk that does
            not decompress, a bad chunk length, a broken or cut swap map, pages past the end
            of a cut dump): such pages become unreadable (:meth:`HibernationImage.page_states`)
            instead of errors.  The header, ``swsusp_info`` and the PFN directory must still
            read.  Other formats open as without it.
        expansion: for a compressed image, the cache of expanded copies to use and who hears
            how far its decompression is (:class:`~swsusp_inspect.transport.Expansion`).

    Raises:
        NotAnImageError: a plain swap area or unrelated data.
        UnsupportedFormatError: a recognised format this version cannot read.
        FormatError: a damaged image (structure, file offset, expected vs found).
    """
    options = OpenOptions(
        resume_offset=resume_offset, passphrase=passphrase, page_offset=page_offset, salvage=salvage
    )
    source = open_source(path, expansion=expansion)
    try:
        image = HibernationImage(source, detect(source.buf, options), options)
        if salvage:
            _ = image.pagedir  # without it nothing can be placed
        return image
    except SwsuspError as exc:
        error = exc
        if salvage and isinstance(exc, FormatError):
            error = fsalvage.strict_error(source, options) or exc
        source.close()
        if isinstance(error, FormatError) and error.path is None:
            error.with_path(source.path)
        if error is exc:
            raise
        raise error from None
    except BaseException:
        source.close()
        raise
