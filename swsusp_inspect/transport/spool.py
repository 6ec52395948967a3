"""Expanding a stream into a file, sniffed before it is expanded: its first bytes decide how
far it may go (see the package docstring), zeros become holes, and ``$TMPDIR`` keeps room."""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from swsusp_inspect.errors import FormatError, NotAnImageError, SwsuspError, UnsupportedFormatError
from swsusp_inspect.transport.codecs import codec_errors

__all__ = [
    "DEFAULT_MAX_EXPANDED",
    "HEAD_BYTES",
    "SPARSE_GRAIN",
    "TMP_RESERVE",
    "ZERO_HEAD_LIMIT",
    "Bound",
    "sniff_bound",
    "spool",
]

# A stream with nothing recognisable at its start may expand to at most this many bytes.
DEFAULT_MAX_EXPANDED = 1 << 40
# How much of an expanded stream is held before deciding what it is: every signature position
# (4 KiB .. 64 KiB pages) and a swsusp_info page.
HEAD_BYTES = 1 << 16
# A stream whose first this-many bytes are all zeros holds no image: refused there.
ZERO_HEAD_LIMIT = 1 << 20
# Holes are made where a whole aligned block of this size is zeros.
SPARSE_GRAIN = 64 << 10
# Free space left in $TMPDIR, whatever an expansion wants.
TMP_RESERVE = 256 << 20


@dataclass(frozen=True)
class Bound:
    limit: int  # bytes the expanded stream may hold
    why: str  # what sets the limit, for the error past it


def sniff_bound(spath: str, label: str, head: bytes, max_expanded: int) -> Bound | None:
    """What the first bytes of an expanded stream say about how far it may go; None when they
    say nothing yet (all zeros so far).  Refuses what is no image at all."""
    from swsusp_inspect.formats import signatures, snapshot

    if signatures.is_tuxonice(head, 0):
        raise UnsupportedFormatError(
            "TuxOnIce hibernation image (magic ed c3 02 e9 98 56 e5 0c at offset 0x0): "
            f"recognised, not supported ({spath}, {label})"
        )
    hit = signatures.sniff(head, 0)
    if hit is not None and hit.signature.kind == "swap":
        raise NotAnImageError(
            f"no hibernation image: page 0 ends with {hit.raw.decode('ascii', 'replace')!r} at "
            f"{hit.offset:#x} (plain swap area; {spath}, {label}, read no further)"
        )
    if hit is not None and len(head) >= 0x408:
        version, last_page = struct.unpack_from("<II", head, 0x400)  # union swap_header.info
        if version == 1 and last_page:
            limit = (last_page + 1) * hit.page_size
            return Bound(
                min(limit, max_expanded),
                f"the swap area's end: swap header last_page {last_page:#x}, "
                f"{hit.page_size}-byte pages",
            )
    if hit is None:
        with contextlib.suppress(SwsuspError, ValueError, OverflowError):
            stream = snapshot.sniff_stream(head)
            if stream is not None:
                page_size, word = stream
                info = snapshot.swsusp_info_struct(word).parse(head)
                limit = int(info.pages) * page_size
                return Bound(
                    min(limit, max_expanded),
                    f"the stream's end: swsusp_info.pages {int(info.pages):#x}",
                )
    if hit is None and head.count(0) == len(head):
        return None
    return Bound(
        max_expanded, f"the limit for streams without a swap header ({max_expanded >> 30} GiB)"
    )


def _tmp_free(out: IO[bytes]) -> int | None:
    try:
        vfs = os.fstatvfs(out.fileno())
    except OSError:
        return None
    return vfs.f_bavail * vfs.f_frsize


