#!/usr/bin/env python3
"""Forge the 2004 seed scenario: an image that saved non-RAM pages, with its e820 map.

Andrea Arcangeli (linux-kernel, 2004): PG_reserved marks both RAM a driver reserved (must be
saved) and non-RAM pages inside mem_map (BIOS, video, MMIO, ACPI holes; must never be saved);
only the firmware's e820 map tells them apart.  Kernels of that era had no e820 nosave
registration (x86_64 gained it in 2.6.19, i386 in 2.6.23), so they saved such pages.

The machine: a 2004 dual-Opteron-class x86_64 box with 4 GiB of RAM, 1 GiB of it remapped above
4 GiB, so mem_map spans the PCI hole.  Its saved PFNs are ordinary RAM pages plus

* 0xa0-0xff: the legacy VGA window, option ROMs and BIOS (0xA0000-0xFFFFF), and
* 0xe0000-0xe00ff: the first MiB of the graphics card's framebuffer BAR at 0xE0000000 (MMIO in
  the hole below 4 GiB),

which ``swsusp-inspect audit`` must flag, and nothing else.  The image is written with the
project's construct definitions (``swsusp_inspect.forge.kernel``) in the current on-disk format (a 2004
kernel wrote the 2.6.9 pagedir format); its x86_64 restore record carries the CRC32 of the e820
table below, so the map matches the image.

Run from the repository root: ``python samples/forged-seed-2004/generate.py``.  Output is
deterministic.
"""

from __future__ import annotations

import lzma
import os
import tempfile
import zlib
from pathlib import Path

import numpy as np

from swsusp_inspect.forge.kernel import ForgeSpec, forge
from swsusp_inspect.formats.snapshot import build_restore_record

HERE = Path(__file__).resolve().parent
PAGE = 4096

# (start, end exclusive, type) as the BIOS reported it; dmesg of 2.6.9 printed end exclusive
E820 = [
    (0x0000000000000000, 0x000000000009FC00, 1),
    (0x000000000009FC00, 0x00000000000A0000, 2),
    (0x00000000000E6000, 0x0000000000100000, 2),
    (0x0000000000100000, 0x00000000BFFF0000, 1),
    (0x00000000BFFF0000, 0x00000000BFFFF000, 3),
    (0x00000000BFFFF000, 0x00000000C0000000, 4),
    (0x00000000FF780000, 0x0000000100000000, 2),
    (0x0000000100000000, 0x0000000140000000, 1),
]
NAMES = {1: "usable", 2: "reserved", 3: "ACPI data", 4: "ACPI NVS"}

LEGACY = (0xA0, 0x100)  # PFNs [0xa0, 0x100): 0xA0000-0xFFFFF
MMIO = (0xE0000, 0xE0100)  # PFNs of the framebuffer's first MiB at 0xE0000000
BANNER_PFN = 0x300
BANNER = (b"Linux version 2.6.9-forged (seed scenario of swsusp-inspect) (gcc version 3.3.3) "
          b"#1 SMP Mon Nov 22 12:00:00 UTC 2004\n\0")


def e820_crc32() -> int:
    """The checksum a 5.13+ kernel stores: zlib.crc32 of u32 count + packed <QQI entries."""
    raw = len(E820).to_bytes(4, "little") + b"".join(
        a.to_bytes(8, "little") + (b - a).to_bytes(8, "little") + t.to_bytes(4, "little")
        for a, b, t in E820)
    return zlib.crc32(raw)


def dmesg_text() -> str:
    lines = [
        "Bootdata ok (command line is root=/dev/sda2 resume=/dev/sda1)",
        "Linux version 2.6.9-forged (seed scenario of swsusp-inspect) (gcc version 3.3.3) "
        "#1 SMP Mon Nov 22 12:00:00 UTC 2004",
        "BIOS-provided physical RAM map:",
    ]
    lines += [f" BIOS-e820: {a:016x} - {b:016x} ({NAMES[t]})" for a, b, t in E820]
    lines += ["end_pfn_map = 1310720", "kernel direct mapping tables up to 140000000 @ 8000-d000"]
    return "\n".join(lines) + "\n"


def saved_pfns() -> np.ndarray:
    rng = np.random.default_rng(2004)
    low = np.arange(0x1, 0x9F, dtype=np.uint64)  # below the EBDA page 0x9f (partly RAM)
    kernel = np.arange(0x100, 0x1100, dtype=np.uint64)  # kernel image and early allocations
    ram = np.concatenate([
        rng.choice(np.arange(0x1100, 0xBFFF0, dtype=np.uint64), 3000, replace=False),
        rng.choice(np.arange(0x100000, 0x140000, dtype=np.uint64), 1000, replace=False),
    ])
    bad = np.concatenate([np.arange(*LEGACY, dtype=np.uint64),
                          np.arange(*MMIO, dtype=np.uint64)])
    return np.unique(np.concatenate([low, kernel, ram, bad]))


def content(pfns: np.ndarray) -> bytes:
    """Each page: a 32-byte stamp naming its PFN, then zeros; the banner in its page."""
    out = bytearray(len(pfns) * PAGE)
    for i, p in enumerate(pfns.tolist()):
        stamp = f"forged page pfn {p:#010x}".encode().ljust(32, b".")
        out[i * PAGE : i * PAGE + 32] = stamp
        if p == BANNER_PFN:
            out[i * PAGE + 0x100 : i * PAGE + 0x100 + len(BANNER)] = BANNER
    return bytes(out)


def main() -> None:
    pfns = saved_pfns()
    ram_pages = sum((b >> 12) - ((a + PAGE - 1) >> 12) for a, b, t in E820 if t == 1)
    record = build_restore_record(
        "5.13+ (CRC32 e820 checksum)",
        jump_address=0xFFFFFFFF80200000 + 0x1000, jump_address_phys=0x201000,
        cr3=0x101000, e820_checksum=e820_crc32())
    spec = ForgeSpec(pfns=pfns, compression="lzo", num_physpages=ram_pages,
                     arch_record=record, content=content)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "swap.img"
        forge(spec, raw)
        data = raw.read_bytes()
    (HERE / "swap.img.xz").write_bytes(
        lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    (HERE / "dmesg.txt").write_text(dmesg_text())
    print(f"{len(pfns)} saved PFNs, image {len(data)} bytes, e820 crc32 {e820_crc32():#010x}")


if __name__ == "__main__":
    os.chdir(HERE)
    main()
