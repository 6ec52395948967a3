"""Forged uswsusp (``s2disk``) swap devices, laid out as suspend-utils 1.0 writes them
(``suspend.c`` ``write_image()`` / ``save_image()`` / ``flush_buffer()`` / ``mark_swap()``),
with the reader's own construct definitions (:mod:`swsusp_inspect.formats.uswsusp`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from swsusp_inspect.formats import swap
from swsusp_inspect.formats.uswsusp.crypto import cipher, passphrase_bytes, passphrase_key, pk_key
from swsusp_inspect.formats.uswsusp.structs import (
    BUFFER_PAGES,
    CIPHER_BLOCK,
    IMAGE_CHECKSUM,
    IMAGE_COMPRESSED,
    IMAGE_ENCRYPTED,
    IMAGE_USE_RSA,
    KEY_DATA_SIZE,
    KEY_TEST_DATA,
    PLATFORM_SUSPEND,
    RSA_DATA_SIZE,
    RSA_FIELDS_PUB,
    SWSUSP_HEADER_SIZE,
    buf_block_struct,
    extents_page_struct,
    image_header_info_struct,
    swsusp_header_struct,
)

__all__ = ["Built", "build_image", "build_rsa_data"]


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
    key, iv = pk_key(passphrase)
    test = cipher("aes", key, iv).encryptor().update(KEY_TEST_DATA)
    enc = cipher("aes", key, iv).encryptor()
    names, sizes, data = [], [], b""
    for i, name in enumerate("nedpqu"):
        value = fields[name]
        raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
        if i >= RSA_FIELDS_PUB:
            raw = enc.update(raw)
        names.append(name.encode() + b"\0")
        sizes.append(len(raw))
        data += raw
    return {
        "field": names,
        "size": sizes,
        "key_test": test,
        "data": data.ljust(RSA_DATA_SIZE, b"\0"),
    }


def _buffers(
    stream: bytes, n: int, word_size: int, compress: bool, tail_fill: bytes
) -> tuple[list[bytes], bytes, int]:
    """The stream as the pages s2disk writes (BUFFER_PAGES at a time, each LZO-compressed into
    one block when ``compress``), the MD5 of the stream and the number of blocks."""
    pages = len(stream) // n
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
    return units, md5.digest(), blocks


def _encrypt_units(
    units: list[bytes],
    passphrase: bytes,
    salt: bytes,
    rsa: tuple[dict[str, int], bytes, bytes] | None,
) -> list[bytes]:
    """Blowfish-CFB over the written pages, one stream, with the RSA-held key and IV or the
    passphrase's."""
    if rsa is not None:
        key, iv = rsa[1], rsa[2]
    else:
        key, iv = passphrase_key(passphrase_bytes(passphrase), salt)
    enc = cipher("blowfish", key, iv).encryptor()
    return [enc.update(u) for u in units]


def _place(
    units: list[bytes], extents: list[tuple[int, int]], n: int
) -> tuple[bytearray, list[int]]:
    """The device with the written pages in the extents' pool and the extents pages (the first
    at page 2, the others after the pool); with the extents pages' numbers."""
    per_ext_page = n // 16 - 1
    pool = [p for a, b in extents for p in range(a, b)]
    assert len(pool) >= len(units), "extents too small for the data"
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
        dev[page * n : (page + 1) * n] = ext_st.build(
            {
                "extents": [{"start": a * n, "end": b * n} for a, b in part]
                + [{"start": 0, "end": 0}] * (per_ext_page - len(part)),
                "next": nxt,
            }
        )
    return dev, ext_pages


def _encryption_fields(
    encrypt: bool,
    passphrase: bytes | None,
    salt: bytes,
    rsa: tuple[dict[str, int], bytes, bytes] | None,
) -> dict[str, Any]:
    """image_header_info's salt, rsa and key fields (zeros where unused)."""
    rsa_fields = {
        "field": [b"\0\0"] * 6,
        "size": [0] * 6,
        "key_test": bytes(8),
        "data": bytes(RSA_DATA_SIZE),
    }
    key_field = {"size": 0, "data": bytes(KEY_DATA_SIZE)}
    if rsa is not None:
        assert passphrase is not None
        rsa_fields = build_rsa_data(rsa[0], passphrase_bytes(passphrase))
        secret = int.from_bytes(rsa[1] + rsa[2], "big")
        c = pow(secret, rsa[0]["e"], rsa[0]["n"])
        raw = c.to_bytes((c.bit_length() + 7) // 8, "big")
        key_field = {"size": len(raw), "data": raw.ljust(KEY_DATA_SIZE, b"\0")}
    return {
        "salt": salt if (encrypt and rsa is None) else bytes(CIPHER_BLOCK),
        "rsa": rsa_fields,
        "key": key_field,
    }


def _swap_page0(n: int, device_pages: int) -> bytes:
    """Page 0 as mark_swap() leaves it: the swap header info, the swsusp_header at its end."""
    front = swap.swap_header_info.build(
        {
            "bootbits": bytes(1024),
            "version": 1,
            "last_page": device_pages - 1,
            "nr_badpages": 0,
            "sws_uuid": bytes(16),
            "sws_volume": bytes(16),
        }
    )
    page0: bytes = swsusp_header_struct(n).build(
        {
            "reserved": front.ljust(n - SWSUSP_HEADER_SIZE, b"\0"),
            "image": n,
            "orig_sig": b"SWAPSPACE2",
        }
    )
    return page0


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
    units, md5, blocks = _buffers(stream, n, word_size, compress, tail_fill)
    if passphrase is not None:
        units = _encrypt_units(units, passphrase, salt, rsa)
    n_units = len(units)
    if extents is None:
        extents = [(3, 3 + n_units)]
    dev, ext_pages = _place(units, extents, n)
    fields: dict[str, Any] = {
        "pages": pages,
        "flags": flags,
        "map_start": 2 * n,
        "image_data_size": n_units * n,
        "checksum": md5 if checksum else bytes(16),
        "writeout_time": writeout_time,
        "resume_pause": resume_pause,
    }
    if encrypt_layout:
        fields.update(_encryption_fields(encrypt, passphrase, salt, rsa))
    dev[n : 2 * n] = (
        image_header_info_struct(word_size, encrypt_layout).build(fields).ljust(n, b"\0")
    )
    dev[:n] = _swap_page0(n, len(dev) // n)
    return Built(
        bytes(dev),
        n,
        2 * n,
        n_units * n,
        md5,
        blocks if compress else None,
        [p * n for p in ext_pages],
    )
