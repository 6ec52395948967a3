"""The committed inputs the fuzzer starts from, and the structure of each image seed.

Seeds (all committed in the repository, nothing fetched):

- images: ``samples/*/swap.img.xz`` (real kernels; the git-ignored ones when present),
  ``samples/forged-legacy/*/swap.img.xz``, ``samples/forged-uswsusp/*.img.xz``,
  ``samples/forged-seed-2004/swap.img.xz``, ``tests/data/real-heads/*/heads.img.xz``;
- memory maps: ``tests/data/maps/*``, ``tests/data/realworld/*``, every sample's ``dmesg.txt``,
  ``iomem.txt``, ``memmap.txt``, plus JSON, boot_params, raw e820 and sysfs-tar forms built from
  the sample maps with the project's own writers;
- System.map: ``tests/data/real-heads/*/System.map-excerpt`` (each beside its real image head);
- kpageflags: ``samples/*/kpageflags.bin.xz``.

The structure of an image seed (:class:`Layout`) is read once with the library itself: the swap
header's fields, the hibernation header, every swap-map page and its link, the swsusp_info
page, each compressed chunk's length word, the PFN-directory pages of uncompressed images.
Mutators aim at those offsets.
"""

from __future__ import annotations

import io
import json
import lzma
import tarfile
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Field:
    """An integer field of an image seed: file offset, width in bytes, what it is."""

    offset: int
    width: int
    kind: str  # "swap-header", "header", "map-entry", "map-next", "info", "chunk-len", "pfn"


@dataclass
class Layout:
    """Where the structures of an image seed sit (file offsets)."""

    page_size: int = 4096
    fields: list[Field] = field(default_factory=list)
    boundaries: list[int] = field(default_factory=list)  # structure starts and ends
    map_pages: list[int] = field(default_factory=list)  # device pages of swap-map pages
    stream_pages: list[int] = field(default_factory=list)  # device page of each stream page
    pagedir_pages: list[int] = field(default_factory=list)  # uncompressed PFN-directory pages
    data_pages: list[int] = field(default_factory=list)  # some data pages (for duplication)
    word: int = 8
    sector: int = 8


@dataclass
class ImageSeed:
    name: str
    path: Path  # the committed (compressed) file
    passphrase: str | None = None
    system_map: Path | None = None  # the excerpt beside a real head
    dmesg: Path | None = None  # the sample's log, for audits

    @property
    def data(self) -> bytes:
        return _expanded(self.path)


@cache
def _expanded(path: Path) -> bytes:
    with lzma.open(path) as fh:
        return fh.read()


def _provenance(directory: Path) -> dict[str, Any]:
    p = directory / "provenance.json"
    if p.is_file():
        try:
            data: dict[str, Any] = json.loads(p.read_text())
            return data
        except ValueError:
            return {}
    return {}


def image_seeds() -> list[ImageSeed]:
    out: list[ImageSeed] = []
    samples = ROOT / "samples"
    for img in sorted(samples.glob("*/swap.img.xz")):
        prov = _provenance(img.parent)
        dmesg = img.parent / "dmesg.txt"
        out.append(
            ImageSeed(
                img.parent.name,
                img,
                prov.get("passphrase"),
                dmesg=dmesg if dmesg.is_file() else None,
            )
        )
    for img in sorted(samples.glob("forged-legacy/*/swap.img.xz")):
        out.append(ImageSeed(f"forged-legacy/{img.parent.name}", img))
    facts_path = samples / "forged-uswsusp" / "facts.json"
    facts = json.loads(facts_path.read_text()) if facts_path.is_file() else {}
    for img in sorted(samples.glob("forged-uswsusp/*.img.xz")):
        out.append(
            ImageSeed(
                f"forged-uswsusp/{img.name}", img, (facts.get(img.name) or {}).get("passphrase")
            )
        )
    heads = ROOT / "tests" / "data" / "real-heads"
    for img in sorted(heads.glob("*/heads.img.xz")):
        prov = _provenance(samples / img.parent.name)
        smap = img.parent / "System.map-excerpt"
        dmesg = samples / img.parent.name / "dmesg.txt"
        out.append(
            ImageSeed(
                f"real-heads/{img.parent.name}",
                img,
                prov.get("passphrase"),
                system_map=smap if smap.is_file() else None,
                dmesg=dmesg if dmesg.is_file() else None,
            )
        )
    return out


def text_map_seeds() -> list[Path]:
    paths: list[Path] = []
    for d in ("tests/data/maps", "tests/data/realworld"):
        paths += sorted(p for p in (ROOT / d).iterdir() if p.is_file() and p.suffix == ".txt")
    for name in ("dmesg.txt", "iomem.txt", "memmap.txt"):
        paths += sorted((ROOT / "samples").glob(f"*/{name}"))
    return paths


