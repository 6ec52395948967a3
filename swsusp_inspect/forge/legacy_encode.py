"""The byte encodings every legacy era's forger shares: the utsname block, little-endian words,
padding to a page, and the 2.6.14-2.6.15 ``CONFIG_SWSUSP_ENCRYPT`` cipher.

References:
    kernel/power/power.h 2.6.9-2.6.19 (``struct swsusp_info``: ``struct new_utsname uts``
    first); kernel/power/swsusp.c 2.6.14-2.6.15 (AES-256-CBC, key = key_iv[0:32], IV =
    key_iv[32:48]); see :mod:`swsusp_inspect.formats.legacy.structs` for the details.
"""

from __future__ import annotations

import numpy as np

from swsusp_inspect.formats.legacy import structs as lg

__all__ = ["encrypt", "pad", "release", "uts_bytes", "words"]


def uts_bytes(release: str, machine: str) -> bytes:
    parts = ["Linux", "forged", release, "#1 Mon Jan 10 12:00:00 UTC 2005", machine, "(none)"]
    return b"".join(p.encode().ljust(lg.UTS_LEN, b"\0") for p in parts)


def release(vc: int) -> str:
    return f"{vc >> 16}.{(vc >> 8) & 0xFF}.{vc & 0xFF}"


def words(values: list[int] | np.ndarray, word_size: int) -> bytes:
    dtype = "<u8" if word_size == 8 else "<u4"
    return np.asarray(values, dtype=np.uint64).astype(dtype).tobytes()


def pad(data: bytes, n: int) -> bytes:
    return data + bytes(-len(data) % n)


def encrypt(data: bytes, key_iv: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    enc = Cipher(
        algorithms.AES(key_iv[: lg.MAXKEY]), modes.CBC(key_iv[lg.MAXKEY : lg.MAXKEY + lg.AES_BLOCK])
    ).encryptor()
    out: bytes = enc.update(data) + enc.finalize()
    return out
