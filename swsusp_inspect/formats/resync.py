"""Salvaging compressed chunks: the chunk walk that reads around damage.

References:
    kernel/power/swap.c ``save_compressed_image()`` / ``load_compressed_image()`` (2.6.37 ->
        now): chunks follow one another in the swap-map entries, each ``[size_t cmp_len]
        [cmp_len bytes]`` over ``DIV_ROUND_UP(CMP_HEADER + cmp_len, PAGE_SIZE)`` swap pages,
        every chunk but the last decompressing to ``UNC_PAGES`` = 32 pages.  One bad length
        loses the boundary of every chunk after it: the kernel stops there.

A salvaging walk (:class:`~swsusp_inspect.formats.chunks.ChunkTable` with ``salvage=``) goes
on.  Where a header cannot be read (past the end of the file, an unknown map entry, a length
out of bounds) it looks, entry by entry, for the next place where a plausible length sits whose
bytes decompress to exactly 32 pages, and walks on from there.  Chunks found after a gap have
no number of their own: they are numbered from the end when the walk ends on the map's last
entry (and the last chunk decompresses to the stream's last page count), or, when every gap
can have lost exactly one chunk, in order.  Chunks that cannot be numbered are never placed:
their pages are reported unreadable, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from swsusp_inspect.errors import FormatError
from swsusp_inspect.formats import chunks as fchunks

if TYPE_CHECKING:
    from swsusp_inspect.formats.chunks import ChunkTable, Salvage

__all__ = ["salvage_walk"]


@dataclass
class _Segment:
    """Chunks walked one after another: ``(entry, pages, cmp_len, lost reason or None)``."""

    chunks: list[tuple[int, int, int, str | None]] = field(default_factory=list)
    damage: str | None = None  # what stopped the walk after this segment

    @property
    def end(self) -> int:
        idx, pages, _, _ = self.chunks[-1]
        return idx + pages


def _where(table: ChunkTable, idx: int) -> int | None:
    if table.entry_offset is not None:
        return table.entry_offset(idx)
    return None


def _map_damage(table: ChunkTable, idx: int, what: str) -> str:
    """Why entry ``idx`` is unknown: the map's own complaint about it when it made one (the
    strict reader's message), else where the entry was."""
    salvage = table.salvage
    located = [p for p in (salvage.problems if salvage else ()) if "entries[" in p]
    if located:
        return located[0]
    return str(
        FormatError(
            "swap map page",
            _where(table, idx),
            f"entry {idx}",
            what,
            "an entry the damaged map lost",
        )
    )


def _read(table: ChunkTable, j: int, idx: int) -> tuple[int, int, str | None] | str:
    """The chunk whose header is entry ``idx``: ``(pages, cmp_len, why it is lost or None)``,
    or why no header can be read there (the strict reader's message)."""
    entries, n = table.entries, table.page_size
    file_pages = len(table.buf) // n
    if not int(entries[idx]):
        return _map_damage(table, idx, f"the header of compressed chunk {j}")
    got = table.header_error(j, idx)
    if isinstance(got, FormatError):
        return str(got)
    pages, cmp_len = got
    run = entries[idx : idx + pages]
    if not run.all():
        lost_at = idx + int(np.argmin(run != 0))
        reason = _map_damage(table, lost_at, f"an entry of compressed chunk {j}")
        gaps = table.salvage.gaps if table.salvage else ()
        if any(idx <= g < idx + pages for g in gaps):
            # its length runs into a gap of unknown size: what follows is not where it says
            return reason
        return pages, cmp_len, reason  # single slots lost: the chunk is, the next one is not
    beyond = np.flatnonzero(run >= file_pages)
    if beyond.size:
        at = int(run[beyond[0]]) * n
        return (
            pages,
            cmp_len,
            str(
                FormatError(
                    f"compressed chunk {j}",
                    at,
                    None,
                    f"{n} bytes",
                    f"{max(0, len(table.buf) - at)} bytes before end of file "
                    f"at {len(table.buf):#x}",
                )
            ),
        )
    return pages, cmp_len, None


def _decompresses_to(
    table: ChunkTable, dec: fchunks.Decompressor, chunk: tuple[int, int, int], expected: int
) -> bool:
    """Whether the chunk ``(entry, pages, cmp_len)`` decompresses to ``expected`` pages."""
    idx, pages, cmp_len = chunk
    raw = fchunks.gather(table.buf, table.entries, idx, pages, table.page_size, structure="chunk")
    h = table.header_size
    try:
        dec.decompress(raw[h : h + cmp_len], expected, where="chunk", offset=0)
    except FormatError:
        return False
    return True


