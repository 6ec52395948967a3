"""uswsusp's ciphers: Blowfish-CFB under a passphrase, or an RSA-wrapped key whose private half
the passphrase unlocks (AES-CFB); libgcrypt's CFB is full-block feedback.

See :mod:`swsusp_inspect.formats.uswsusp` for the References (suspend-utils encrypt.[ch],
load.c ``decrypt_key()``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from swsusp_inspect.errors import FormatError, UnsupportedFormatError
from swsusp_inspect.formats.uswsusp.structs import (
    CIPHER_BLOCK,
    KEY_SIZE,
    KEY_TEST_DATA,
    PASS_SIZE,
    PK_CIPHER_BLOCK,
    RSA_DATA_SIZE,
    RSA_FIELDS_PUB,
    ImageHeaderInfo,
)

# -- ciphers -----------------------------------------------------------------------------------


def cipher(algorithm: str, key: bytes, iv: bytes) -> Any:
    """A CFB cipher (full-block feedback, as libgcrypt's GCRY_CIPHER_MODE_CFB)."""
    try:
        from cryptography.hazmat.primitives.ciphers import Cipher
    except ImportError as exc:  # pragma: no cover - cryptography is a test dependency
        raise UnsupportedFormatError(
            "encrypted uswsusp image: decrypting needs the 'cryptography' package"
        ) from exc
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


def pk_key(passphrase: bytes) -> tuple[bytes, bytes]:
    """AES key and IV protecting the RSA private key (keygen.c, ``decrypt_key()``)."""
    return (
        hashlib.md5(passphrase).digest(),
        passphrase[:PK_CIPHER_BLOCK].ljust(PK_CIPHER_BLOCK, b"\0"),
    )


def rsa_image_key(hdr: ImageHeaderInfo, passphrase: bytes) -> tuple[bytes, bytes]:
    """Blowfish key and IV of an ``IMAGE_USE_RSA`` image: unlock the RSA private key in
    ``header.rsa`` with the passphrase, then RSA-decrypt (raw) ``header.key``.

    Raises:
        FormatError: wrong passphrase (``key_test`` differs) or malformed key material.
    """
    assert hdr.rsa is not None and hdr.encrypted_key is not None
    rsa = hdr.rsa
    at = hdr.offset + (56 if hdr.word_size == 8 else 48)  # header.rsa
    key, iv = pk_key(passphrase)
    test = cipher("aes", key, iv).encryptor().update(KEY_TEST_DATA)
    if test != rsa["key_test"]:
        raise FormatError(
            "image_header_info.rsa",
            at + 24,
            "key_test",
            f"{test.hex()} (AES-CFB of '12345678' under this passphrase)",
            rsa["key_test"].hex(),
            detail="wrong passphrase",
        )
    sizes = rsa["size"]
    if sum(sizes) > RSA_DATA_SIZE:
        raise FormatError(
            "image_header_info.rsa",
            at + 12,
            "size",
            f"fields of at most {RSA_DATA_SIZE} bytes in all",
            sum(sizes),
        )
    dec = cipher("aes", key, iv).decryptor()
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
        raise FormatError(
            "image_header_info.rsa", at, "field", "'n' and 'd'", ",".join(rsa["field"])
        )
    plain = pow(int.from_bytes(hdr.encrypted_key, "big"), d, n)
    if plain.bit_length() > 8 * (KEY_SIZE + CIPHER_BLOCK):
        raise FormatError(
            "image_header_info.key",
            at + 1840,
            "data",
            f"an RSA-encrypted {KEY_SIZE + CIPHER_BLOCK}-byte key and IV",
            f"{(plain.bit_length() + 7) // 8} bytes after decryption",
        )
    raw = plain.to_bytes(KEY_SIZE + CIPHER_BLOCK, "big")
    return raw[:KEY_SIZE], raw[KEY_SIZE:]
