#!/usr/bin/env python3
"""Forge one small swap-device image per legacy hibernation era (see README.md).

Every image is written by ``swsusp_inspect.forge.legacy`` from the construct shapes of
``swsusp_inspect.formats.legacy``: no kernel of these eras wrote them.  Each saved page holds a
32-byte stamp naming its PFN (``forged page pfn 0x...``), the rest zeros; one kernel page holds
the era's ``linux_banner``.  The 2.4 image is the seed scenario in its own era: the 2.4 swsusp
patch's ``count_and_copy_data_pages()`` walked all of ``mem_map`` and saved every reserved page
outside ``.data.nosave``, so the VGA window, option ROMs and BIOS (0xA0000-0xFFFFF, PFNs
0xa0-0xff) went into the image; ``dmesg.txt`` holds that machine's e820 map as 2.4 printed it.

Run from the repository root: ``python samples/forged-legacy/generate.py``.  Deterministic.
"""

from __future__ import annotations

import hashlib
import lzma
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from swsusp_inspect.forge.legacy import LegacySpec, forge_legacy, stamp_pages
from swsusp_inspect.formats import legacy as lg

HERE = Path(__file__).resolve().parent
PAGE = 4096
KEY_IV = bytes.fromhex(  # random bytes, as get_random_bytes() would give
    "8d3f0c5a1e7b92d46a0f3c18e5b7294d0c6e1a9f3b5d7082e4c6a8b0d2f41637"
    "5a7c9e0b2d4f6183a5c7e9f10b3d5f7192b4d6f8a1c3e5071d3f5b7395a7c9e0")


@dataclass
class Sample:
    name: str
    spec: dict[str, Any]
    release: str
    ram_top: int  # PFN: end of usable RAM
    extra: dict[str, Any] = field(default_factory=dict)


def banner(release: str, machine: str) -> bytes:
    return (f"Linux version {release}-forged (swsusp-inspect legacy sample) (gcc version 3.3.5)"
            f" #1 Mon Jan 10 12:00:00 UTC 2005 {machine}\n\0").encode()


def saved_pfns(seed: int, ram_top: int, *, legacy_area: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    low = np.arange(1, 0x9F, dtype=np.uint64)
    kernel = np.arange(0x100, 0x300, dtype=np.uint64)
    ram = rng.choice(np.arange(0x300, ram_top, dtype=np.uint64), 300, replace=False)
    parts = [low, kernel, ram]
    if legacy_area:  # the page below the EBDA, then VGA / ROM / BIOS: PFNs 0x9f..0xff
        parts.append(np.arange(0x9F, 0x100, dtype=np.uint64))
    return np.unique(np.concatenate(parts))


SAMPLES = [
    Sample("2.4.19-susp2r-i386", {"era": "patch", "word_size": 4, "version_code": 0x020413,
                                  "encoding": lg.ENC_I386_PTE}, "2.4.19", 0xFFF0,
           {"legacy_area": True}),
    Sample("2.6.5-s2susp-x86_64", {"era": "link26", "word_size": 8, "version_code": 0x020605},
           "2.6.5", 0x3FFF0),
    Sample("2.6.6-pmdisk-i386", {"era": "pmdisk", "word_size": 4, "version_code": 0x020606},
           "2.6.6", 0x1FFF0),
    Sample("2.6.12-pbe-x86_64", {"era": "pbe", "word_size": 8, "version_code": 0x02060C},
           "2.6.12", 0x3FFF0),
    Sample("2.6.15-aes-i386", {"era": "pbe", "word_size": 4, "version_code": 0x02060F,
                               "key_iv": KEY_IV, "num_physpages": 0x60000}, "2.6.15", 0x37FF0,
           {"small": True}),  # ciphertext does not compress: a dozen pages
    Sample("2.6.16-swapmap-x86_64", {"era": "2.6.16", "word_size": 8,
                                     "version_code": 0x020610, "scatter": True},
           "2.6.16", 0x3FFF0),
    Sample("2.6.18-swapmap-va-x86_64", {"era": "2.6.17", "word_size": 8,
                                        "version_code": 0x020612}, "2.6.18", 0x3FFF0),
    Sample("2.6.19-swapmap-pfn-i386", {"era": "2.6.19", "word_size": 4,
                                       "version_code": 0x020613}, "2.6.19", 0x1FFF0),
]

# the 2.4 machine: 256 MiB of RAM below ACPI tables at the top, BIOS at 4 GiB - 64 KiB
E820_24 = [
    (0x00000000, 0x0009FC00, "usable"),
    (0x0009FC00, 0x000A0000, "reserved"),
    (0x000E0000, 0x00100000, "reserved"),
    (0x00100000, 0x0FFF0000, "usable"),
    (0x0FFF0000, 0x0FFF3000, "ACPI NVS"),
    (0x0FFF3000, 0x10000000, "ACPI data"),
    (0xFFFF0000, 0x100000000, "reserved"),
]


def dmesg_24() -> str:
    lines = ["Linux version 2.4.19-forged (swsusp-inspect legacy sample) (gcc version 2.95.4 "
             "20011002 (Debian prerelease)) #1 Sat May 17 12:00:00 CEST 2003",
             "BIOS-provided physical RAM map:"]
    lines += [f" BIOS-e820: {a:016x} - {b:016x} ({t})" for a, b, t in E820_24]
    lines += ["0MB HIGHMEM available.", "255MB LOWMEM available.",
              "Kernel command line: root=/dev/hda1 resume=/dev/hda2"]
    return "\n".join(lines) + "\n"


def build(sample: Sample, out_dir: Path) -> tuple[int, int]:
    spec = dict(sample.spec)
    seed = int(hashlib.sha256(sample.name.encode()).hexdigest()[:8], 16)
    pfns = saved_pfns(seed, sample.ram_top, legacy_area=sample.extra.get("legacy_area", False))
    if sample.extra.get("small"):
        pfns = np.concatenate([pfns[(pfns >= 0x100) & (pfns < 0x10B)], [np.uint64(0x180)]])
    machine = "x86_64" if spec["word_size"] == 8 else "i686"
    text = banner(sample.release, machine)
    spec.setdefault("num_physpages", sample.ram_top)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "swap.img"
        forge_legacy(LegacySpec(pfns=pfns, content=lambda p: stamp_pages(p, PAGE, (0x180, text)),
                                **spec), raw)
        data = raw.read_bytes()
    out_dir.mkdir(exist_ok=True)
    packed = lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)
    (out_dir / "swap.img.xz").write_bytes(packed)
    return len(data), len(packed)


def main() -> None:
    for sample in SAMPLES:
        size, packed = build(sample, HERE / sample.name)
        print(f"{sample.name}: {size} bytes, {packed} xz")
    (HERE / "2.4.19-susp2r-i386" / "dmesg.txt").write_text(dmesg_24())


if __name__ == "__main__":
    main()
