"""Shared helpers of the kernel-memory tests: where the real samples and excerpts are, what
their own records say (boot log, console, kpageflags, kallsyms, VMCOREINFO), and synthetic
kernel memory for the hostile-input tests."""

from __future__ import annotations

import functools
import json
import lzma
import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from swsusp_inspect.model import ArchRecord

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
# more sample directories with their images (e.g. a copy of git-ignored images kept elsewhere)
SCRATCH = Path(os.environ["SWSUSP_EXTRA_SAMPLES"]) if "SWSUSP_EXTRA_SAMPLES" in os.environ else None
EXCERPTS = ROOT / "tests" / "data" / "kernel"

# every real sample a kernel layer test may use (images in place or not)
KNOWN = (
    "deb12-6.1-lzo",
    "deb12-6.1-nocompress",
    "deb13-6.12-lz4",
    "deb13-6.12-kaslr-lzo",
    "deb12-6.1-i386-lzo",
    "deb12-6.1-i386-nonpae-lzo",
    "deb12-6.1-arm64-lzo",
    "deb13-6.12-arm64-16k-lzo",
    "sid-7-lzo",
)


def sample_dir(name: str) -> Path | None:
    """The sample's directory with its image in place (samples/, then SWSUSP_EXTRA_SAMPLES)."""
    for base in (b for b in (SAMPLES, SCRATCH) if b is not None):
        d = base / name
        if (d / "swap.img.xz").is_file() and (d / "provenance.json").is_file():
            return d
    return None


def samples_in_place() -> list[str]:
    return [n for n in KNOWN if sample_dir(n) is not None]


def excerpt_names() -> list[str]:
    return sorted(p.parent.name for p in EXCERPTS.glob("*/memory.kexc.xz"))


def provenance(d: Path) -> dict[str, Any]:
    return dict(json.loads((d / "provenance.json").read_text()))


def system_map_path(d: Path) -> Path | None:
    """The sample's full System.map (samples/systemmap, SWSUSP_EXTRA_SAMPLES, or an excerpt's)."""
    rel = provenance(d).get("system_map")
    if rel:
        for base in (b for b in (SAMPLES, SCRATCH, d.parent) if b is not None):
            if (base / rel).is_file():
                return base / rel
    if (d / "System.map").is_file():
        return d / "System.map"
    return None


@functools.lru_cache(maxsize=8)
def system_map(path: Path):  # type: ignore[no-untyped-def]
    """A System.map read once per session (parsing a whole one takes about half a second)."""
    from swsusp_inspect import load_system_map

    return load_system_map(path)


def needs_system_map(d: Path) -> bool:
    """Kernels without CONFIG_KALLSYMS_ALL (Debian i386, arm64) need one for data symbols."""
    return provenance(d).get("arch") in ("i386", "arm64")


# -- what the guest recorded -------------------------------------------------------------------


def read_text(d: Path, name: str) -> str:
    """A record of the sample, plain or (in the excerpt directories) xz-compressed."""
    if (d / name).is_file():
        return (d / name).read_text(errors="replace")
    with lzma.open(d / f"{name}.xz", "rt", errors="replace") as fh:
        return str(fh.read())


def console(d: Path) -> str:
    return read_text(d, "console.log")


def dmesg_map(d: Path):  # type: ignore[no-untyped-def]
    """The boot log's memory map (BIOS-e820 table, nosave lines) as the project reads it."""
    from swsusp_inspect.e820.readers.logtext import read_log

    return read_log(str(d / "dmesg.txt"), read_text(d, "dmesg.txt"))


def struct_pages_recorded(d: Path) -> int | None:
    """For an excerpt that keeps only part of the struct pages: how many saved PFNs have
    theirs (None: all of them)."""
    prov = json.loads((d / "excerpt.json").read_text()) if (d / "excerpt.json").is_file() else None
    if prov is None:
        return None
    sp = prov.get("struct_pages")
    return None if sp in (None, "all") else int(sp["recorded_for_saved_pfns"])


def need_to_copy(text: str) -> int:
    """N of the kernel's ``Need to copy N pages`` line."""
    m = re.findall(r"Need to copy (\d+) pages", text)
    assert len(m) == 1, m
    return int(m[0])


def console_lines(d: Path) -> set[str]:
    return {line.rstrip("\r") for line in console(d).splitlines()}


def vmcoreinfo_sysfs(d: Path) -> tuple[int, int] | None:
    """``/sys/kernel/vmcoreinfo``: (physical address of the note, size)."""
    p = d / "vmcoreinfo.txt"
    if not p.is_file():
        return None
    addr, size = p.read_text().split()
    return int(addr, 16), int(size)


def vmcoreinfo_note_text(d: Path) -> str | None:
    p = d / "vmcoreinfo-note.txt"
    return p.read_text() if p.is_file() else None


def kallsyms_excerpt(d: Path) -> list[tuple[int, str, str]] | None:
    """``(address, type, name)`` of the guest's /proc/kallsyms excerpt (core kernel only)."""
    p = d / "kallsyms.txt.xz"
    if not p.is_file():
        return None
    out = []
    with lzma.open(p, "rt") as fh:
        for line in fh:
            if line.startswith("#") or "\t" not in line:
                continue
            parts = line.split("\t", 1)[1].split()
            if len(parts) == 3:  # module symbols have a 4th "[module]" column
                out.append((int(parts[0], 16), parts[1], parts[2]))
    return out


