"""Signatures found at the end of a swap area's first page, and TuxOnIce's at its start.

References:
    include/linux/swap.h (``union swap_header``: magic at PAGE_SIZE-10), 2.6.x -> now.
    kernel/power/swap.c ``HIBERNATE_SIG "S1SUSPEND"`` (2.6.28 -> now; ``SWSUSP_SIG`` before),
        ``"LINHIB0001"`` in a 2.6.37 development revision of swap.c.
    kernel/power/swsusp.c 2.6.0-2.6.8 (``S1SUSP``/``S2SUSP``), kernel/power/pmdisk.c 2.6.0-2.6.8
        (``pmdisk-swap1``, 10 bytes compared), 2.4/2.5 swsusp patches (``SUSP1R``/``SUSP2R``).
    suspend-utils swsusp.h (``ULSUSPEND``), util-linux libblkid superblocks/swap.c (TuxOnIce
        magic at offset 0, page sizes probed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Page sizes whose signature positions libblkid probes (4 KiB .. 64 KiB).
PAGE_SIZES = (4096, 8192, 16384, 32768, 65536)

TUXONICE_MAGIC = b"\xed\xc3\x02\xe9\x98\x56\xe5\x0c"


@dataclass(frozen=True)
class Signature:
    """A recognised signature: what wrote it and whether this version reads it."""

    prefix: bytes
    kind: str  # "kernel" (the current layout) | "swap" (no image) | "other" (another family)
    name: str
    era: str


SIGNATURES: tuple[Signature, ...] = (
    Signature(b"S1SUSPEND\0", "kernel", "S1SUSPEND", "Linux 2.6.9 and later (swsusp)"),
    Signature(b"LINHIB0001", "kernel", "LINHIB0001", "Linux 2.6.37 development (swsusp)"),
    Signature(b"SWAPSPACE2", "swap", "SWAPSPACE2", "plain swap area (version 1)"),
    Signature(b"SWAP-SPACE", "swap", "SWAP-SPACE", "plain swap area (version 0)"),
    Signature(b"ULSUSPEND", "other", "ULSUSPEND", "uswsusp / suspend-utils s2disk"),
    Signature(b"S2SUSPEND", "other", "S2SUSPEND", "probed by libblkid; no known writer"),
    Signature(b"pmdisk-swa", "other", "pmdisk", "pmdisk, Linux 2.6.0-2.6.8"),
    Signature(b"SUSP1R", "other", "SUSP1R", "swsusp patches for Linux 2.4 / 2.5"),
    Signature(b"SUSP2R", "other", "SUSP2R", "swsusp patches for Linux 2.4 / 2.5"),
    # checked after the longer S1SUSPEND / S2SUSPEND prefixes above
    Signature(b"S1SUSP", "other", "S1SUSP", "swsusp, Linux 2.5.48-2.6.8"),
    Signature(b"S2SUSP", "other", "S2SUSP", "swsusp, Linux 2.5.48-2.6.8"),
)


@dataclass(frozen=True)
class SignatureHit:
    signature: Signature
    page_size: int
    offset: int  # file offset of the 10 signature bytes
    raw: bytes


def match_signature(raw: bytes) -> Signature | None:
    """The known signature ``raw`` (10 bytes) starts with, if any."""
    for sig in SIGNATURES:
        if raw.startswith(sig.prefix):
            return sig
    return None


def sniff(buf: Any, base: int = 0) -> SignatureHit | None:
    """Find a known signature at ``base + N - 10`` for each page size N, smallest first.

    A swap area can be longer than one page of each size, so a plain swap signature at 4 KiB must
    not hide a hibernation signature at 16 KiB: hibernation signatures win over plain swap ones.
    """
    hits: list[SignatureHit] = []
    for page_size in PAGE_SIZES:
        off = base + page_size - 10
        if off + 10 > len(buf):
            break
        raw = bytes(buf[off : off + 10])
        sig = match_signature(raw)
        if sig is not None:
            hits.append(SignatureHit(sig, page_size, off, raw))
    for hit in hits:
        if hit.signature.kind != "swap":
            return hit
    return hits[0] if hits else None


def is_tuxonice(buf: Any, base: int = 0) -> bool:
    return bytes(buf[base : base + 8]) == TUXONICE_MAGIC
