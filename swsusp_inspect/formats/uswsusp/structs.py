"""uswsusp's shapes: the swap-page tail, ``image_header_info`` (four layouts), extents pages,
``buf_block``; the header decoded by layout.

See :mod:`swsusp_inspect.formats.uswsusp` for the References (suspend-utils files).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import construct as cs

from swsusp_inspect.errors import FormatError, TruncatedError
from swsusp_inspect.formats.parse import cstring, parse_at
from swsusp_inspect.model.image import flag_names as model_flag_names

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


def ulong(word_size: int) -> Any:
    return cs.Int64ul if word_size == 8 else cs.Int32ul


def encrypted_key_struct(word_size: int) -> Any:
    return cs.Struct("size" / ulong(word_size), "data" / cs.Bytes(KEY_DATA_SIZE))


def image_header_info_struct(word_size: int = 8, encrypt: bool = False) -> Any:
    """``struct image_header_info`` as a ``s2disk`` built with or without ``CONFIG_ENCRYPT``
    lays it out for ``sizeof(long) == word_size`` (8: x86_64 and other LP64 ABIs; 4: i386,
    where loff_t and double are 4-byte aligned inside structs)."""
    fields: list[Any] = [
        "pages" / ulong(word_size),
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
        "size" / cs.Rebuild(ulong(word_size), cs.len_(cs.this.data)),
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


def _plausible(  # noqa: PLR0911 - one return per check
    hdr: Any, raw: bytes, size: int, page_size: int, word_size: int, *, encrypt: bool, limit: int
) -> bool:
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


def decode_image_header_info(buf: Any, offset: int, page_size: int, limit: int) -> ImageHeaderInfo:
    """Decode the header page at ``offset``, finding which layout wrote it.

    Args:
        limit: bytes of the swap device (offsets and sizes must stay below it).

    Raises:
        FormatError: no layout reads as a header ``s2disk`` writes.
    """
    if offset < 0 or offset % page_size or offset + page_size > len(buf):
        if offset >= 0 and offset % page_size == 0:
            raise TruncatedError("image_header_info", offset, page_size, len(buf))
        raise FormatError(
            "image_header_info",
            offset,
            None,
            f"a page-aligned offset inside the file (< {len(buf):#x})",
            offset,
        )
    raw = bytes(buf[offset : offset + page_size])
    for word_size, encrypt in LAYOUTS:
        st = image_header_info_struct(word_size, encrypt)
        size = st.sizeof()
        hdr = parse_at(st, raw, 0, "image_header_info")
        if not _plausible(hdr, raw, size, page_size, word_size, encrypt=encrypt, limit=limit):
            continue
        rsa = key = None
        if encrypt:
            rsa = {
                "field": [cstring(f) for f in hdr.rsa.field],
                "size": [int(s) for s in hdr.rsa.size],
                "key_test": bytes(hdr.rsa.key_test),
                "data": bytes(hdr.rsa.data),
            }
            key = bytes(hdr.key.data)[: min(int(hdr.key.size), KEY_DATA_SIZE)]
        return ImageHeaderInfo(
            offset=offset,
            word_size=word_size,
            encrypt_layout=encrypt,
            size=size,
            pages=int(hdr.pages),
            flags=int(hdr.flags),
            map_start=int(hdr.map_start),
            image_data_size=int(hdr.image_data_size),
            checksum=bytes(hdr.checksum),
            salt=bytes(hdr.salt) if encrypt else None,
            writeout_time=float(hdr.writeout_time),
            resume_pause=int(hdr.resume_pause),
            rsa=rsa,
            encrypted_key=key,
        )
    first = int.from_bytes(raw[:8], "little")
    raise FormatError(
        "image_header_info",
        offset,
        None,
        "an s2disk header (64/2432-byte x86_64 or 52/2416-byte i386 layout: pages > 0, "
        f"page-aligned map_start and image_data_size below {limit:#x}, rest of the page zero)",
        f"none of the four layouts fits (first word {first:#x})",
    )
