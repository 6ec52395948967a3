"""Opening inputs read-only: plain files, block devices, and xz/gzip/zstd-compressed evidence.

A compressed input is decompressed into a private, already-unlinked temporary file (in
``$TMPDIR``, never next to the input) because random access needs it; the input itself is only
ever opened ``O_RDONLY`` and mapped ``ACCESS_READ``.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from swsusp_inspect.errors import FormatError, NotAnImageError

_MAGICS = (
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)

# A compressed input may expand to at most this many bytes (a decompression bomb stops here).
DEFAULT_MAX_EXPANDED = 1 << 40


def sniff_transport(head: bytes) -> str | None:
    for magic, name in _MAGICS:
        if head.startswith(magic):
            return name
    return None


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
            block = stream.read(1 << 20)
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
    """Open ``path`` read-only and map it; decompress xz/gzip/zstd transports to a temp file."""
    spath = os.fspath(path)
    fd = os.open(spath, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    raw = os.fdopen(fd, "rb", buffering=0)
    try:
        head = raw.read(8)
        transport = sniff_transport(head)
        if transport is None:
            size = raw.seek(0, os.SEEK_END)
            if size == 0:
                raise NotAnImageError(f"no hibernation image: {spath} is empty (ends at 0x0)")
            mm = mmap.mmap(raw.fileno(), size, access=mmap.ACCESS_READ)
            return Source(spath, mm, None, [mm, raw])
        raw.seek(0)
        tmp = tempfile.TemporaryFile(prefix="swsusp-inspect-")  # noqa: SIM115 - lives with the map
        try:
            _expand(spath, transport, raw, tmp, max_expanded)
            size = tmp.seek(0, os.SEEK_END)
            if size == 0:
                raise NotAnImageError(
                    f"no hibernation image: {spath} decompresses to nothing (ends at 0x0)")
            mm = mmap.mmap(tmp.fileno(), size, access=mmap.ACCESS_READ)
        except BaseException:
            tmp.close()
            raise
        raw.close()
        return Source(spath, mm, transport, [mm, tmp])
    except BaseException:
        raw.close()
        raise


def _codec_errors(transport: str) -> tuple[type[BaseException], ...]:
    import gzip
    import lzma
    import zlib

    errors: tuple[type[BaseException], ...] = (lzma.LZMAError, zlib.error, EOFError,
                                               gzip.BadGzipFile)
    if transport == "zstd":
        import zstandard

        errors += (zstandard.ZstdError,)
    return errors


def _expand(spath: str, transport: str, raw: IO[bytes], out: IO[bytes], limit: int) -> None:
    total = 0
    try:
        for block in _blocks(transport, raw):
            total += len(block)
            if total > limit:
                raise FormatError(f"{transport} stream", 0, None,
                                  f"at most {limit:#x} bytes decompressed", "more", path=spath)
            # keep holes sparse: most of a swap device is zeros
            if block.count(0) == len(block):
                out.seek(len(block), os.SEEK_CUR)
            else:
                out.write(block)
        out.truncate(total)
    except _codec_errors(transport) as exc:
        # the stream starts at file offset 0; where decoding stopped is given as a decompressed
        # count (the compressed read position is buffered, not exact)
        raise FormatError(f"{transport} stream", 0, None, f"a complete {transport} stream",
                          f"corrupt after {total:#x} decompressed bytes ({exc})",
                          path=spath) from exc
