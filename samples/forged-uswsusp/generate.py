#!/usr/bin/env python3
"""Forge the two uswsusp (s2disk) sample images of this directory (see README.md).

Usage: python samples/forged-uswsusp/generate.py   (rewrites the .img.xz files and facts.json)

Deterministic: the same library version writes the same bytes.  The kernel stream inside is
built with the kernel-format builders (swsusp_info with an x86_64 5.13+ restore record, a PFN
directory, data pages); the uswsusp container around it with
``swsusp_inspect.forge.uswsusp.build_image`` -- the construct definitions the reader uses.
"""

from __future__ import annotations

import hashlib
import json
import lzma
from pathlib import Path

import numpy as np

from swsusp_inspect.forge import uswsusp
from swsusp_inspect.formats import pagedir, snapshot

HERE = Path(__file__).resolve().parent
N = 4096
PASSPHRASE = b"hibernate me"
RELEASE = "6.1.0-forged-amd64"
BANNER = (f"Linux version {RELEASE} (forged@swsusp-inspect) (gcc-12) #1 SMP PREEMPT_DYNAMIC "
          "Debian 6.1.0-0 (2026-01-01)\n\0").encode()
# two RAM runs like a small x86 guest: low memory from PFN 1, then from 1 MiB
PFNS = np.concatenate([np.arange(0x1, 0x9F), np.arange(0x100, 0x100 + 200)]).astype(np.uint64)
BANNER_PFN = 0x180  # inside the second run


def page_content(pfn: int) -> bytes:
    """A page that says what it is (compresses well, so the encrypted sample stays small)."""
    line = f"forged uswsusp sample, PFN {pfn:#07x}\n".encode()
    page = bytearray((line * (N // len(line) + 1))[:N])
    if pfn == BANNER_PFN:
        page[0x180 : 0x180 + len(BANNER)] = BANNER
    return bytes(page)


def kernel_stream() -> bytes:
    meta = pagedir.build(PFNS, None, 8, N)
    pages = 1 + len(meta) // N + PFNS.size
    record = snapshot.build_restore_record("5.13+ (CRC32 e820 checksum)", 8,
                                           jump_address=0xFFFFFFFF81000000,
                                           jump_address_phys=0x1000000, cr3=0x2A0C000)
    info = snapshot.build_info(page_size=N, num_physpages=0x8000, image_pages=int(PFNS.size),
                               pages=pages, arch_record=record)
    return info + meta + b"".join(page_content(int(p)) for p in PFNS)


def main() -> None:
    stream = kernel_stream()
    facts = {}
    for name, kw in (("uswsusp-lzo.img.xz", {}),
                     ("uswsusp-lzo-encrypted.img.xz", {"passphrase": PASSPHRASE})):
        built = uswsusp.build_image(stream, writeout_time=0.75, **kw)  # type: ignore[arg-type]
        packed = lzma.compress(built.data, preset=9 | lzma.PRESET_EXTREME)
        (HERE / name).write_bytes(packed)
        facts[name] = {
            "sha256": hashlib.sha256(built.data).hexdigest(),
            "bytes": len(built.data),
            "md5": built.md5.hex(),
            "image_pages": int(PFNS.size),
            "pages": len(stream) // N,
            "pfn_min": int(PFNS.min()),
            "pfn_max": int(PFNS.max()),
            "release": RELEASE,
            "passphrase": PASSPHRASE.decode() if kw else None,
        }
        print(f"{name}: {len(built.data)} bytes, {len(packed)} as xz")
    (HERE / "facts.json").write_text(json.dumps(facts, indent=1) + "\n")


if __name__ == "__main__":
    main()
