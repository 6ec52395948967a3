"""uswsusp / suspend-utils (``s2disk``, ``resume``) images: the kernel's snapshot stream inside a
userland container on the swap device.

References (suspend-utils git, bircoph/suspend @84d75e60, 2020-09-24; the format below is the one
of 0.8, 2008-05-11 (8c6e189), unchanged through 1.0):
    swsusp.h   ``struct swsusp_header { loff_t image; char orig_sig[10]; char sig[10]; }
               __attribute__((packed))`` (28 bytes at the end of the swap area's first page,
               written by ``mark_swap()`` at ``(resume_offset + 1) * page_size - 28``);
               ``struct image_header_info { unsigned long pages; uint32_t flags; loff_t
               map_start; loff_t image_data_size; unsigned char checksum[16];
               #ifdef CONFIG_ENCRYPT unsigned char salt[CIPHER_BLOCK]; struct RSA_data rsa;
               struct encrypted_key key; #endif double writeout_time; int resume_pause; }``;
               ``IMAGE_CHECKSUM 1, IMAGE_COMPRESSED 2, IMAGE_ENCRYPTED 4, IMAGE_USE_RSA 8,
               PLATFORM_SUSPEND 0x10``; ``struct extent { loff_t start; loff_t end; }``;
               ``struct buf_block { size_t size; char data[1]; } __attribute__((packed))``.
    encrypt.h  ``IMAGE_CIPHER GCRY_CIPHER_BLOWFISH, KEY_SIZE 16, CIPHER_BLOCK 8``; ``PK_CIPHER
               GCRY_CIPHER_AES, PK_KEY_SIZE 16, PK_CIPHER_BLOCK 16``; ``struct RSA_data { char
               field[6][2]; unsigned short size[6]; unsigned char key_test[8]; unsigned char
               data[512+16+512+256+256+256]; }``; ``struct encrypted_key { size_t size;
               unsigned char data[512]; }``.
    memalloc.h ``BUFFER_PAGES 32`` (``buffer_size = 32 * page_size``).
    suspend.c  ``write_image()``: the header page is allocated first (``start``), then the first
               extents page (``map_start``), then a pool of swap pages described by extents;
               ``save_image()`` reads the kernel stream (swsusp_info page included) into 32-page
               buffers; ``flush_buffer()`` MD5s each uncompressed buffer, LZO1X-1-compresses it
               into ``[size_t size][data]`` and writes ``ceil((size + sizeof(size_t)) / N)``
               pages (the tail of the last page is stale buffer bytes), each encrypted with one
               continuous Blowfish-CFB stream when encrypting; ``image_data_size`` = bytes
               written; ``encrypt_init()``: key = MD5(passphrase), IV = first 8 bytes of the
               passphrase (zero-padded) XOR ``header.salt``; RSA mode: random key and IV,
               RSA-encrypted (raw) into ``header.key`` with the public key in ``header.rsa``.
    load.c     ``read_or_verify()`` / ``load_image()`` / ``load_buffer()``: the reader this module
               follows (extents page: slots 0..N/16-2 are extents consumed in order up to the
               first empty one, slot N/16-1 ``.start`` = next extents page); ``decrypt_key()``:
               AES-CFB with key MD5(passphrase), IV = first 16 bytes of the passphrase, checks
               ``key_test`` = AES-CFB("12345678"), then decrypts ``d, p, q, u`` in place (one
               CFB stream), and RSA-decrypts ``header.key`` to ``key[16] + ivec[8]``.

Layouts: sizeof(image_header_info) = 64 (x86_64) / 52 (i386) without ``CONFIG_ENCRYPT``, 2432 /
2416 with it (i386 aligns loff_t and double to 4).  Which one a given ``s2disk`` used is found
from the page itself: the page is zeroed before it is filled, so the bytes past the layout's end
are zero and ``writeout_time``/``resume_pause`` are plausible only in the right one.
"""

from __future__ import annotations

import hashlib
import math
import mmap
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import construct as cs
import numpy as np

from swsusp_inspect.errors import FormatError, TruncatedError, UnsupportedFormatError
from swsusp_inspect.formats import snapshot, swap
from swsusp_inspect.formats.parse import cstring, parse_at
from swsusp_inspect.model import flag_names as model_flag_names