def _write_sparse(out: IO[bytes], block: bytes, at: int) -> int:
    """Write ``block`` at ``at``, leaving holes for the zero-filled SPARSE_GRAIN-aligned parts
    (most of a swap device is zeros); returns the bytes actually written."""
    if block.count(0) == len(block):
        return 0
    written = 0
    view = memoryview(block)
    pos = 0
    while pos < len(block):
        end = min(len(block), (at + pos) // SPARSE_GRAIN * SPARSE_GRAIN + SPARSE_GRAIN - at)
        part = view[pos:end]
        if block.count(0, pos, end) != end - pos:
            out.seek(at + pos)
            out.write(part)
            written += end - pos
        pos = end
    return written


def _head_bound(
    spath: str,
    label: str,
    head: bytes,
    block: bytes,
    *,
    total: int,
    written: int,
    max_expanded: int,
) -> Bound | None:
    """The bound ``head`` sets, read when it is long enough or ``block`` (read after ``total``
    bytes, ``written`` of them not zeros) reaches ZERO_HEAD_LIMIT; None: zeros so far, read
    on.  Refuses a stream whose first ZERO_HEAD_LIMIT bytes are all zeros."""
    bound = sniff_bound(spath, label, head, max_expanded)
    if bound is None and total + len(block) >= ZERO_HEAD_LIMIT:
        if written == 0 and block.count(0) == len(block):
            raise NotAnImageError(
                f"no hibernation image: {spath} ({label}): its first "
                f"{ZERO_HEAD_LIMIT >> 20} MiB are zeros, no signature, no "
                "swsusp_info (read no further)"
            )
        bound = Bound(
            max_expanded, f"the limit for streams without a swap header ({max_expanded >> 30} GiB)"
        )
    return bound


def _too_much(spath: str, label: str, expected: str, total: int) -> FormatError:
    """The error for a stream that expands past ``expected`` (stopped after ``total`` bytes)."""
    return FormatError(
        label, 0, None, expected, f"more (read no further than {total:#x})", path=spath
    )


def spool(
    spath: str,
    label: str,
    transport: str | None,
    blocks: Iterator[bytes],
    out: IO[bytes],
    *,
    max_expanded: int,
) -> None:
    """Write ``blocks`` into ``out`` (holes for zero blocks), deciding from the head how far
    the stream may go."""
    total = 0
    written = 0  # non-zero bytes, which take disk space
    head = bytearray()
    bound: Bound | None = None
    free = _tmp_free(out)
    room = None if free is None else max(0, free - TMP_RESERVE)
    try:
        for block in blocks:
            if bound is None:
                head += block[: max(0, HEAD_BYTES - len(head))]
                if len(head) >= HEAD_BYTES or total + len(block) >= ZERO_HEAD_LIMIT:
                    bound = _head_bound(
                        spath,
                        label,
                        bytes(head),
                        block,
                        total=total,
                        written=written,
                        max_expanded=max_expanded,
                    )
            total += len(block)
            limit = bound.limit if bound is not None else max_expanded
            if total > limit:
                why = bound.why if bound is not None else "the limit"
                raise _too_much(spath, label, f"at most {limit:#x} bytes expanded ({why})", total)
            written += _write_sparse(out, block, total - len(block))
            if room is not None and written > room:
                raise _too_much(
                    spath,
                    label,
                    f"at most {room:#x} bytes of data in $TMPDIR (its free "
                    f"space less {TMP_RESERVE >> 20} MiB)",
                    total,
                )
        if bound is None and total:
            bound = sniff_bound(spath, label, bytes(head), max_expanded)
            if bound is None:
                raise NotAnImageError(
                    f"no hibernation image: {spath} ({label}) holds only zeros (ends at {total:#x})"
                )
        out.truncate(total)
    except codec_errors(transport) as exc:
        # the stream starts at file offset 0; where decoding stopped is given as a decompressed
        # count (the compressed read position is buffered, not exact)
        raise FormatError(
            label,
            0,
            None,
            f"a complete {transport} stream",
            f"corrupt after {total:#x} decompressed bytes ({exc})",
            path=spath,
        ) from exc