# -- synthetic kernel memory -----------------------------------------------------------------


@dataclass
class SynthInfo:
    arch: ArchRecord | None = None
    version_code: int = 0


@dataclass
class SynthPagedir:
    pfns: np.ndarray
    zero: np.ndarray


@dataclass
class SynthImage:
    """An ImageLike over a dict of pages (for hand-built kernel structures)."""

    pages: dict[int, bytearray] = field(default_factory=dict)
    page_size: int = 4096
    word_size: int = 8
    info: SynthInfo = field(default_factory=SynthInfo)
    zero_pfns: set[int] = field(default_factory=set)
    reads: int = 0
    sweeps: int = 0

    @property
    def pagedir(self) -> SynthPagedir:
        pfns = np.array(sorted(set(self.pages) | self.zero_pfns), dtype=np.uint64)
        zero = np.isin(pfns, np.array(sorted(self.zero_pfns), dtype=np.uint64))
        return SynthPagedir(pfns, zero)

    def read_page(self, pfn: int) -> bytes:
        self.reads += 1
        if pfn in self.zero_pfns:
            return bytes(self.page_size)
        if pfn not in self.pages:
            raise KeyError(pfn)
        return bytes(self.pages[pfn])

    def iter_data_pages(self) -> Iterator[tuple[np.ndarray, bytes]]:
        self.sweeps += 1
        keys = sorted(self.pages)
        for k in range(0, len(keys), 32):
            run = keys[k : k + 32]
            yield np.array(run, dtype=np.uint64), b"".join(bytes(self.pages[p]) for p in run)

    def write(self, phys: int, data: bytes) -> None:
        """Write ``data`` at physical ``phys`` (pages are created, zero filled)."""
        n = self.page_size
        for i, b in enumerate(data):
            pfn, off = divmod(phys + i, n)
            self.pages.setdefault(pfn, bytearray(n))[off] = b

    def fill(self, phys: int, data: bytes) -> None:
        """Fast write for page-sized, page-aligned blocks."""
        n = self.page_size
        assert phys % n == 0
        for k in range(0, len(data), n):
            chunk = data[k : k + n]
            self.pages[(phys + k) // n] = bytearray(chunk + bytes(n - len(chunk)))


class X86Tables:
    """Build x86_64 4-level page tables with 4 KiB pages in a SynthImage (identity-free)."""

    def __init__(self, img: SynthImage, root: int, next_table: int) -> None:
        self.img = img
        self.root = root
        self.next = next_table
        img.pages.setdefault(root // 4096, bytearray(4096))

    def _entry(self, table: int, index: int) -> int:
        return int(struct.unpack_from("<Q", self.img.pages[table // 4096], index * 8)[0])

    def _set(self, table: int, index: int, value: int) -> None:
        struct.pack_into("<Q", self.img.pages[table // 4096], index * 8, value)

    def map(self, va: int, pa: int, size: int) -> None:
        for off in range(0, size, 4096):
            v = va + off
            table = self.root
            for shift in (39, 30, 21):
                idx = (v >> shift) & 511
                e = self._entry(table, idx)
                if not e & 1:
                    new = self.next
                    self.next += 4096
                    self.img.pages[new // 4096] = bytearray(4096)
                    self._set(table, idx, new | 0x63)
                    e = new | 0x63
                table = e & 0x000FFFFFFFFFF000
            self._set(table, (v >> 12) & 511, (pa + off) | 0x63)


def x86_arch(cr3: int, **kw: Any) -> ArchRecord:
    return ArchRecord(name="x86_64", layout="synthetic", magic=None, cr3=cr3, **kw)


class SynthKernel:
    """Kernel memory built by hand: x86_64 4-level tables, data placed at virtual addresses.

    Physical layout: the PML4 at 0x1000, tables from 0x100000, data pages from 0x400000.
    """

    def __init__(self, *, cr3: int = 0x1000) -> None:
        self.img = SynthImage(info=SynthInfo(arch=x86_arch(cr3)))
        self.tables = X86Tables(self.img, cr3, 0x100000)
        self.next_phys = 0x400000
        self._vm = None

    def place(self, va: int, data: bytes) -> int:
        """Map fresh pages at ``va`` (4 KiB aligned) and write ``data``; returns the physical
        address of ``va``."""
        assert va % 4096 == 0
        size = max(4096, -(-len(data) // 4096) * 4096)
        pa = self.next_phys
        self.next_phys += size
        self.tables.map(va, pa, size)
        self.img.fill(pa, data + bytes(size - len(data)))
        self._vm = None
        return pa

    @property
    def vm(self):  # type: ignore[no-untyped-def]
        from swsusp_inspect.kernel import PhysicalMemory
        from swsusp_inspect.kernel.pagetables import VirtualMemory, x86_64_paging

        if self._vm is None:
            mem = PhysicalMemory(self.img)
            self._vm = VirtualMemory(x86_64_paging(mem, self.tables.root))
        return self._vm


def note(
    text: bytes, *, name: bytes = b"VMCOREINFO\0", ntype: int = 0, descsz: int | None = None
) -> bytes:
    """An ELF note as kernel/vmcore_info.c append_elf_note() writes it, plus final_note()."""
    namesz = len(name)
    head = struct.pack("<III", namesz, len(text) if descsz is None else descsz, ntype)
    padded_name = name + bytes(-len(name) % 4)
    return head + padded_name + text + bytes(-len(text) % 4) + bytes(12)