SWSUSP_SIG = b"ULSUSPEND\0"
IMAGE_CHECKSUM = 0x1
IMAGE_COMPRESSED = 0x2
IMAGE_ENCRYPTED = 0x4
IMAGE_USE_RSA = 0x8
PLATFORM_SUSPEND = 0x10
IMAGE_FLAGS: tuple[tuple[int, str], ...] = (
    (IMAGE_CHECKSUM, "IMAGE_CHECKSUM"),
    (IMAGE_COMPRESSED, "IMAGE_COMPRESSED"),
    (IMAGE_ENCRYPTED, "IMAGE_ENCRYPTED"),
    (IMAGE_USE_RSA, "IMAGE_USE_RSA"),
    (PLATFORM_SUSPEND, "PLATFORM_SUSPEND"),
)
BUFFER_PAGES = 32
KEY_SIZE = 16  # Blowfish key
CIPHER_BLOCK = 8  # Blowfish block, salt and IV
PK_KEY_SIZE = 16  # AES-128 key protecting the RSA private key
PK_CIPHER_BLOCK = 16
RSA_FIELDS = 6  # n, e, d, p, q, u
RSA_FIELDS_PUB = 2
RSA_DATA_SIZE = 512 + 16 + 512 + 256 + 256 + 256
KEY_DATA_SIZE = 512
KEY_TEST_DATA = b"12345678"
PASS_SIZE = 128  # read_password(): fgets(pass_buf, PASS_SIZE, stdin)
RESUME_PAUSE_MAX = 60
SWSUSP_HEADER_SIZE = 28  # loff_t image + orig_sig[10] + sig[10]


def flag_names(flags: int) -> list[str]:
    return model_flag_names(flags, IMAGE_FLAGS)


# -- construct definitions (the reader parses with them, the forger builds with them) ----------


def swsusp_header_struct(page_size: int) -> Any:
    """The first page of the swap area with uswsusp's ``struct swsusp_header`` in its tail."""
    return cs.Struct(
        "reserved" / cs.Bytes(page_size - SWSUSP_HEADER_SIZE),  # swap header, kept as read
        "image" / cs.Int64sl,  # loff_t: byte offset of the image_header_info page
        "orig_sig" / cs.Bytes(10),
        "sig" / cs.Const(SWSUSP_SIG),
    )


rsa_data = cs.Struct(
    "field" / cs.Array(RSA_FIELDS, cs.Bytes(2)),  # "n\0", "e\0", "d\0", "p\0", "q\0", "u\0"
    "size" / cs.Array(RSA_FIELDS, cs.Int16ul),
    "key_test" / cs.Bytes(len(KEY_TEST_DATA)),
    "data" / cs.Bytes(RSA_DATA_SIZE),
)  # 12 + 12 + 8 + 1808 = 1840 bytes, 2-byte aligned


def _ulong(word_size: int) -> Any:
    return cs.Int64ul if word_size == 8 else cs.Int32ul


def encrypted_key_struct(word_size: int) -> Any:
    return cs.Struct("size" / _ulong(word_size), "data" / cs.Bytes(KEY_DATA_SIZE))


def image_header_info_struct(word_size: int = 8, encrypt: bool = False) -> Any:
    """``struct image_header_info`` as a ``s2disk`` built with or without ``CONFIG_ENCRYPT``
    lays it out for ``sizeof(long) == word_size`` (8: x86_64 and other LP64 ABIs; 4: i386,
    where loff_t and double are 4-byte aligned inside structs)."""
    fields: list[Any] = [
        "pages" / _ulong(word_size),
        "flags" / cs.Int32ul,
        cs.Padding(4 if word_size == 8 else 0),  # loff_t alignment
        "map_start" / cs.Int64sl,
        "image_data_size" / cs.Int64sl,
        "checksum" / cs.Bytes(16),
    ]
    if encrypt:
        fields += [
            "salt" / cs.Bytes(CIPHER_BLOCK),
            "rsa" / rsa_data,
            "key" / encrypted_key_struct(word_size),
        ]
    fields += ["writeout_time" / cs.Float64l, "resume_pause" / cs.Int32sl]
    size = cs.Struct(*fields).sizeof()
    return cs.Struct(*fields, cs.Padding(-size % word_size))  # 64/2432, 52/2416


