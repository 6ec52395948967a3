"""Opening inputs read-only: plain files, block devices, pipes, and xz/gzip/zstd-compressed
evidence, with bounded work whatever the input.

What each kind of input gets:

- a regular file or a block device is mapped (``mmap`` ``ACCESS_READ``), as it is;
- a pipe or FIFO (``<(xz -dc img.xz)``) is opened ``O_NONBLOCK`` (a FIFO with no writer never
  blocks the open, and reads as empty), then copied into a bounded spool;
- a character device (``/dev/zero``), a socket or a directory is refused with one line;
- a compressed input (or a compressed stream in a pipe) is expanded into a private, already
  unlinked temporary file in ``$TMPDIR`` (never next to the input), sparse where the data are
  zeros, closed and gone on every exit path.

Sniffed before expanded: the first :data:`HEAD_BYTES` of the expanded stream decide what it is
(signatures.sniff / snapshot.sniff_stream, read-only), and so how far it may expand:

- a plain swap area or TuxOnIce: refused at once (the messages :mod:`swsusp_inspect.image` gives);
- a hibernation or uswsusp signature over a version-1 swap header: at most ``last_page + 1``
  pages (the kernel reads nothing past the swap area), a clear error past it;
- a ``/dev/snapshot`` stream: at most ``swsusp_info.pages`` pages;
- anything else (a legacy header without ``last_page``, or a partition image holding a swap
  file at ``resume_offset``): at most ``max_expanded`` (:data:`DEFAULT_MAX_EXPANDED`, 1 TiB),
  but a stream whose first :data:`ZERO_HEAD_LIMIT` bytes are all zeros is refused there (no
  image, no file system, no partition table starts with 1 MiB of nothing);
- always: the non-zero data written to ``$TMPDIR`` stay :data:`TMP_RESERVE` below its free
  space at the start.

The input itself is only ever opened ``O_RDONLY``.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import stat
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, cast

from swsusp_inspect.errors import (
    FormatError,
    NotAnImageError,
    SwsuspError,
    UnsupportedFormatError,
)

__all__ = [
    "DEFAULT_MAX_EXPANDED",
    "HEAD_BYTES",
    "SPARSE_GRAIN",
    "TMP_RESERVE",
    "ZERO_HEAD_LIMIT",
    "Source",
    "open_input",
    "open_source",
    "read_capped",
    "sniff_transport",
]

_MAGICS = (
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)

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
_BLOCK = 1 << 20


def sniff_transport(head: bytes) -> str | None:
    for magic, name in _MAGICS:
        if head.startswith(magic):
            return name
    return None


# -- opening any path read-only, refusing what cannot be evidence ----------------------------


def _kind(mode: int) -> str | None:
    """What a non-regular, non-block, non-FIFO file is (None for those three)."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISREG(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
        return None
    return "not a regular file"


