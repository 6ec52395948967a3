"""Compressed transports: xz, gzip and zstd streams sniffed by their magic and expanded block
by block (the expansion is bounded by the caller: :mod:`.spool` for images, :func:`read_expanded`
for the side inputs, which are read whole)."""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Generator, Iterator
from typing import IO, Any

from swsusp_inspect.errors import FormatError, SwsuspError

__all__ = [
    "BLOCK",
    "MAGICS",
    "Prefixed",
    "codec_errors",
    "expand_blocks",
    "open_expanded",
    "raw_blocks",
    "read_expanded",
    "read_head",
    "sniff_transport",
]

BLOCK = 1 << 20

MAGICS = ((b"\xfd7zXZ\x00", "xz"), (b"\x1f\x8b", "gzip"), (b"\x28\xb5\x2f\xfd", "zstd"))


def sniff_transport(head: bytes) -> str | None:
    for magic, name in MAGICS:
        if head.startswith(magic):
            return name
    return None


def expand_blocks(name: str, raw: IO[bytes]) -> Generator[bytes, None, None]:
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
            block = stream.read(BLOCK)
            if not block:
                return
            yield block


def raw_blocks(raw: IO[bytes], first: bytes) -> Iterator[bytes]:
    """The bytes of an uncompressed pipe: ``first`` (already read), then the rest."""
    if first:
        yield first
    while True:
        block = raw.read(BLOCK)
        if not block:
            return
        yield block


def read_head(raw: IO[bytes], n: int) -> bytes:
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


class Prefixed:
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


def codec_errors(transport: str | None) -> tuple[type[BaseException], ...]:
    import gzip
    import lzma
    import zlib

    errors: tuple[type[BaseException], ...] = (
        lzma.LZMAError,
        zlib.error,
        EOFError,
        gzip.BadGzipFile,
    )
    if transport == "zstd":
        import zstandard

        errors += (zstandard.ZstdError,)
    return errors


class _Expanded(io.RawIOBase):
    """The decompressed bytes of a transport stream as a raw stream (buffered by
    :func:`open_expanded` for the readers that take a file: System.map lines, kpageflags)."""

    def __init__(self, transport: str, raw: IO[bytes]) -> None:
        self._blocks = expand_blocks(transport, raw)
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            block = next(self._blocks, None)
            if block is None:
                return 0
            self._buf = memoryview(block)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def open_expanded(raw: IO[bytes], transport: str | None) -> IO[bytes]:
    """``raw`` itself when ``transport`` is None, else a buffered stream of its decompressed
    bytes (damage surfaces as one of :func:`codec_errors` when read)."""
    if transport is None:
        return raw
    return io.BufferedReader(_Expanded(transport, raw), buffer_size=BLOCK)


def read_expanded(
    path: str, limit: int, refuse: Callable[[str], SwsuspError], *, what: str
) -> tuple[bytes, str | None]:
    """The content of ``path`` (``what`` names it in errors) and its transport: decompressed
    when it is xz, gzip or zstd; at most ``limit`` bytes read from the file and at most
    ``limit`` bytes expanded (else ``refuse``).

    Raises:
        FormatError: a damaged compressed stream.
    """
    from swsusp_inspect.transport import read_capped

    data = read_capped(path, limit, refuse)
    transport = sniff_transport(data[:8])
    if transport is None:
        return data, None
    parts: list[bytes] = []
    got = 0
    try:
        for block in expand_blocks(transport, io.BytesIO(data)):
            got += len(block)
            if got > limit:
                raise refuse(
                    f"{transport}-compressed, more than {limit} bytes ({limit >> 20} "
                    "MiB) expanded: not read further"
                )
            parts.append(block)
    except codec_errors(transport) as exc:
        raise FormatError(
            f"{what} {transport} stream",
            0,
            None,
            f"a complete {transport} stream",
            f"corrupt after {got:#x} decompressed bytes ({exc})",
            path=os.fspath(path),
        ) from exc
    return b"".join(parts), transport