def extents_page_struct(page_size: int) -> Any:
    """An extents page: ``page_size / 16 - 1`` extents, then the next page's offset in the
    ``start`` of the last slot (``save_extents()``)."""
    extent = cs.Struct("start" / cs.Int64sl, "end" / cs.Int64sl)
    return cs.Struct(
        "extents" / cs.Array(page_size // 16 - 1, extent),
        "next" / cs.Int64sl,
        cs.Padding(8),  # the last slot's .end
    )


def buf_block_struct(word_size: int) -> Any:
    """``struct buf_block``: ``size_t size`` then ``size`` bytes of LZO1X data (packed)."""
    return cs.Struct(
        "size" / cs.Rebuild(_ulong(word_size), cs.len_(cs.this.data)),
        "data" / cs.Bytes(cs.this.size),
    )


def compress_buf_size(page_size: int, word_size: int) -> int:
    """suspend.c ``compress_buf_size``: the largest block, header included."""
    buffer_size = BUFFER_PAGES * page_size
    extra = (buffer_size >> 4) + 67 + word_size
    return buffer_size + -(-extra // page_size) * page_size


# -- the header --------------------------------------------------------------------------------

LAYOUTS = ((8, False), (8, True), (4, False), (4, True))


@dataclass(frozen=True)
class ImageHeaderInfo:
    """``struct image_header_info`` (model object: no construct Container leaves this module)."""

    offset: int  # file offset
    word_size: int
    encrypt_layout: bool  # written by an s2disk built with CONFIG_ENCRYPT
    size: int  # sizeof(struct image_header_info) of that build
    pages: int
    flags: int
    map_start: int
    image_data_size: int
    checksum: bytes
    salt: bytes | None
    writeout_time: float
    resume_pause: int
    rsa: dict[str, Any] | None  # field names, sizes, key_test, data (encrypt layout)
    encrypted_key: bytes | None  # header.key.data[:size] (encrypt layout)

    @property
    def encryption(self) -> str | None:
        if not self.flags & IMAGE_ENCRYPTED:
            return None
        return "blowfish-cfb/rsa" if self.flags & IMAGE_USE_RSA else "blowfish-cfb/passphrase"


def _plausible(hdr: Any, raw: bytes, size: int, page_size: int, word_size: int,
               encrypt: bool, limit: int) -> bool:
    if any(raw[size:]):
        return False  # the page was zeroed before the header was filled
    if hdr.flags & ~0x1F or (hdr.flags & IMAGE_ENCRYPTED and not encrypt):
        return False
    if hdr.flags & IMAGE_USE_RSA and not hdr.flags & IMAGE_ENCRYPTED:
        return False
    if not (0 < hdr.pages < 1 << (8 * word_size - 1)):
        return False
    for value in (hdr.map_start, hdr.image_data_size):
        if not (0 < value < limit and value % page_size == 0):
            return False
    wt = hdr.writeout_time
    if not (math.isfinite(wt) and 0.0 <= wt < 1e7):
        return False
    return bool(0 <= hdr.resume_pause <= RESUME_PAUSE_MAX)


def decode_image_header_info(buf: Any, offset: int, page_size: int,
                             limit: int) -> ImageHeaderInfo:
    """Decode the header page at ``offset``, finding which layout wrote it.

    Args:
        limit: bytes of the swap device (offsets and sizes must stay below it).

    Raises:
        FormatError: no layout reads as a header ``s2disk`` writes.
    """
    if offset < 0 or offset % page_size or offset + page_size > len(buf):
        if offset >= 0 and offset % page_size == 0:
            raise TruncatedError("image_header_info", offset, page_size, len(buf))
        raise FormatError("image_header_info", offset, None,
                          f"a page-aligned offset inside the file (< {len(buf):#x})", offset)
    raw = bytes(buf[offset : offset + page_size])
    for word_size, encrypt in LAYOUTS:
        st = image_header_info_struct(word_size, encrypt)
        size = st.sizeof()
        hdr = parse_at(st, raw, 0, "image_header_info")
        if not _plausible(hdr, raw, size, page_size, word_size, encrypt, limit):
            continue
        rsa = key = None
        if encrypt:
            rsa = {"field": [cstring(f) for f in hdr.rsa.field],
                   "size": [int(s) for s in hdr.rsa.size],
                   "key_test": bytes(hdr.rsa.key_test), "data": bytes(hdr.rsa.data)}
            key = bytes(hdr.key.data)[: min(int(hdr.key.size), KEY_DATA_SIZE)]
        return ImageHeaderInfo(
            offset=offset, word_size=word_size, encrypt_layout=encrypt, size=size,
            pages=int(hdr.pages), flags=int(hdr.flags), map_start=int(hdr.map_start),
            image_data_size=int(hdr.image_data_size), checksum=bytes(hdr.checksum),
            salt=bytes(hdr.salt) if encrypt else None,
            writeout_time=float(hdr.writeout_time), resume_pause=int(hdr.resume_pause),
            rsa=rsa, encrypted_key=key,
        )
    first = int.from_bytes(raw[:8], "little")
    raise FormatError(
        "image_header_info", offset, None,
        "an s2disk header (64/2432-byte x86_64 or 52/2416-byte i386 layout: pages > 0, "
        f"page-aligned map_start and image_data_size below {limit:#x}, rest of the page zero)",
        f"none of the four layouts fits (first word {first:#x})")


# -- ciphers -----------------------------------------------------------------------------------


def _cipher(algorithm: str, key: bytes, iv: bytes) -> Any:
    """A CFB cipher (full-block feedback, as libgcrypt's GCRY_CIPHER_MODE_CFB)."""
    try:
        from cryptography.hazmat.primitives.ciphers import Cipher
    except ImportError as exc:  # pragma: no cover - cryptography is a test dependency
        raise UnsupportedFormatError(
            "encrypted uswsusp image: decrypting needs the 'cryptography' package") from exc
    try:  # cryptography >= 48 moved CFB (and >= 43 Blowfish) to the "decrepit" module
        from cryptography.hazmat.decrepit.ciphers.modes import CFB
    except ImportError:  # pragma: no cover - older cryptography
        from cryptography.hazmat.primitives.ciphers.modes import CFB
    if algorithm == "blowfish":
        try:
            from cryptography.hazmat.decrepit.ciphers.algorithms import Blowfish
        except ImportError:  # pragma: no cover - older cryptography
            from cryptography.hazmat.primitives.ciphers.algorithms import Blowfish
        return Cipher(Blowfish(key), CFB(iv))
    from cryptography.hazmat.primitives.ciphers.algorithms import AES

    return Cipher(AES(key), CFB(iv))


def passphrase_bytes(passphrase: str | bytes) -> bytes:
    """What ``read_password()`` keeps: at most PASS_SIZE - 1 bytes, up to the first NUL."""
    raw = passphrase.encode() if isinstance(passphrase, str) else bytes(passphrase)
    return raw.split(b"\0", 1)[0][: PASS_SIZE - 1]


def passphrase_key(passphrase: bytes, salt: bytes) -> tuple[bytes, bytes]:
    """``encrypt_init()`` + salt: Blowfish key = MD5(passphrase), IV = passphrase[:8] XOR salt."""
    key = hashlib.md5(passphrase).digest()
    iv = passphrase[:CIPHER_BLOCK].ljust(CIPHER_BLOCK, b"\0")
    return key, bytes(a ^ b for a, b in zip(iv, salt, strict=True))


def _pk_key(passphrase: bytes) -> tuple[bytes, bytes]:
    """AES key and IV protecting the RSA private key (keygen.c, ``decrypt_key()``)."""
    return (hashlib.md5(passphrase).digest(),
            passphrase[:PK_CIPHER_BLOCK].ljust(PK_CIPHER_BLOCK, b"\0"))


def rsa_image_key(hdr: ImageHeaderInfo, passphrase: bytes) -> tuple[bytes, bytes]:
    """Blowfish key and IV of an ``IMAGE_USE_RSA`` image: unlock the RSA private key in
    ``header.rsa`` with the passphrase, then RSA-decrypt (raw) ``header.key``.

    Raises:
        FormatError: wrong passphrase (``key_test`` differs) or malformed key material.
    """
    assert hdr.rsa is not None and hdr.encrypted_key is not None
    rsa = hdr.rsa
    at = hdr.offset + (56 if hdr.word_size == 8 else 48)  # header.rsa
    key, iv = _pk_key(passphrase)
    test = _cipher("aes", key, iv).encryptor().update(KEY_TEST_DATA)
    if test != rsa["key_test"]:
        raise FormatError("image_header_info.rsa", at + 24, "key_test",
                          f"{test.hex()} (AES-CFB of '12345678' under this passphrase)",
                          rsa["key_test"].hex(), detail="wrong passphrase")
    sizes = rsa["size"]
    if sum(sizes) > RSA_DATA_SIZE:
        raise FormatError("image_header_info.rsa", at + 12, "size",
                          f"fields of at most {RSA_DATA_SIZE} bytes in all", sum(sizes))
    dec = _cipher("aes", key, iv).decryptor()
    values: dict[str, int] = {}
    pos = 0
    for i, (name, size) in enumerate(zip(rsa["field"], sizes, strict=True)):
        chunk = rsa["data"][pos : pos + size]
        if i >= RSA_FIELDS_PUB:
            chunk = dec.update(chunk)  # d, p, q, u: one CFB stream, in place
        values[name] = int.from_bytes(chunk, "big")
        pos += size
    n, d = values.get("n", 0), values.get("d", 0)
    if not n or not d:
        raise FormatError("image_header_info.rsa", at, "field", "'n' and 'd'",
                          ",".join(rsa["field"]))
    plain = pow(int.from_bytes(hdr.encrypted_key, "big"), d, n)
    if plain.bit_length() > 8 * (KEY_SIZE + CIPHER_BLOCK):
        raise FormatError("image_header_info.key", at + 1840, "data",
                          f"an RSA-encrypted {KEY_SIZE + CIPHER_BLOCK}-byte key and IV",
                          f"{(plain.bit_length() + 7) // 8} bytes after decryption")
    raw = plain.to_bytes(KEY_SIZE + CIPHER_BLOCK, "big")
    return raw[:KEY_SIZE], raw[KEY_SIZE:]


# -- the data ----------------------------------------------------------------------------------


def data_offsets(buf: Any, map_start: int, n_pages: int, page_size: int,
                 limit: int, map_start_at: int | None = None) -> tuple[np.ndarray, list[int]]:
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
            raise FormatError(structure, at, field,
                              f"another extents page ({n_pages - got:#x} of {n_pages:#x} data "
                              "pages not yet found)", 0)
        if page in seen:
            raise FormatError(structure, at, field, "an extents page not yet visited", page,
                              detail="the extents chain loops")
        if page < 0 or page % page_size or page >= limit:
            raise FormatError(structure, at, field,
                              f"a page-aligned offset below {limit:#x} (device bytes)", page)
        ext = parse_at(st, buf, page, "extents page")
        seen.append(page)
        before = got
        for i, e in enumerate(ext.extents):
            start, end = int(e.start), int(e.end)
            if start >= end:
                break  # the first empty extent ends this page's list
            if start <= 0 or start % page_size or end % page_size or end > limit:
                raise FormatError("extents page", page + 16 * i, f"extents[{i}]",
                                  f"page-aligned 0 < start < end <= {limit:#x}",
                                  f"{start:#x}..{end:#x}")
            take = min((end - start) // page_size, n_pages - got)
            out[got : got + take] = start + page_size * np.arange(take, dtype=np.int64)
            got += take
            if got == n_pages:
                break
        if got == before:
            raise FormatError("extents page", page, "extents[0]", "at least one extent",
                              "none (start >= end)")
        where = ("extents page", page + page_size - 16, "next")
        page = int(ext.next)
    return out, seen


class _Reader:
    """Data pages in write order, decrypted when needed (one CFB stream over all of them)."""

    def __init__(self, buf: Any, offsets: np.ndarray, page_size: int, limit: int,
                 decryptor: Any) -> None:
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


def _stream_pages(reader: _Reader, hdr: ImageHeaderInfo, page_size: int) -> Iterator[bytes]:
    """The kernel stream, one buffer (at most 32 pages) at a time (``load_buffer()``)."""
    word = hdr.word_size
    remaining = hdr.pages
    hint = " (wrong passphrase?)" if hdr.flags & IMAGE_ENCRYPTED else ""
    if not hdr.flags & IMAGE_COMPRESSED:
        while remaining > 0:
            take = min(BUFFER_PAGES, remaining)
            if reader.left() < take:
                raise FormatError("image_header_info", hdr.offset + (24 if word == 8 else 16),
                                  "image_data_size",
                                  f">= pages * {page_size} = {hdr.pages * page_size:#x}",
                                  hdr.image_data_size)
            yield reader.read(take)
            remaining -= take
        return
    import lzallright

    lzo = lzallright.LZOCompressor()
    limit = compress_buf_size(page_size, word) - word
    header_st = cs.Struct("size" / _ulong(word))
    k = 0
    while remaining > 0:
        if reader.left() <= 0:
            raise FormatError("image_header_info", hdr.offset, "image_data_size",
                              f"room for buf_block {k} ({remaining:#x} stream pages to go)",
                              hdr.image_data_size)
        at = reader.offset()
        first = reader.read(1)
        size = int(header_st.parse(first[:word]).size)
        if not 0 < size <= limit:
            raise FormatError(f"buf_block {k}", at, "size", f"1..{limit:#x}", size,
                              detail=f"not a compressed block{hint}" if hint else None)
        npg = -(-(word + size) // page_size)
        if npg - 1 > reader.left():
            raise FormatError(f"buf_block {k}", at, "size",
                              f"at most {(reader.left() + 1) * page_size - word:#x} "
                              "(image_data_size ends sooner)", size)
        block = first + reader.read(npg - 1)
        try:
            out = lzo.decompress(block[word : word + size],
                                 output_size_hint=BUFFER_PAGES * page_size)
        except (lzallright.LZOError, lzallright.InputNotConsumed) as exc:
            reason = exc.args[0] if exc.args else type(exc).__name__
            raise FormatError(f"buf_block {k}", at, None, "valid LZO data",
                              f"decompression error ({reason}){hint}") from exc
        n = len(out)
        if n == 0 or n > BUFFER_PAGES * page_size or n % page_size:
            raise FormatError(f"buf_block {k}", at, "uncompressed length",
                              f"a multiple of {page_size:#x} up to "
                              f"{BUFFER_PAGES * page_size:#x}", n)
        yield out
        remaining -= n // page_size
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


def _open_reader(buf: Any, hdr: ImageHeaderInfo, page_size: int, limit: int,
                 passphrase: str | bytes | None) -> tuple[_Reader, list[int]]:
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
        decryptor = _cipher("blowfish", key, iv).decryptor()
    offsets, extents_pages = data_offsets(buf, hdr.map_start, hdr.image_data_size // page_size,
                                          page_size, limit,
                                          hdr.offset + (16 if hdr.word_size == 8 else 8))
    return _Reader(buf, offsets, page_size, limit, decryptor), extents_pages


def stream_blocks(buf: Any, hdr: ImageHeaderInfo, page_size: int, limit: int,
                  passphrase: str | bytes | None = None) -> Iterator[bytes]:
    """The kernel stream as ``s2disk`` buffered it: one uncompressed buffer (at most 32 pages)
    at a time, read lazily (decrypted and decompressed as :func:`decode_stream` does, without
    its checks of the whole image), e.g. for the head of a damaged image."""
    reader, _ = _open_reader(buf, hdr, page_size, limit, passphrase)
    yield from _stream_pages(reader, hdr, page_size)


def decode_stream(buf: Any, hdr: ImageHeaderInfo, page_size: int, limit: int,
                  passphrase: str | bytes | None = None) -> Decoded:
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
        raise FormatError("image_header_info", hdr.offset, "pages",
                          f"at most {per_page * n_data:#x} (image_data_size "
                          f"{hdr.image_data_size:#x} / {page_size} * {per_page})", hdr.pages)
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
    return Decoded(hdr, stream, [tmp, stream], md5.digest(), extents_pages, reader.pos,
                   blocks if hdr.flags & IMAGE_COMPRESSED else None)


class PassphraseRequired(UnsupportedFormatError):
    """An encrypted uswsusp image and no passphrase: the header facts, nothing more."""

    def __init__(self, hdr: ImageHeaderInfo) -> None:
        self.header = hdr
        super().__init__(
            f"uswsusp image_header_info at {hdr.offset:#x}: flags {hdr.flags:#x} "
            f"({'|'.join(flag_names(hdr.flags))}), {hdr.pages:#x} stream pages, "
            f"image_data_size {hdr.image_data_size:#x}, extents at {hdr.map_start:#x}, "
            f"{hdr.encryption}: encrypted: data pages need the passphrase (--passphrase)")


# -- opener --------------------------------------------------------------------------------------


def open_uswsusp(image: Any, hit: Any, base: int, probe: bool = False) -> bool:
    """Fill ``image`` (a HibernationImage) from a ``ULSUSPEND`` swap area at ``base``.

    The kernel stream is decompressed (and decrypted) into a private temporary file and the
    image becomes a ``"stream"`` container over it, so the PFN directory, pages, banner,
    extraction and audit work unchanged; the uswsusp facts go to ``image.details``.
    """
    buf = image.buf
    n = hit.page_size
    tail = parse_at(swsusp_header_struct(n), buf, base, "uswsusp swsusp_header")
    version, last_page = swap.decode_swap_info(buf, base)
    limit = len(buf)
    if version == 1 and last_page:
        limit = max(limit, base + (last_page + 1) * n)  # a dump trimmed after its data
    start = int(tail.image)
    image_at = base + n - SWSUSP_HEADER_SIZE
    if not (0 < start < limit and start % n == 0):
        raise FormatError("uswsusp swsusp_header", image_at, "image",
                          f"a page-aligned byte offset in 1..{limit:#x}", start,
                          detail=f"under the ULSUSPEND signature at {hit.offset:#x}")
    hdr = decode_image_header_info(buf, start, n, limit)
    decoded = decode_stream(buf, hdr, n, limit, getattr(image, "passphrase", None))
    stream = decoded.stream
    try:
        sniffed = snapshot.sniff_stream(stream)
        if sniffed is None or sniffed[0] != n:
            hint = " (wrong passphrase?)" if hdr.flags & IMAGE_ENCRYPTED else ""
            raise FormatError("uswsusp data", int(hdr.map_start), None,
                              "the kernel's swsusp_info page first in the stream",
                              f"no swsusp_info{hint}")
        info = snapshot.decode_info(stream, 0, n, sniffed[1])
    except BaseException:
        for obj in reversed(decoded.closers):
            obj.close()
        raise
    # the stream's mmap and temp file close with the image's source
    image.source._closers.extend(decoded.closers)
    stored = hdr.checksum if (hdr.flags & IMAGE_CHECKSUM or any(hdr.checksum)) else None
    checksum = None
    if stored is not None:
        checksum = {"kind": "md5", "stored": stored.hex(), "computed": decoded.md5.hex(),
                    "ok": stored == decoded.md5}
    image.container = "stream"
    image.era = "uswsusp"
    image.page_size = n
    image.header = None
    image.buf = stream
    image.info = info
    image.entries = np.arange(min(info.pages, len(stream) // n + 1), dtype=np.uint64)
    image.details = {
        "format": "uswsusp",
        "signature": cstring(SWSUSP_SIG),
        "orig_sig": cstring(tail.orig_sig),
        "image": start,
        "header_layout": f"{'x86_64' if hdr.word_size == 8 else 'i386'} "
                         f"{'with' if hdr.encrypt_layout else 'without'} CONFIG_ENCRYPT "
                         f"({hdr.size} bytes)",
        "word_size": hdr.word_size,
        "flags": hdr.flags,
        "flag_names": flag_names(hdr.flags),
        "pages": hdr.pages,
        "map_start": hdr.map_start,
        "image_data_size": hdr.image_data_size,
        "extents_pages": decoded.extents_pages,
        "data_pages_read": decoded.data_pages,
        "compression": "lzo" if hdr.flags & IMAGE_COMPRESSED else "none",
        "blocks": decoded.blocks,
        "encryption": hdr.encryption,
        "checksum": checksum,
        "writeout_time": hdr.writeout_time,
        "resume_pause": hdr.resume_pause,
        "platform_suspend": bool(hdr.flags & PLATFORM_SUSPEND),
        "input_file_size": len(buf),
    }
    return True


# -- building (forged test images) ---------------------------------------------------------------


@dataclass
class Built:
    data: bytes  # the whole swap device
    header_offset: int
    map_start: int
    image_data_size: int
    md5: bytes
    blocks: int | None
    extents_pages: list[int]


def build_rsa_data(fields: dict[str, int], passphrase: bytes) -> dict[str, Any]:
    """``struct RSA_data`` as suspend-keygen writes it: n, e in clear, d, p, q, u encrypted
    with AES-CFB (one stream) under the passphrase, and ``key_test``."""
    key, iv = _pk_key(passphrase)
    test = _cipher("aes", key, iv).encryptor().update(KEY_TEST_DATA)
    enc = _cipher("aes", key, iv).encryptor()
    names, sizes, data = [], [], b""
    for i, name in enumerate("nedpqu"):
        value = fields[name]
        raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
        if i >= RSA_FIELDS_PUB:
            raw = enc.update(raw)
        names.append(name.encode() + b"\0")
        sizes.append(len(raw))
        data += raw
    return {"field": names, "size": sizes, "key_test": test,
            "data": data.ljust(RSA_DATA_SIZE, b"\0")}


def build_image(
    stream: bytes,
    *,
    page_size: int = 4096,
    word_size: int = 8,
    compress: bool = True,
    checksum: bool = True,
    encrypt_layout: bool = False,
    passphrase: bytes | None = None,
    salt: bytes = b"\x5a\x17\xc0\xde\x01\x02\x03\x04",
    rsa: tuple[dict[str, int], bytes, bytes] | None = None,
    extents: list[tuple[int, int]] | None = None,
    writeout_time: float = 1.25,
    resume_pause: int = 0,
    platform: bool = False,
    tail_fill: bytes = b"\xa5",
) -> Built:
    """Write a swap device holding ``stream`` (a /dev/snapshot stream) as ``s2disk`` does.

    Device pages: 0 swap header, 1 image_header_info, 2 first extents page, then the data pool
    (one extent from page 3, or ``extents`` given as page ranges ``[start, end)``; more than
    ``N/16 - 1`` extents spill into further extents pages, allocated after the pool).

    Args:
        passphrase: encrypt (Blowfish-CFB); with ``rsa = (rsa_fields, key, iv)`` the image key
            and IV are RSA-encrypted instead and ``passphrase`` protects the RSA key.
        tail_fill: stale bytes after each block's data (s2disk leaves old buffer contents).
    """
    n = page_size
    assert len(stream) % n == 0
    pages = len(stream) // n
    encrypt = passphrase is not None
    if encrypt:
        encrypt_layout = True
    flags = (IMAGE_CHECKSUM if checksum else 0) | (IMAGE_COMPRESSED if compress else 0)
    flags |= (IMAGE_ENCRYPTED if encrypt else 0) | (IMAGE_USE_RSA if rsa else 0)
    flags |= PLATFORM_SUSPEND if platform else 0
    md5 = hashlib.md5()
    units: list[bytes] = []  # pages as written
    block_st = buf_block_struct(word_size)
    blocks = 0
    for i in range(0, pages, BUFFER_PAGES):
        buffer = stream[i * n : (i + BUFFER_PAGES) * n]
        md5.update(buffer)
        if compress:
            import lzallright

            block = block_st.build({"data": lzallright.LZOCompressor().compress(buffer)})
            block += (tail_fill * n)[: -len(block) % n]
            blocks += 1
        else:
            block = buffer
        units.extend(block[j : j + n] for j in range(0, len(block), n))
    if encrypt:
        assert passphrase is not None
        if rsa is not None:
            key, iv = rsa[1], rsa[2]
        else:
            key, iv = passphrase_key(passphrase_bytes(passphrase), salt)
        enc = _cipher("blowfish", key, iv).encryptor()
        units = [enc.update(u) for u in units]
    n_units = len(units)
    per_ext_page = n // 16 - 1
    if extents is None:
        extents = [(3, 3 + n_units)]
    pool = [p for a, b in extents for p in range(a, b)]
    assert len(pool) >= n_units, "extents too small for the data"
    # extents pages: the first at page 2, the others after the pool
    n_ext_pages = -(-len(extents) // per_ext_page)
    top = max(b for _, b in extents)
    ext_pages = [2, *range(top, top + n_ext_pages - 1)]
    device_pages = max(top + n_ext_pages - 1, 3)
    dev = bytearray(device_pages * n)
    for p, u in zip(pool, units, strict=False):
        dev[p * n : (p + 1) * n] = u
    ext_st = extents_page_struct(n)
    for k, page in enumerate(ext_pages):
        part = extents[k * per_ext_page : (k + 1) * per_ext_page]
        nxt = ext_pages[k + 1] * n if k + 1 < len(ext_pages) else 0
        dev[page * n : (page + 1) * n] = ext_st.build({
            "extents": [{"start": a * n, "end": b * n} for a, b in part]
            + [{"start": 0, "end": 0}] * (per_ext_page - len(part)),
            "next": nxt})
    fields: dict[str, Any] = {
        "pages": pages, "flags": flags, "map_start": 2 * n, "image_data_size": n_units * n,
        "checksum": md5.digest() if checksum else bytes(16),
        "writeout_time": writeout_time, "resume_pause": resume_pause,
    }
    if encrypt_layout:
        rsa_fields = {"field": [b"\0\0"] * 6, "size": [0] * 6, "key_test": bytes(8),
                      "data": bytes(RSA_DATA_SIZE)}
        key_field = {"size": 0, "data": bytes(KEY_DATA_SIZE)}
        if rsa is not None:
            assert passphrase is not None
            rsa_fields = build_rsa_data(rsa[0], passphrase_bytes(passphrase))
            secret = int.from_bytes(rsa[1] + rsa[2], "big")
            c = pow(secret, rsa[0]["e"], rsa[0]["n"])
            raw = c.to_bytes((c.bit_length() + 7) // 8, "big")
            key_field = {"size": len(raw), "data": raw.ljust(KEY_DATA_SIZE, b"\0")}
        fields.update(salt=salt if (encrypt and rsa is None) else bytes(CIPHER_BLOCK),
                      rsa=rsa_fields, key=key_field)
    dev[n : 2 * n] = image_header_info_struct(word_size, encrypt_layout).build(
        fields).ljust(n, b"\0")
    front = swap.swap_header_info.build({
        "bootbits": bytes(1024), "version": 1, "last_page": device_pages - 1,
        "nr_badpages": 0, "sws_uuid": bytes(16), "sws_volume": bytes(16)})
    page0 = swsusp_header_struct(n).build({
        "reserved": front.ljust(n - SWSUSP_HEADER_SIZE, b"\0"), "image": n,
        "orig_sig": b"SWAPSPACE2"})
    dev[:n] = page0
    return Built(bytes(dev), n, 2 * n, n_units * n, md5.digest(),
                 blocks if compress else None, [p * n for p in ext_pages])
