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

from typing import Any

import numpy as np

from swsusp_inspect.errors import FormatError
from swsusp_inspect.formats import snapshot, swap
from swsusp_inspect.formats.opened import OpenedImage, OpenOptions
from swsusp_inspect.formats.parse import cstring, parse_at
from swsusp_inspect.formats.signatures import SignatureHit
from swsusp_inspect.formats.uswsusp.crypto import passphrase_bytes, passphrase_key, rsa_image_key
from swsusp_inspect.formats.uswsusp.stream import (
    Decoded,
    PassphraseRequired,
    data_offsets,
    decode_stream,
    stream_blocks,
)
from swsusp_inspect.formats.uswsusp.structs import (
    BUFFER_PAGES,
    IMAGE_CHECKSUM,
    IMAGE_COMPRESSED,
    IMAGE_ENCRYPTED,
    IMAGE_FLAGS,
    IMAGE_USE_RSA,
    PLATFORM_SUSPEND,
    SWSUSP_HEADER_SIZE,
    SWSUSP_SIG,
    ImageHeaderInfo,
    buf_block_struct,
    compress_buf_size,
    decode_image_header_info,
    extents_page_struct,
    flag_names,
    image_header_info_struct,
    swsusp_header_struct,
)
from swsusp_inspect.model.details import Md5Check, UswsuspDetails
from swsusp_inspect.model.image import SnapshotInfo

__all__ = [
    "BUFFER_PAGES",
    "IMAGE_CHECKSUM",
    "IMAGE_COMPRESSED",
    "IMAGE_ENCRYPTED",
    "IMAGE_FLAGS",
    "IMAGE_USE_RSA",
    "PLATFORM_SUSPEND",
    "Decoded",
    "ImageHeaderInfo",
    "PassphraseRequired",
    "buf_block_struct",
    "compress_buf_size",
    "data_offsets",
    "decode_image_header_info",
    "decode_stream",
    "extents_page_struct",
    "flag_names",
    "image_header_info_struct",
    "open_uswsusp",
    "passphrase_bytes",
    "passphrase_key",
    "rsa_image_key",
    "stream_blocks",
    "swsusp_header_struct",
]


def _image_start(buf: Any, hit: SignatureHit, base: int, image: int) -> tuple[int, int]:
    """``swsusp_header.image`` checked (a page-aligned offset inside the swap area), with the
    area's end (the file, or the swap header's last_page for a trimmed dump)."""
    n = hit.page_size
    version, last_page = swap.decode_swap_info(buf, base)
    limit = len(buf)
    if version == 1 and last_page:
        limit = max(limit, base + (last_page + 1) * n)  # a dump trimmed after its data
    image_at = base + n - SWSUSP_HEADER_SIZE
    if not (0 < image < limit and image % n == 0):
        raise FormatError(
            "uswsusp swsusp_header",
            image_at,
            "image",
            f"a page-aligned byte offset in 1..{limit:#x}",
            image,
            detail=f"under the ULSUSPEND signature at {hit.offset:#x}",
        )
    return image, limit


def _stream_info(decoded: Decoded, hdr: ImageHeaderInfo, n: int) -> SnapshotInfo:
    """The kernel's swsusp_info first in the decoded stream (closing the stream if not)."""
    stream = decoded.stream
    try:
        sniffed = snapshot.sniff_stream(stream)
        if sniffed is None or sniffed[0] != n:
            hint = " (wrong passphrase?)" if hdr.flags & IMAGE_ENCRYPTED else ""
            raise FormatError(
                "uswsusp data",
                int(hdr.map_start),
                None,
                "the kernel's swsusp_info page first in the stream",
                f"no swsusp_info{hint}",
            )
        return snapshot.decode_info(stream, 0, n, sniffed[1])
    except BaseException:
        for obj in reversed(decoded.closers):
            obj.close()
        raise


def _details(
    buf: Any, hdr: ImageHeaderInfo, orig_sig: bytes, start: int, decoded: Decoded
) -> UswsuspDetails:
    stored = hdr.checksum if (hdr.flags & IMAGE_CHECKSUM or any(hdr.checksum)) else None
    checksum = (
        None
        if stored is None
        else Md5Check(stored=stored.hex(), computed=decoded.md5.hex(), ok=stored == decoded.md5)
    )
    return UswsuspDetails(
        signature=cstring(SWSUSP_SIG),
        orig_sig=cstring(orig_sig),
        image=start,
        header_layout=f"{'x86_64' if hdr.word_size == 8 else 'i386'} "
        f"{'with' if hdr.encrypt_layout else 'without'} CONFIG_ENCRYPT "
        f"({hdr.size} bytes)",
        word_size=hdr.word_size,
        flags=hdr.flags,
        flag_names=tuple(flag_names(hdr.flags)),
        pages=hdr.pages,
        map_start=hdr.map_start,
        image_data_size=hdr.image_data_size,
        extents_pages=tuple(decoded.extents_pages),
        data_pages_read=decoded.data_pages,
        compression="lzo" if hdr.flags & IMAGE_COMPRESSED else "none",
        blocks=decoded.blocks,
        encryption=hdr.encryption,
        checksum=checksum,
        writeout_time=hdr.writeout_time,
        resume_pause=hdr.resume_pause,
        platform_suspend=bool(hdr.flags & PLATFORM_SUSPEND),
        input_file_size=len(buf),
    )


def open_uswsusp(
    buf: Any, hit: SignatureHit | None, base: int, options: OpenOptions, *, probe: bool = False
) -> OpenedImage | None:
    """Read a ``ULSUSPEND`` swap area at ``base``.

    The kernel stream is decompressed (and decrypted) into a private temporary file and the
    image is a ``"stream"`` container over it, so the PFN directory, pages, banner, extraction
    and audit work unchanged; the uswsusp facts are its :class:`UswsuspDetails`.
    """
    if hit is None:
        return None
    n = hit.page_size
    tail = parse_at(swsusp_header_struct(n), buf, base, "uswsusp swsusp_header")
    start, limit = _image_start(buf, hit, base, int(tail.image))
    hdr = decode_image_header_info(buf, start, n, limit)
    decoded = decode_stream(buf, hdr, n, limit, options.passphrase)
    info = _stream_info(decoded, hdr, n)
    stream = decoded.stream
    return OpenedImage(
        container="stream",
        era="uswsusp",
        page_size=n,
        buf=stream,
        header=None,
        info=info,
        entries=np.arange(min(info.pages, len(stream) // n + 1), dtype=np.uint64),
        closers=tuple(decoded.closers),  # the stream's map and temporary file
        details=_details(buf, hdr, tail.orig_sig, start, decoded),
    )
