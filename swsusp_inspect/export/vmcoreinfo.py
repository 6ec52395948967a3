"""The VMCOREINFO ELF note among the saved pages, for an ELF core's ``PT_NOTE``.

The kernel keeps, for kdump, an ELF note named ``VMCOREINFO`` whose text (``KEY=value``
lines: ``OSRELEASE``, ``PAGESIZE``, ``SYMBOL(init_uts_ns)``, ``KERNELOFFSET``, ...) tells a
dump reader how to read it; drgn needs it to open a core as a Linux kernel.  Since 4.13 the
note sits at the start of pages of its own (``alloc_pages_exact(VMCOREINFO_NOTE_SIZE)``), so
the writers look at the head of every page they write (:func:`note_candidates`) and parse the
candidates afterwards (:func:`read_note`); :func:`find_note` sweeps the image when a writer
needs the note before its data (a stream).

The parsing and the full search are the kernel layer's (:mod:`swsusp_inspect.kernel.vmcoreinfo`);
this module only spots candidates on the pages the writers pass, so that a file is written in
one pass.

References:
    kernel/vmcore_info.c (6.9+), kernel/crash_core.c (4.13-6.8): ``append_elf_note()``
        (``Elf_Word n_namesz, n_descsz, n_type``, the name padded to 4 bytes, the text padded
        to 4), ``final_note()`` (12 zero bytes), ``VMCOREINFO_NOTE_SIZE``;
        ``crash_save_vmcoreinfo_init()`` allocates the note with ``alloc_pages_exact()``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from swsusp_inspect.errors import FormatError, KernelMemoryError
from swsusp_inspect.kernel.memory import PhysicalMemory
from swsusp_inspect.kernel.vmcoreinfo import MAX_DESC, VmcoreInfo, find_vmcoreinfo, parse_note

if TYPE_CHECKING:
    from swsusp_inspect.image.hibernation import HibernationImage

__all__ = [
    "NO_NOTE",
    "Note",
    "find_note",
    "first_note",
    "full_search",
    "note_candidates",
    "note_reserve",
    "read_note",
]

_NAME = b"VMCOREINFO\x00\x00"  # 11 bytes, padded to 4
_HEAD = struct.unpack("<III", _NAME)
NO_NOTE = (
    "no VMCOREINFO note at the start of a saved page (a kernel before 4.13, or one "
    "built without CONFIG_VMCORE_INFO/CRASH_CORE): drgn cannot open the core as a "
    "Linux kernel without it"
)


@dataclass(frozen=True)
class Note:
    """The note as the kernel wrote it (header, name, text, padding)."""

    data: bytes
    address: int
    osrelease: str | None


def note_reserve(page_size: int) -> int:
    """Bytes kept for the note: header and name (24), ``VMCOREINFO_BYTES`` = one page of
    text, the final empty note (12)."""
    return 24 + page_size + 12


def note_candidates(pfns: np.ndarray, data: bytes | memoryview, page_size: int) -> list[int]:
    """PFNs among ``pfns`` whose page (in ``data``) starts like a VMCOREINFO note."""
    count = len(data) // page_size
    if not count:
        return []
    heads = np.frombuffer(data, "<u4", count=count * page_size // 4)
    heads = heads.reshape(count, page_size // 4)[:, :6]
    hit = (
        (heads[:, 0] == 11)
        & (heads[:, 2] == 0)
        & (heads[:, 3] == _HEAD[0])
        & (heads[:, 4] == _HEAD[1])
        & (heads[:, 5] == _HEAD[2])
    )
    return [int(pfns[i]) for i in np.flatnonzero(hit).tolist()]


def _note(info: VmcoreInfo) -> Note | None:
    if not info.note or info.address is None:
        return None
    return Note(bytes(info.note), info.address, info.osrelease)


def read_note(image: HibernationImage, pfn: int) -> Note | None:
    """The note at the start of page ``pfn`` (the kernel layer parses it), or None."""
    mem = PhysicalMemory(image, cache_pages=16)
    address = pfn * image.page_size
    try:
        namesz, descsz, ntype = struct.unpack_from("<III", mem.read(address, 12, "note"))
        if namesz != 11 or ntype != 0 or not 0 < descsz <= MAX_DESC:
            return None
        padded = 24 + ((descsz + 3) & ~3)  # the text padded to 4 bytes, as note readers need
        return _note(parse_note(mem.read(address, padded, "VMCOREINFO note"), address))
    except (KernelMemoryError, FormatError):  # not saved, unreadable, or no note
        return None


def first_note(image: HibernationImage, candidates: list[int]) -> Note | None:
    """The first candidate that holds a sound note."""
    for pfn in candidates:
        found = read_note(image, pfn)
        if found is not None:
            return found
    return None


def full_search(image: HibernationImage) -> Note | None:
    """The kernel layer's search of the saved pages, in stream order (page-aligned notes
    first, then 2.6.24-4.12's note anywhere in .bss): at most the whole image, once."""
    try:
        return _note(find_vmcoreinfo(PhysicalMemory(image)))
    except (KernelMemoryError, FormatError):  # none, or a damaged chunk on the way
        return None


def find_note(image: HibernationImage) -> Note | None:
    """The note before any data is written (a stream): the readable pages' heads in stream
    order until one holds it, else :func:`full_search`."""
    n = image.page_size
    for _, pfns, data in image.iter_readable():
        found = first_note(image, note_candidates(pfns, data, n))
        if found is not None:
            return found
    return full_search(image)
