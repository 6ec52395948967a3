"""uswsusp's data: the extents pool, page by page, decrypted, and LZO blocks decoded into the
kernel's stream (a private, unlinked temporary file) with its MD5.

See :mod:`swsusp_inspect.formats.uswsusp` for the References (suspend-utils load.c).
"""

from __future__ import annotations

import hashlib
import mmap
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import construct as cs
import numpy as np

from swsusp_inspect.errors import FormatError, TruncatedError, UnsupportedFormatError
from swsusp_inspect.formats.parse import parse_at
from swsusp_inspect.formats.uswsusp.crypto import (
    cipher,
    passphrase_bytes,
    passphrase_key,
    rsa_image_key,
)
from swsusp_inspect.formats.uswsusp.structs import (
    BUFFER_PAGES,
    IMAGE_COMPRESSED,
    IMAGE_ENCRYPTED,
    IMAGE_USE_RSA,
    ImageHeaderInfo,
    compress_buf_size,
    extents_page_struct,
    flag_names,
    ulong,
)

# -- the data ----------------------------------------------------------------------------------


def data_offsets(
    buf: Any,
    map_start: int,
    n_pages: int,
    page_size: int,
    limit: int,
    *,
    map_start_at: int | None = None,
) -> tuple[np.ndarray, list[int]]:
    """Byte offsets of the ``n_pages`` swap pages holding image data, in write order, and the
    extents pages read (``load_extents_page()`` / ``find_next_image_page()``).

    Bounded: every extents page is visited once and must give at least one data page; no
    offset at or past ``limit`` (the device's size) is accepted.

    Args:
        map_start_at: file offset of ``image_header_info.map_start`` (for messages).
    """
    st = extents_page_struct(page_size)
    out = np.empty(n_pages, np.int64)
    got = 0
    page = map_start
    seen: list[int] = []
    where: tuple[str, int | None, str] = ("image_header_info", map_start_at, "map_start")
    while got < n_pages:
        structure, at, field = where
        if page == 0:
            raise FormatError(
                structure,
                at,
                field,
                f"another extents page ({n_pages - got:#x} of {n_pages:#x} data "
                "pages not yet found)",
                0,
            )
        if page in seen:
            raise FormatError(
                structure,
                at,
                field,
                "an extents page not yet visited",
                page,
                detail="the extents chain loops",
            )
        if page < 0 or page % page_size or page >= limit:
            raise FormatError(
                structure, at, field, f"a page-aligned offset below {limit:#x} (device bytes)", page
            )
        ext = parse_at(st, buf, page, "extents page")
        seen.append(page)
        before = got
        for i, e in enumerate(ext.extents):
            start, end = int(e.start), int(e.end)
            if start >= end:
                break  # the first empty extent ends this page's list
            if start <= 0 or start % page_size or end % page_size or end > limit:
                raise FormatError(
                    "extents page",
                    page + 16 * i,
                    f"extents[{i}]",
                    f"page-aligned 0 < start < end <= {limit:#x}",
                    f"{start:#x}..{end:#x}",
                )
            take = min((end - start) // page_size, n_pages - got)
            out[got : got + take] = start + page_size * np.arange(take, dtype=np.int64)
            got += take
            if got == n_pages:
                break
        if got == before:
            raise FormatError(
                "extents page", page, "extents[0]", "at least one extent", "none (start >= end)"
            )
        where = ("extents page", page + page_size - 16, "next")
        page = int(ext.next)
    return out, seen


class _Reader:
    """Data pages in write order, decrypted when needed (one CFB stream over all of them)."""

    def __init__(
        self, buf: Any, offsets: np.ndarray, page_size: int, limit: int, decryptor: Any
    ) -> None:
        self.buf = buf
        self.offsets = offsets
        self.n = page_size
        self.limit = limit
        self.decryptor = decryptor
        self.pos = 0

    def left(self) -> int:
        return int(self.offsets.size) - self.pos

    def offset(self) -> int:
        return int(self.offsets[self.pos])

    def read(self, count: int) -> bytes:
        n = self.n
        parts = []
        for off in self.offsets[self.pos : self.pos + count].tolist():
            if off + n <= len(self.buf):
                parts.append(bytes(self.buf[off : off + n]))
            elif off < self.limit:  # a dump trimmed after its last non-zero page
                parts.append(bytes(self.buf[off : off + n]).ljust(n, b"\0"))
            else:  # pragma: no cover - data_offsets() keeps offsets below the limit
                raise TruncatedError("uswsusp data page", off, n, len(self.buf))
        self.pos += count
        data = b"".join(parts)
        return self.decryptor.update(data) if self.decryptor is not None else data


def _plain_buffers(reader: _Reader, hdr: ImageHeaderInfo, page_size: int) -> Iterator[bytes]:
    """An uncompressed stream: ``hdr.pages`` pages, BUFFER_PAGES at a time."""
    remaining = hdr.pages
    while remaining > 0:
        take = min(BUFFER_PAGES, remaining)
        if reader.left() < take:
            raise FormatError(
                "image_header_info",
                hdr.offset + (24 if hdr.word_size == 8 else 16),
                "image_data_size",
                f">= pages * {page_size} = {hdr.pages * page_size:#x}",
                hdr.image_data_size,
            )
        yield reader.read(take)
        remaining -= take


def _decompress_block(
    lzo: Any, data: bytes, k: int, at: int, *, page_size: int, hint: str
) -> bytes:
    """buf_block ``k``'s LZO data (the block at ``at``) decoded: whole pages, at most
    BUFFER_PAGES of them."""
    import lzallright

    try:
        out: bytes = lzo.decompress(data, output_size_hint=BUFFER_PAGES * page_size)
    except (lzallright.LZOError, lzallright.InputNotConsumed) as exc:
        reason = exc.args[0] if exc.args else type(exc).__name__
        raise FormatError(
            f"buf_block {k}", at, None, "valid LZO data", f"decompression error ({reason}){hint}"
        ) from exc
    n = len(out)
    if n == 0 or n > BUFFER_PAGES * page_size or n % page_size:
        raise FormatError(
            f"buf_block {k}",
            at,
            "uncompressed length",
            f"a multiple of {page_size:#x} up to {BUFFER_PAGES * page_size:#x}",
            n,
        )
    return out


def _stream_pages(reader: _Reader, hdr: ImageHeaderInfo, page_size: int) -> Iterator[bytes]:
    """The kernel stream, one buffer (at most 32 pages) at a time (``load_buffer()``)."""
    if not hdr.flags & IMAGE_COMPRESSED:
        yield from _plain_buffers(reader, hdr, page_size)
        return
    import lzallright

    word = hdr.word_size
    remaining = hdr.pages
    hint = " (wrong passphrase?)" if hdr.flags & IMAGE_ENCRYPTED else ""
    lzo = lzallright.LZOCompressor()
    limit = compress_buf_size(page_size, word) - word
    header_st = cs.Struct("size" / ulong(word))
    k = 0
    while remaining > 0:
        if reader.left() <= 0:
            raise FormatError(
                "image_header_info",
                hdr.offset,
                "image_data_size",
                f"room for buf_block {k} ({remaining:#x} stream pages to go)",
                hdr.image_data_size,
            )
        at = reader.offset()
        first = reader.read(1)
        size = int(header_st.parse(first[:word]).size)
        if not 0 < size <= limit:
            raise FormatError(
                f"buf_block {k}",
                at,
                "size",
                f"1..{limit:#x}",
                size,
                detail=f"not a compressed block{hint}" if hint else None,
            )
        npg = -(-(word + size) // page_size)
        if npg - 1 > reader.left():
            raise FormatError(
                f"buf_block {k}",
                at,
                "size",
                f"at most {(reader.left() + 1) * page_size - word:#x} "
                "(image_data_size ends sooner)",
                size,
            )
        block = first + reader.read(npg - 1)
        out = _decompress_block(
            lzo, block[word : word + size], k, at, page_size=page_size, hint=hint
        )
        yield out
        remaining -= len(out) // page_size
        k += 1
        hint = ""  # a block decoded: the key is right, and later failures are damage


@dataclass(frozen=True)
class Decoded:
    """The kernel stream recovered from a uswsusp image, in a private temporary file."""

    header: ImageHeaderInfo
    stream: Any  # read-only mmap of the stream
    closers: list[Any]
    md5: bytes
    extents_pages: list[int]
    data_pages: int
    blocks: int | None


def _open_reader(
    buf: Any, hdr: ImageHeaderInfo, page_size: int, limit: int, passphrase: str | bytes | None
) -> tuple[_Reader, list[int]]:
    """The data pages in write order (decrypting when needed) and the extents pages read."""
    decryptor = None
    if hdr.flags & IMAGE_ENCRYPTED:
        if passphrase is None:
            raise PassphraseRequired(hdr)
        secret = passphrase_bytes(passphrase)
        if hdr.flags & IMAGE_USE_RSA:
            key, iv = rsa_image_key(hdr, secret)
        else:
            assert hdr.salt is not None
            key, iv = passphrase_key(secret, hdr.salt)
        decryptor = cipher("blowfish", key, iv).decryptor()
    offsets, extents_pages = data_offsets(
        buf,
        hdr.map_start,
        hdr.image_data_size // page_size,
        page_size,
        limit,
        map_start_at=hdr.offset + (16 if hdr.word_size == 8 else 8),
    )
    return _Reader(buf, offsets, page_size, limit, decryptor), extents_pages


def stream_blocks(
    buf: Any,
    hdr: ImageHeaderInfo,
    page_size: int,
    limit: int,
    passphrase: str | bytes | None = None,
) -> Iterator[bytes]:
    """The kernel stream as ``s2disk`` buffered it: one uncompressed buffer (at most 32 pages)
    at a time, read lazily (decrypted and decompressed as :func:`decode_stream` does, without
    its checks of the whole image), e.g. for the head of a damaged image."""
    reader, _ = _open_reader(buf, hdr, page_size, limit, passphrase)
    yield from _stream_pages(reader, hdr, page_size)


def decode_stream(
    buf: Any,
    hdr: ImageHeaderInfo,
    page_size: int,
    limit: int,
    passphrase: str | bytes | None = None,
) -> Decoded:
    """Read, decrypt and decompress the data into an unlinked temporary file.

    The temporary file holds ``hdr.pages`` pages at most, a size checked against what
    ``image_data_size`` can hold first (32 stream pages per written page when compressed).

    Raises:
        UnsupportedFormatError: encrypted and no passphrase given.
        FormatError: the data cannot be what ``s2disk`` wrote (or the passphrase is wrong).
    """
    n_data = hdr.image_data_size // page_size
    per_page = BUFFER_PAGES if hdr.flags & IMAGE_COMPRESSED else 1
    if hdr.pages > per_page * n_data:
        raise FormatError(
            "image_header_info",
            hdr.offset,
            "pages",
            f"at most {per_page * n_data:#x} (image_data_size "
            f"{hdr.image_data_size:#x} / {page_size} * {per_page})",
            hdr.pages,
        )
    reader, extents_pages = _open_reader(buf, hdr, page_size, limit, passphrase)
    md5 = hashlib.md5()
    tmp = tempfile.TemporaryFile(prefix="swsusp-inspect-uswsusp-")  # noqa: SIM115
    try:
        written = 0
        blocks = 0
        for out in _stream_pages(reader, hdr, page_size):
            md5.update(out)
            blocks += 1
            take = min(len(out) // page_size, hdr.pages - written) * page_size
            part = out[:take]
            if part.count(0) == len(part):
                tmp.seek(len(part), 1)  # keep zero pages sparse
            else:
                tmp.write(part)
            written += take // page_size
        tmp.truncate(written * page_size)
        stream = mmap.mmap(tmp.fileno(), written * page_size, access=mmap.ACCESS_READ)
    except BaseException:
        tmp.close()
        raise
    return Decoded(
        hdr,
        stream,
        [tmp, stream],
        md5.digest(),
        extents_pages,
        reader.pos,
        blocks if hdr.flags & IMAGE_COMPRESSED else None,
    )


class PassphraseRequired(UnsupportedFormatError):
    """An encrypted uswsusp image and no passphrase: the header facts, nothing more."""

    def __init__(self, hdr: ImageHeaderInfo) -> None:
        self.header = hdr
        super().__init__(
            f"uswsusp image_header_info at {hdr.offset:#x}: flags {hdr.flags:#x} "
            f"({'|'.join(flag_names(hdr.flags))}), {hdr.pages:#x} stream pages, "
            f"image_data_size {hdr.image_data_size:#x}, extents at {hdr.map_start:#x}, "
            f"{hdr.encryption}: encrypted: data pages need the passphrase (--passphrase)"
        )