def open_input(path: str, refuse: Callable[[str], SwsuspError]) -> tuple[int, os.stat_result]:
    """Open ``path`` ``O_RDONLY`` without ever blocking, and ``fstat`` it.

    A directory, character device or socket is refused (``refuse(reason)`` is raised) before it
    is opened; a FIFO opens at once even with no writer (``O_NONBLOCK``, then back to blocking
    reads: with no writer they read as end of file).  Returns the descriptor and its stat.

    Raises:
        OSError: ``path`` does not exist or cannot be opened.
    """
    what = _kind(os.stat(path).st_mode)
    if what is not None:
        raise refuse(f"{what}, not a file")
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        what = _kind(st.st_mode)  # it may have changed between stat and open
        if what is not None:
            raise refuse(f"{what}, not a file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def read_capped(path: str, limit: int, refuse: Callable[[str], SwsuspError]) -> bytes:
    """The whole content of ``path``, at most ``limit`` bytes (else ``refuse``).

    Regular files are checked by size first; files that report size 0 (procfs) and pipes are
    read in blocks until ``limit + 1`` bytes.
    """
    fd, st = open_input(path, refuse)
    with os.fdopen(fd, "rb", buffering=0) as fh:
        if stat.S_ISREG(st.st_mode) and st.st_size > limit:
            raise refuse(f"{st.st_size} bytes: more than {limit} ({limit >> 20} MiB)")
        parts: list[bytes] = []
        got = 0
        while got <= limit:
            block = fh.read(min(_BLOCK, limit + 1 - got))
            if not block:
                break
            parts.append(block)
            got += len(block)
        if got > limit:
            raise refuse(f"more than {limit} bytes ({limit >> 20} MiB): not read further")
        return b"".join(parts)


# -- decompression --------------------------------------------------------------------------


def _blocks(name: str, raw: IO[bytes]) -> Iterator[bytes]:
    """Decompressed blocks of a transport stream; a truncated stream raises EOFError."""
    if name == "zstd":
        import zstandard

        dctx = zstandard.ZstdDecompressor()
        obj = dctx.decompressobj()
        fed = False  # whether the current frame has begun
        while True:
            data = raw.read(1 << 20)
            if not data:
                break
            while data:
                fed = True
                out = obj.decompress(data)
                if out:
                    yield out
                data = b""
                if obj.eof:  # next frame (concatenated zstd frames)
                    data = obj.unused_data
                    obj = dctx.decompressobj()
                    fed = False
        if fed:
            raise EOFError("compressed stream ends before the end-of-frame marker")
        return
    if name == "xz":
        import lzma

        stream: IO[bytes] = lzma.open(raw, "rb")  # noqa: SIM115
    else:
        import gzip

        stream = gzip.open(raw, "rb")  # type: ignore[assignment]  # noqa: SIM115
    with stream:
        while True:
            block = stream.read(_BLOCK)
            if not block:
                return
            yield block


def _raw_blocks(raw: IO[bytes], first: bytes) -> Iterator[bytes]:
    """The bytes of an uncompressed pipe: ``first`` (already read), then the rest."""
    if first:
        yield first
    while True:
        block = raw.read(_BLOCK)
        if not block:
            return
        yield block


@dataclass
class Source:
    """A read-only byte view of an input (``buf`` supports len() and slicing)."""

    path: str
    buf: Any
    transport: str | None  # None, "xz", "gzip", "zstd"
    _closers: list[Any] = field(default_factory=list)

    def close(self) -> None:
        while self._closers:
            obj = self._closers.pop()
            with contextlib.suppress(BufferError, OSError):  # views may still be alive
                obj.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(
    path: str | os.PathLike[str], *, max_expanded: int = DEFAULT_MAX_EXPANDED
) -> Source:
    """Open ``path`` read-only and map it; expand xz/gzip/zstd transports and pipes into a
    temporary file, bounded as the module docstring says.

    Raises:
        NotAnImageError: empty input, a directory, a character device, a plain swap area or
            all-zero stream met while expanding.
        UnsupportedFormatError: TuxOnIce, met while expanding.
        FormatError: a damaged compressed stream, or one that expands past its bound.
        OSError: the path does not exist or cannot be opened.
    """
    spath = os.fspath(path)

    def refuse(reason: str) -> SwsuspError:
        return NotAnImageError(f"no hibernation image: {spath} is {reason}")

    fd, st = open_input(spath, refuse)
    raw = os.fdopen(fd, "rb", buffering=0)
    try:
        fifo = stat.S_ISFIFO(st.st_mode)
        head = _read_head(raw, 8) if fifo else raw.read(8)
        transport = sniff_transport(head)
        if transport is None and not fifo:
            size = raw.seek(0, os.SEEK_END)
            if size == 0:
                raise NotAnImageError(f"no hibernation image: {spath} is empty (ends at 0x0)")
            mm = mmap.mmap(raw.fileno(), size, access=mmap.ACCESS_READ)
            return Source(spath, mm, None, [mm, raw])
        if fifo:
            label = f"{transport} stream in a pipe" if transport else "pipe"
            blocks = _blocks(transport, cast(IO[bytes], _Prefixed(head, raw))) if transport \
                else _raw_blocks(raw, head)
        else:
            raw.seek(0)
            label = f"{transport} stream"
            assert transport is not None
            blocks = _blocks(transport, raw)
        tmp = tempfile.TemporaryFile(prefix="swsusp-inspect-")  # noqa: SIM115 - lives with the map
        try:
            _spool(spath, label, transport, blocks, tmp, max_expanded)
            size = tmp.seek(0, os.SEEK_END)
            if size == 0:
                what = "decompresses to nothing" if transport else "is an empty pipe (no writer?)"
                raise NotAnImageError(f"no hibernation image: {spath} {what} (ends at 0x0)")
            mm = mmap.mmap(tmp.fileno(), size, access=mmap.ACCESS_READ)
        except BaseException:
            tmp.close()
            raise
        raw.close()
        return Source(spath, mm, transport, [mm, tmp])
    except BaseException:
        raw.close()
        raise


def _read_head(raw: IO[bytes], n: int) -> bytes:
    """Up to ``n`` bytes from a pipe (short reads joined; fewer only at its end)."""
    parts: list[bytes] = []
    got = 0
    while got < n:
        block = raw.read(n - got)
        if not block:
            break
        parts.append(block)
        got += len(block)
    return b"".join(parts)


class _Prefixed:
    """A pipe whose first bytes were already read to sniff it: those, then the rest."""

    def __init__(self, first: bytes, raw: IO[bytes]) -> None:
        self._first = first
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if self._first:
            n = len(self._first) if size is None or size < 0 else size
            out, self._first = self._first[:n], self._first[n:]
            return out
        return self._raw.read(size)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _codec_errors(transport: str | None) -> tuple[type[BaseException], ...]:
    import gzip
    import lzma
    import zlib

    errors: tuple[type[BaseException], ...] = (lzma.LZMAError, zlib.error, EOFError,
                                               gzip.BadGzipFile)
    if transport == "zstd":
        import zstandard

        errors += (zstandard.ZstdError,)
    return errors


@dataclass(frozen=True)
class _Bound:
    limit: int  # bytes the expanded stream may hold
    why: str  # what sets the limit, for the error past it


def _bound(spath: str, label: str, head: bytes, max_expanded: int) -> _Bound | None:
    """What the first bytes of an expanded stream say about how far it may go; None when they
    say nothing yet (all zeros so far).  Refuses what is no image at all."""
    from swsusp_inspect.formats import signatures, snapshot

    if signatures.is_tuxonice(head, 0):
        raise UnsupportedFormatError(
            "TuxOnIce hibernation image (magic ed c3 02 e9 98 56 e5 0c at offset 0x0): "
            f"recognised, not supported ({spath}, {label})")
    hit = signatures.sniff(head, 0)
    if hit is not None and hit.signature.kind == "swap":
        raise NotAnImageError(
            f"no hibernation image: page 0 ends with {hit.raw.decode('ascii', 'replace')!r} at "
            f"{hit.offset:#x} (plain swap area; {spath}, {label}, read no further)")
    if hit is not None and len(head) >= 0x408:
        version, last_page = struct.unpack_from("<II", head, 0x400)  # union swap_header.info
        if version == 1 and last_page:
            limit = (last_page + 1) * hit.page_size
            return _Bound(min(limit, max_expanded),
                          f"the swap area's end: swap header last_page {last_page:#x}, "
                          f"{hit.page_size}-byte pages")
    if hit is None:
        with contextlib.suppress(SwsuspError, ValueError, OverflowError):
            stream = snapshot.sniff_stream(head)
            if stream is not None:
                page_size, word = stream
                info = snapshot.swsusp_info_struct(word).parse(head)
                limit = int(info.pages) * page_size
                return _Bound(min(limit, max_expanded),
                              f"the stream's end: swsusp_info.pages {int(info.pages):#x}")
    if hit is None and head.count(0) == len(head):
        return None
    return _Bound(max_expanded, f"the limit for streams without a swap header "
                                f"({max_expanded >> 30} GiB)")


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


def _spool(spath: str, label: str, transport: str | None, blocks: Iterator[bytes],
           out: IO[bytes], max_expanded: int) -> None:
    """Write ``blocks`` into ``out`` (holes for zero blocks), deciding from the head how far
    the stream may go."""
    total = 0
    written = 0  # non-zero bytes, which take disk space
    head = bytearray()
    bound: _Bound | None = None
    free = _tmp_free(out)
    room = None if free is None else max(0, free - TMP_RESERVE)
    try:
        for block in blocks:
            if bound is None:
                head += block[: max(0, HEAD_BYTES - len(head))]
                if len(head) >= HEAD_BYTES or total + len(block) >= ZERO_HEAD_LIMIT:
                    bound = _bound(spath, label, bytes(head), max_expanded)
                    if bound is None and total + len(block) >= ZERO_HEAD_LIMIT:
                        if written == 0 and block.count(0) == len(block):
                            raise NotAnImageError(
                                f"no hibernation image: {spath} ({label}): its first "
                                f"{ZERO_HEAD_LIMIT >> 20} MiB are zeros, no signature, no "
                                "swsusp_info (read no further)")
                        bound = _Bound(max_expanded, "the limit for streams without a swap "
                                                     f"header ({max_expanded >> 30} GiB)")
            total += len(block)
            limit = bound.limit if bound is not None else max_expanded
            if total > limit:
                why = bound.why if bound is not None else "the limit"
                raise FormatError(label, 0, None, f"at most {limit:#x} bytes expanded ({why})",
                                  f"more (read no further than {total:#x})", path=spath)
            written += _write_sparse(out, block, total - len(block))
            if room is not None and written > room:
                raise FormatError(label, 0, None,
                                  f"at most {room:#x} bytes of data in $TMPDIR (its free "
                                  f"space less {TMP_RESERVE >> 20} MiB)",
                                  f"more (read no further than {total:#x})", path=spath)
        if bound is None and total:
            bound = _bound(spath, label, bytes(head), max_expanded)
            if bound is None:
                raise NotAnImageError(f"no hibernation image: {spath} ({label}) holds only "
                                      f"zeros (ends at {total:#x})")
        out.truncate(total)
    except _codec_errors(transport) as exc:
        # the stream starts at file offset 0; where decoding stopped is given as a decompressed
        # count (the compressed read position is buffered, not exact)
        raise FormatError(label, 0, None, f"a complete {transport} stream",
                          f"corrupt after {total:#x} decompressed bytes ({exc})",
                          path=spath) from exc
