"""Compressed image data: page-aligned chunks of 32 stream pages, LZO or LZ4, and the CRC32.

References:
    kernel/power/swap.c ``save_compressed_image()`` / ``load_compressed_image()`` (2.6.37 -> now;
        ``save_image_lzo`` before 6.9): stream pages after ``swsusp_info`` are grouped
        ``UNC_PAGES`` = 32 at a time (only the last group is shorter); each group is written as
        ``[size_t cmp_len][cmp_len bytes][garbage to page end]`` over
        ``DIV_ROUND_UP(CMP_HEADER + cmp_len, PAGE_SIZE)`` swap pages, chunks in stream order.
        Reader checks: ``0 < cmp_len <= bytes_worst_compress(UNC_SIZE)``; the decompressed
        length must be ``0 < unc_len <= UNC_SIZE`` and a multiple of PAGE_SIZE.
        ``lzo1x_worst_compress(x) = x + x/16 + 64 + 3`` (+2 since 6.9's bytes_worst_compress).
    ``crc32_threadfn()``: ``crc32_le(crc, unc, unc_len)`` over the uncompressed chunks in stream
        order from seed 0, no final inversion: ``zlib.crc32(data, 0xFFFFFFFF) ^ 0xFFFFFFFF``.
    Algorithms: LZO1X-1 (all kernels); LZ4 block when ``SF_COMPRESSION_ALG_LZ4`` (6.9+).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from swsusp_inspect.errors import FormatError, TruncatedError

UNC_PAGES = 32


@dataclass(frozen=True)
class Salvage:
    """How a salvaging chunk walk may read around damage (:mod:`.resync`).

    Attributes:
        algorithm: ``"lzo"`` / ``"lz4"``: a chunk found after lost ones must decompress to
            exactly its page count before it is believed.
        end_known: the map's last entry is the stream's last page, so chunks found after a
            gap can be numbered from the end.
        device_pages: the swap device's size in pages, when known.
    """

    algorithm: str
    end_known: bool = True
    device_pages: int | None = None
    problems: tuple[str, ...] = ()  # what the salvaging map walk found wrong
    gaps: tuple[int, ...] = ()  # 0 entries standing for an unknown number of lost ones


def unc_size(page_size: int) -> int:
    return UNC_PAGES * page_size


def worst_compress(page_size: int) -> int:
    """``bytes_worst_compress(UNC_SIZE)`` (6.9+, 2 bytes more than lzo1x_worst_compress)."""
    x = unc_size(page_size)
    return x + x // 16 + 64 + 3 + 2


class ChunkTable:
    """Where each compressed chunk sits: index into the swap-map entries, and its length.

    The chunk headers are walked lazily, one ``size_t`` read per chunk, only as far as a
    caller needs (:meth:`ensure`): the PFN directory sits in the first chunks, so ``info`` and
    ``audit`` cost the same whatever the size of the data behind it.  The number of chunks
    follows from ``swsusp_info.pages`` (32 stream pages a chunk, the last one shorter).
    """

    def __init__(
        self,
        buf: Any,
        entries: np.ndarray,
        page_size: int,
        header_size: int,
        stream_pages: int,
        *,
        entry_offset: Callable[[int], int] | None = None,
        salvage: Salvage | None = None,
    ) -> None:
        self.buf = buf
        self.entries = entries
        self.page_size = page_size
        self.header_size = header_size
        self.entry_offset = entry_offset
        self.salvage = salvage
        self.remaining = stream_pages - 1
        self.n_chunks = -(-self.remaining // UNC_PAGES)
        # chunk -> why it cannot be read (salvaging: lost or unplaceable chunks)
        self.lost: dict[int, str] = {}
        # Every chunk takes at least one entry: a count the map cannot hold is refused before
        # anything is allocated for it (swsusp_info.pages is read from the file).  Salvaging,
        # the map may be short (cut, broken): the device, or the file, bounds the count.
        room = max(entries.size - 1, 0)
        if salvage is not None:
            room = max(room, salvage.device_pages or 0, len(buf) // page_size)
        if self.n_chunks > room:
            raise self._map_end(max(entries.size - 1, 0), entries.size)
        n = self.n_chunks
        self.first_entry = np.empty(n, np.int64)  # index into entries of the chunk's 1st page
        self.n_pages = np.empty(n, np.int64)  # swap pages the chunk occupies
        self.cmp_len = np.empty(n, np.int64)  # compressed bytes
        # stream pages each chunk must decompress to
        self.unc_pages = np.minimum(UNC_PAGES, self.remaining - np.arange(n) * UNC_PAGES)
        self.built = 0  # chunks walked so far
        self._idx = 1  # next swap-map entry
        self._adopted: list[tuple[int, int]] = []  # ranges filled in by adopt()
        self._worst = worst_compress(page_size)
        # first entry whose page is not wholly in the file: a cut inside chunk k's data is
        # reported as chunk k, not as the next header beyond it
        beyond = np.flatnonzero(entries[1:] >= len(buf) // page_size)
        self._first_missing = 1 + int(beyond[0]) if beyond.size else int(entries.size)
        if salvage is not None:
            from swsusp_inspect.formats import resync

            resync.salvage_walk(self, salvage)
            self.built = n

    @property
    def entries_used(self) -> int:
        """Swap-map entries the chunks walked so far take (with entry 0, ``swsusp_info``)."""
        return self._idx

    def header_error(self, j: int, idx: int) -> tuple[int, int] | FormatError:
        """``(pages, cmp_len)`` of the chunk whose header is entry ``idx``, or what is wrong
        with it (``j`` names the chunk in the message): the checks of :meth:`ensure`."""
        entries, n, h = self.entries, self.page_size, self.header_size
        file_size = len(self.buf)
        off = int(entries[idx]) * n
        if off + h > file_size:
            return TruncatedError(f"compressed chunk {j} header", off, h, file_size)
        (cmp_len,) = struct.unpack_from("<Q" if h == 8 else "<I", self.buf, off)
        if not 0 < cmp_len <= self._worst:
            return FormatError(
                f"compressed chunk {j}", off, "cmp_len", f"1..{self._worst:#x}", cmp_len
            )
        pages = -(-(h + cmp_len) // n)
        if idx + pages > entries.size:
            return FormatError(
                f"compressed chunk {j}",
                off,
                "cmp_len",
                f"at most {(entries.size - idx) * n - h:#x} "
                f"({entries.size - idx} swap-map entries left)",
                cmp_len,
            )
        return pages, int(cmp_len)

    def __len__(self) -> int:
        return self.n_chunks

    def _map_end(self, k: int, idx: int) -> FormatError:
        entries = self.entries
        at = (
            self.entry_offset(idx)
            if self.entry_offset is not None
            else (int(entries[-1]) * self.page_size if entries.size else None)
        )
        return FormatError(
            "swap map page",
            at,
            f"entry {idx}",
            f"compressed chunk {k} of {self.n_chunks} ({self.remaining:#x} stream pages)",
            "0 (end of the swap map)",
        )

    def ensure(self, k: int) -> None:
        """Walk the chunk headers up to chunk ``k`` (inclusive)."""
        if k < self.built or any(lo <= k < hi for lo, hi in self._adopted):
            return
        entries, n, h = self.entries, self.page_size, self.header_size
        file_size = len(self.buf)
        idx = self._idx
        n_entries = int(entries.size)
        for j in range(self.built, min(k + 1, self.n_chunks)):
            if idx >= n_entries:
                raise self._map_end(j, idx)
            off = int(entries[idx]) * n
            if off + h > file_size and self._first_missing < idx:
                owner = (
                    int(np.searchsorted(self.first_entry[:j], self._first_missing, side="right"))
                    - 1
                )
                raise TruncatedError(
                    f"compressed chunk {owner}", int(entries[self._first_missing]) * n, n, file_size
                )
            got = self.header_error(j, idx)
            if isinstance(got, FormatError):
                raise got
            pages, cmp_len = got
            self.first_entry[j] = idx
            self.n_pages[j] = pages
            self.cmp_len[j] = cmp_len
            idx += pages
            self.built = j + 1
            self._idx = idx

    def part(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Chunks ``lo..hi-1`` as walked (``first_entry``, ``n_pages``, ``cmp_len``)."""
        self.ensure(hi - 1)
        return (
            self.first_entry[lo:hi].copy(),
            self.n_pages[lo:hi].copy(),
            self.cmp_len[lo:hi].copy(),
        )

    def adopt(self, lo: int, part: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        """Take chunks ``lo..`` as another copy of this table walked them (a forked worker
        started before its parent's walk reached them)."""
        first, npg, lens = part
        hi = lo + int(first.size)
        self.first_entry[lo:hi] = first
        self.n_pages[lo:hi] = npg
        self.cmp_len[lo:hi] = lens
        self._adopted.append((lo, hi))

    def ensure_all(self) -> ChunkTable:
        self.ensure(self.n_chunks - 1)
        return self


def build_table(
    buf: Any,
    entries: np.ndarray,
    page_size: int,
    header_size: int,
    stream_pages: int,
    *,
    entry_offset: Callable[[int], int] | None = None,
) -> ChunkTable:
    """The whole chunk table, every header walked (see :class:`ChunkTable`).

    Args:
        buf: the file.
        entries: device page of each swap-map entry (entry 0 = swsusp_info).
        page_size: N.
        header_size: ``CMP_HEADER`` = sizeof(size_t) of the writer.
        stream_pages: ``swsusp_info.pages`` (stream pages including page 0).
        entry_offset: file offset of swap-map slot ``i`` (for messages); default: the
            device page the last entry points to.
    """
    return ChunkTable(
        buf, entries, page_size, header_size, stream_pages, entry_offset=entry_offset
    ).ensure_all()


def gather(
    buf: Any,
    entries: np.ndarray,
    first: int,
    n_pages: int,
    page_size: int,
    *,
    structure: str,
    zero_fill_below: int | None = None,
) -> bytes | memoryview:
    """The bytes of ``n_pages`` swap pages listed from ``entries[first]`` on.

    Contiguous runs (the common case) come straight from the map without copying.

    Args:
        zero_fill_below: pages at or past the end of the file but below this device page read
            as zeros (a dump trimmed after its last non-zero page); None: such pages are an
            error.
    """
    file_size = len(buf)
    file_pages = file_size // page_size
    start = int(entries[first])
    if n_pages == 1 or int(entries[first + n_pages - 1]) - start == n_pages - 1:
        # contiguous on the device (the common case), checked on the ends first: cheap
        run = entries[first : first + n_pages]
        if (
            n_pages == 1 or bool((run[1:] - run[:-1] == 1).all())
        ) and start + n_pages <= file_pages:
            return memoryview(buf)[start * page_size : (start + n_pages) * page_size]
    pages = entries[first : first + n_pages]
    beyond = pages >= file_pages
    if beyond.any():
        bad = int(pages[np.argmax(beyond)])
        if zero_fill_below is None or int(pages[beyond].max()) >= zero_fill_below:
            if zero_fill_below is not None:
                bad = int(pages[beyond].max())
            raise TruncatedError(structure, bad * page_size, page_size, file_size)
        # a page the file ends inside keeps the bytes it has; only the missing part is zeros
        return b"".join(
            bytes(buf[int(p) * page_size : (int(p) + 1) * page_size]).ljust(page_size, b"\0")
            for p in pages
        )
    start = int(pages[0])
    if n_pages == 1 or np.all(np.diff(pages.astype(np.int64)) == 1):
        return memoryview(buf)[start * page_size : (start + n_pages) * page_size]
    return b"".join(bytes(buf[int(p) * page_size : (int(p) + 1) * page_size]) for p in pages)


class Decompressor:
    """Chunk decompression with the kernel's bounds, LZO or LZ4."""

    def __init__(self, algorithm: str, page_size: int) -> None:
        self.algorithm = algorithm
        self.page_size = page_size
        self.limit = unc_size(page_size)
        if algorithm == "lzo":
            import lzallright

            self._lzo = lzallright.LZOCompressor()
            self._lzo_errors: tuple[type[BaseException], ...] = (
                lzallright.LZOError,
                lzallright.InputNotConsumed,
            )
        elif algorithm == "lz4":
            import lz4.block

            self._lz4 = lz4.block
        else:  # pragma: no cover
            raise ValueError(algorithm)

    def decompress(
        self, data: bytes | memoryview, expected_pages: int, *, where: str, offset: int
    ) -> bytes:
        """Decompress one chunk and check its length like ``decompress_threadfn`` does."""
        try:
            if self.algorithm == "lzo":
                out = self._lzo.decompress(data, output_size_hint=self.limit)
            else:
                out = self._lz4.decompress(data, uncompressed_size=self.limit)
        except self._errors() as exc:
            # never echo the exception's payload (InputNotConsumed carries the output)
            reason = exc.args[0] if exc.args else type(exc).__name__
            raise FormatError(
                where,
                offset,
                None,
                f"valid {self.algorithm.upper()} data",
                f"decompression error ({reason})",
            ) from exc
        n = len(out)
        if n == 0 or n > self.limit or n % self.page_size:
            raise FormatError(
                where,
                offset,
                "uncompressed length",
                f"a multiple of {self.page_size:#x} up to {self.limit:#x}",
                n,
            )
        if n != expected_pages * self.page_size:
            raise FormatError(
                where, offset, "uncompressed length", expected_pages * self.page_size, n
            )
        result: bytes = out
        return result

    def _errors(self) -> tuple[type[BaseException], ...]:
        if self.algorithm == "lzo":
            return self._lzo_errors
        return (self._lz4.LZ4BlockError, ValueError)


def crc32_le(seed: int, data: Any) -> int:
    """The kernel's ``crc32_le(seed, data, len)`` (no pre/post inversion)."""
    return zlib.crc32(data, seed ^ 0xFFFFFFFF) ^ 0xFFFFFFFF


def compress(algorithm: str, data: bytes) -> bytes:
    """Compress one chunk (for forged images) with the same libraries."""
    if algorithm == "lzo":
        import lzallright

        out: bytes = lzallright.LZOCompressor().compress(data)
        return out
    import lz4.block

    out = lz4.block.compress(data, store_size=False)
    return out