@cache
def built_map_seeds() -> list[tuple[str, bytes]]:
    """JSON, boot_params, raw e820 and sysfs-tar forms of the sample maps, written by the
    project's own code (``MemoryMap.document()`` as ``map --json`` writes it, the binary
    builders)."""
    from swsusp_inspect.e820 import load_memory_map
    from swsusp_inspect.e820.readers.binary import build_boot_params, build_e820_raw

    out: list[tuple[str, bytes]] = []
    for dmesg in sorted((ROOT / "samples").glob("*/dmesg.txt")):
        try:
            m = load_memory_map(dmesg)
        except Exception:
            continue
        name = dmesg.parent.name
        out.append((f"{name}.json", m.document().to_json().encode()))
        entries = m.firmware_entries()
        if len(entries) <= 128:
            out.append((f"{name}.boot_params", build_boot_params(entries)))
        out.append((f"{name}.e820_raw", build_e820_raw(entries)))
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for i, (a, z, t) in enumerate(entries):
                from swsusp_inspect.e820.types import iomem_name

                for fname, value in (
                    ("start", f"{a:#x}\n"),
                    ("end", f"{a + z - 1:#x}\n"),
                    ("type", iomem_name(t) + "\n"),
                ):
                    info = tarfile.TarInfo(f"sys/firmware/memmap/{i}/{fname}")
                    data = value.encode()
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        out.append((f"{name}.memmap.tar", buf.getvalue()))
    return out


def system_map_seeds() -> list[tuple[ImageSeed, Path]]:
    return [(s, s.system_map) for s in image_seeds() if s.system_map is not None]


def kpageflags_seeds() -> list[Path]:
    return sorted((ROOT / "samples").glob("*/kpageflags.bin.xz"))


@cache
def layout_of(seed_path: Path, passphrase: str | None) -> Layout:
    """The structure of an image seed, read with the library (best effort: a format whose
    reader does not expose a structure keeps the generic boundaries)."""
    import numpy as np

    from swsusp_inspect.image import open_image

    data = _expanded(seed_path)
    lay = Layout()
    n_file = len(data)
    lay.boundaries = [0, 0x400, 0x408, 4096 - 10]
    lay.fields += [
        Field(0x400, 4, "swap-header"),
        Field(0x404, 4, "swap-header"),
        Field(0x408, 4, "swap-header"),
    ]
    try:
        img = open_image(seed_path, passphrase=passphrase)
    except Exception:
        # page's first words (uswsusp's header, a legacy pagedir) and the last 64 bytes
        for off in [*range(4096 - 64, 4096 - 10, 4), *range(4096, 4096 + 0x200, 8)]:
            if off + 8 <= n_file:
                lay.fields.append(Field(off, 4 if off < 4096 else 8, "header"))
        lay.boundaries = sorted(
            {b for b in [*lay.boundaries, 4096, 8192, 3 * 4096] if 0 < b < n_file}
        )
        return lay
    with img:
        n = img.page_size
        lay.page_size = n
        lay.word = int(getattr(img.info, "word_size", 8) or 8)
        hdr = img.header
        base = 0
        if hdr is not None:
            lay.sector = int(getattr(hdr, "sector_size", 8) or 8)
            # the hibernation header's words: the last 64 bytes of the header page
            for off in range(base + n - 64, base + n - 10, 4):
                lay.fields.append(Field(off, 4, "header"))
            for off in range(base + n - 64, base + n - 16, 8):
                lay.fields.append(Field(off, 8, "header"))
        lay.boundaries += [n, 2 * n]
        map_pages = [int(p) for p in getattr(img, "map_pages", ())]
        lay.map_pages = map_pages
        s = lay.sector
        for p in map_pages[:64]:
            off = p * n
            lay.boundaries += [off, off + n, off + n - s]
            lay.fields.append(Field(off + n - s, s, "map-next"))
            for k in (0, 1, 2, n // s // 2, n // s - 2):
                lay.fields.append(Field(off + k * s, s, "map-entry"))
        entries = getattr(img, "entries", None)
        if entries is not None and len(entries):
            stream = [int(x) for x in np.asarray(entries)[:100000]]
            lay.stream_pages = stream
            info_off = stream[0] * n
            if info_off + n <= n_file:
                lay.boundaries += [info_off, info_off + n]
                for off in range(info_off, info_off + 0x200, lay.word):
                    lay.fields.append(Field(off, lay.word, "info"))
                for off in range(info_off, info_off + 0x200, 4):
                    lay.fields.append(Field(off, 4, "info"))
            try:
                meta = int(img.meta_pages)
            except Exception:
                meta = 0
            if img.compression == "none" and meta:
                lay.pagedir_pages = [p for p in stream[1 : 1 + meta] if (p + 1) * n <= n_file]
                for p in lay.pagedir_pages[:16]:
                    for k in (0, 1, 2, 255, 510, 511):
                        lay.fields.append(Field(p * n + k * 8, 8, "pfn"))
            elif img.compression != "none":
                try:
                    t = img.chunk_table
                    t.ensure_all()
                    firsts = [int(x) for x in t.first_entry[: t.built][:512]]
                except Exception:
                    firsts = []
                for fe in firsts:
                    if fe < len(stream):
                        off = stream[fe] * n
                        lay.boundaries += [off, off + n // 2]
                        lay.fields.append(Field(off, 8, "chunk-len"))
                        lay.fields.append(Field(off, 4, "chunk-len"))
            data_pages = stream[1 + meta :: max(1, len(stream) // 64)]
            lay.data_pages = [p for p in data_pages if (p + 1) * n <= n_file][:64]
    lay.fields = [f for f in lay.fields if f.offset + f.width <= n_file]
    lay.boundaries = sorted({b for b in lay.boundaries if 0 < b < n_file})
    return lay