def _resync(
    table: ChunkTable, dec: fchunks.Decompressor, start: int, last_pages: int, end_known: bool
) -> int | None:
    """The first entry from ``start`` on that holds a chunk decompressing to exactly 32 pages
    (the stream's last count when it ends on the map's last entry)."""
    entries, n, h = table.entries, table.page_size, table.header_size
    file_pages = len(table.buf) // n
    idx = np.arange(start, entries.size)
    ok = (entries[start:] != 0) & (entries[start:] < file_pages)
    words = np.frombuffer(table.buf, "<u8" if h == 8 else "<u4", count=file_pages * n // h)
    lens = np.zeros(idx.size, np.int64)
    lens[ok] = words[entries[start:][ok].astype(np.int64) * (n // h)]
    ok &= (lens > 0) & (lens <= fchunks.worst_compress(n))
    pages = -(-(h + lens) // n)
    ok &= idx + pages <= entries.size
    for i in np.flatnonzero(ok).tolist():
        at, npg, cmp_len = int(idx[i]), int(pages[i]), int(lens[i])
        if (
            not (entries[at : at + npg] != 0).all()
            or int(entries[at : at + npg].max()) >= file_pages
        ):
            continue
        expected = last_pages if end_known and at + npg == entries.size else fchunks.UNC_PAGES
        if _decompresses_to(table, dec, (at, npg, cmp_len), expected):
            return at
    return None


def _segments(table: ChunkTable, salvage: Salvage) -> list[_Segment]:
    """Walk every header, resynchronising after each one that cannot be read."""
    dec = fchunks.Decompressor(salvage.algorithm, table.page_size)
    last_pages = int(table.unc_pages[-1]) if table.n_chunks else 0
    segs = [_Segment()]
    idx = 1
    while idx < table.entries.size:
        seg = segs[-1]
        if len(segs) == 1 and len(seg.chunks) == table.n_chunks:
            break  # the stream is complete: entries after it are not ours
        j = len(seg.chunks) if len(segs) == 1 else -1
        got = _read(table, j, idx)
        if isinstance(got, tuple):
            pages, cmp_len, lost = got
            seg.chunks.append((idx, pages, cmp_len, lost))
            idx += pages
            continue
        seg.damage = got.replace("compressed chunk -1", "compressed data")
        nxt = _resync(table, dec, idx + 1, last_pages, salvage.end_known)
        if nxt is None:
            break
        segs.append(_Segment())
        idx = nxt
    if not segs[-1].chunks and len(segs) > 1:
        segs.pop()
    return segs


def _numbered(
    table: ChunkTable, segs: list[_Segment], salvage: Salvage
) -> list[tuple[int, _Segment]]:
    """``(first chunk, segment)`` for the segments that can be numbered.

    A gap after a chunk that was read lost at least that chunk's successor; a gap after a
    chunk already lost (its length known, its pages not) may have lost nothing more (the
    walk stumbled on the lost pages).  The segment that ends on the map's last entry is
    numbered from the end; the ones between are numbered only when every gap lost the least
    it can have.
    """
    placed = [(0, segs[0])]
    if len(segs) == 1:
        return placed
    last = segs[-1]
    if not (salvage.end_known and last.end == table.entries.size):
        return placed  # nothing after a gap can be numbered
    first_last = table.n_chunks - len(last.chunks)
    least = [0 if seg.chunks and seg.chunks[-1][3] is not None else 1 for seg in segs[:-1]]
    total = sum(len(s.chunks) for s in segs)
    if first_last < len(segs[0].chunks) + least[0]:
        return placed  # the numbers would overlap: trust none of them
    idx, pages, cmp_len, lost = last.chunks[-1]
    dec = fchunks.Decompressor(salvage.algorithm, table.page_size)
    if lost is None and not _decompresses_to(
        table, dec, (idx, pages, cmp_len), int(table.unc_pages[-1])
    ):
        return placed  # its last chunk is not the stream's last
    if total + sum(least) == table.n_chunks:  # every gap lost the least it can
        k = 0
        placed = []
        for seg, gap in zip(segs, [*least, 0], strict=True):
            placed.append((k, seg))
            k += len(seg.chunks) + gap
        return placed
    return [*placed, (first_last, last)]


def salvage_walk(table: ChunkTable, salvage: Salvage) -> None:
    """Fill ``table``'s arrays (-1 for chunks that could not be placed) and ``table.lost``."""
    segs = _segments(table, salvage)
    table.first_entry[:] = -1
    table.n_pages[:] = 0
    table.cmp_len[:] = 0
    reason: str | None = None
    placed = _numbered(table, segs, salvage)
    covered = np.zeros(table.n_chunks, bool)
    for k0, seg in placed:
        for i, (idx, pages, cmp_len, lost) in enumerate(seg.chunks):
            k = k0 + i
            table.first_entry[k], table.n_pages[k], table.cmp_len[k] = idx, pages, cmp_len
            covered[k] = True
            if lost is not None:
                table.lost[k] = lost.replace("compressed chunk -1", f"compressed chunk {k}")
    # chunks never placed: the damage that opened the gap they fall in
    damage = [(k0 + len(seg.chunks), seg.damage) for k0, seg in placed]
    missing = np.flatnonzero(~covered).tolist()
    for k in missing:
        reason = next((d for start, d in reversed(damage) if start <= k and d), reason)
        table.lost[k] = reason or str(table._map_end(k, table.entries.size))
    table._idx = max((s.end for s in segs if s.chunks), default=1)
