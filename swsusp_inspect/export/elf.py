"""An ELF core of the saved memory, as kdump and QEMU's ``dump-guest-memory`` write them.

Layout: the ELF header, the program headers (one ``PT_NOTE``, then ``PT_LOAD`` segments by
physical address), the VMCOREINFO note in a region kept for it, then the data of every
readable saved page in stream order.  A ``PT_LOAD`` covers a run of consecutive frames with
data (``p_filesz`` = ``p_memsz``), or a run of 6.6+ zero pages (``p_filesz`` 0: memory that is
zeros, distinct from memory not saved, which no segment covers).  ``p_paddr`` is the physical
address; ``p_vaddr`` is 0 as ``dump-guest-memory`` without paging writes it (a reader
translates kernel addresses through the image's own page tables, which drgn does).
Unreadable frames of a salvaged image are in no segment.

ELFCLASS64 for 64-bit images, ELFCLASS32 for i386 unless an address or offset needs more than
32 bits (then ELFCLASS64 with ``EM_386``, as kexec-tools does for PAE memory above 4 GiB).
More than 65534 program headers: ``e_phnum`` = ``PN_XNUM`` and the count in section header 0's
``sh_info`` (the kernel's ELF core dumps do the same).

References:
    include/uapi/linux/elf.h, the System V gABI (``PN_XNUM``); fs/binfmt_elf.c
        ``fill_extnum_info()``; kexec-tools ``kexec/crashdump-elf.c``; QEMU ``dump/dump.c``
        and ``memory_mapping.c`` ``qemu_get_guest_simple_memory_mapping()`` (virtual 0).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import numpy as np

from swsusp_inspect.export.plan import Plan, data_index_of_entries
from swsusp_inspect.export.vmcoreinfo import Note, note_reserve
from swsusp_inspect.image.pages import PageStates, pfn_runs

if TYPE_CHECKING:
    from swsusp_inspect.image.hibernation import HibernationImage

__all__ = ["elf_machine", "plan_elf"]

ET_CORE, EV_CURRENT, PT_LOAD, PT_NOTE, PN_XNUM = 4, 1, 1, 4, 0xFFFF
PF_RWX = 7
LOWMEM = 896 << 20  # i386 MAXMEM with the default 3G/1G split and vmalloc reserve
EM = {"x86_64": 62, "i386": 3, "arm64": 183, "aarch64": 183, "riscv64": 243, "riscv32": 243}

_EHDR = {64: struct.Struct("<16sHHIQQQIHHHHHH"), 32: struct.Struct("<16sHHIIIIIHHHHHH")}
_SHDR = {64: struct.Struct("<IIQQQQIIQQ"), 32: struct.Struct("<IIIIIIIIII")}
_PHDR = {
    64: np.dtype(
        [
            ("p_type", "<u4"),
            ("p_flags", "<u4"),
            ("p_offset", "<u8"),
            ("p_vaddr", "<u8"),
            ("p_paddr", "<u8"),
            ("p_filesz", "<u8"),
            ("p_memsz", "<u8"),
            ("p_align", "<u8"),
        ]
    ),
    32: np.dtype(
        [
            ("p_type", "<u4"),
            ("p_offset", "<u4"),
            ("p_vaddr", "<u4"),
            ("p_paddr", "<u4"),
            ("p_filesz", "<u4"),
            ("p_memsz", "<u4"),
            ("p_flags", "<u4"),
            ("p_align", "<u4"),
        ]
    ),
}


def elf_machine(image: HibernationImage) -> int:
    """``e_machine`` of the image's architecture (the arch record, else ``utsname.machine``);
    0 (``EM_NONE``) when neither says."""
    arch = image.info.arch
    if arch is not None and arch.name in EM:
        return EM[arch.name]
    uts = image.info.uts
    machine = (uts.machine if uts is not None else "") or ""
    if machine in EM:
        return EM[machine]
    if len(machine) == 4 and machine[0] == "i" and machine.endswith("86"):
        return EM["i386"]
    return 0


def _segments(
    states: PageStates, page_size: int, data_start: int
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """``(file offsets of the data pages by data index, PT_LOAD rows, data runs, zero
    runs)``; rows are ``(offset, paddr, filesz, memsz)`` sorted by address."""
    n = page_size
    readable = np.flatnonzero(states.readable)
    rpfns = states.pfns[readable].astype(np.int64)
    offsets = np.full(int(np.count_nonzero(~states.zero)), -1, np.int64)
    offsets[data_index_of_entries(states.zero)[readable]] = (
        data_start + np.arange(readable.size, dtype=np.int64) * n
    )
    d_starts, d_len = pfn_runs(rpfns)
    zpfns = np.sort(states.pfns[states.zero].astype(np.int64))
    z_starts, z_len = pfn_runs(zpfns)
    rows = np.empty((d_starts.size + z_starts.size, 4), np.int64)
    rows[: d_starts.size, 0] = data_start + d_starts * n
    rows[: d_starts.size, 1] = rpfns[d_starts] * n
    rows[: d_starts.size, 2] = d_len * n
    rows[: d_starts.size, 3] = d_len * n
    rows[d_starts.size :, 0] = data_start
    rows[d_starts.size :, 1] = zpfns[z_starts] * n
    rows[d_starts.size :, 2] = 0
    rows[d_starts.size :, 3] = z_len * n
    rows = rows[np.argsort(rows[:, 1], kind="stable")]
    return offsets, rows, int(d_starts.size), int(z_starts.size)


def direct_map(image: HibernationImage) -> int | None:
    """i386's ``PAGE_OFFSET`` (the arch record's ``jump_address`` less its physical address:
    kernel text lies in the direct map there); None elsewhere."""
    arch = image.info.arch
    if arch is None or arch.name != "i386" or not arch.jump_address or not arch.jump_address_phys:
        return None
    offset = arch.jump_address - arch.jump_address_phys
    return offset if offset > 0 else None


def _vaddrs(rows: np.ndarray, page_offset: int | None) -> np.ndarray:
    """``p_vaddr``: 0 (as ``dump-guest-memory`` without paging), or on i386, whose page
    tables drgn does not walk, the direct-map address of low memory (as kexec-tools sets it;
    frames at or above ``MAXMEM`` = 896 MiB are highmem, not mapped: 0)."""
    out = np.zeros(rows.shape[0], np.int64)
    if page_offset is not None:
        low = rows[:, 1] + rows[:, 3] <= LOWMEM
        out[low] = page_offset + rows[low, 1]
    return out


def _headers(
    cls: int,
    machine: int,
    rows: np.ndarray,
    *,
    note_off: int,
    note: Note | None,
    vaddrs: np.ndarray,
) -> bytes:
    """ELF header, program headers (PT_NOTE first) and, past PN_XNUM, section header 0."""
    phnum = 1 + rows.shape[0]
    ehdr, phdr, shdr = _EHDR[cls], _PHDR[cls], _SHDR[cls]
    ph = np.zeros(phnum, phdr)
    ph["p_type"][0], ph["p_offset"][0] = PT_NOTE, note_off
    ph["p_filesz"][0] = len(note.data) if note is not None else 0
    ph["p_type"][1:], ph["p_flags"][1:] = PT_LOAD, PF_RWX
    ph["p_offset"][1:], ph["p_paddr"][1:] = rows[:, 0], rows[:, 1]
    ph["p_vaddr"][1:] = vaddrs
    ph["p_filesz"][1:], ph["p_memsz"][1:] = rows[:, 2], rows[:, 3]
    extnum = phnum >= PN_XNUM
    shoff = ehdr.size + phnum * phdr.itemsize if extnum else 0
    ident = b"\x7fELF" + bytes([2 if cls == 64 else 1, 1, EV_CURRENT]) + bytes(9)
    head = ehdr.pack(
        ident,
        ET_CORE,
        machine,
        EV_CURRENT,
        0,
        ehdr.size,
        shoff,
        0,
        ehdr.size,
        phdr.itemsize,
        PN_XNUM if extnum else phnum,
        shdr.size if extnum else 0,
        1 if extnum else 0,
        0,
    )
    tail = shdr.pack(0, 0, 0, 0, 0, 1, 0, phnum, 0, 0) if extnum else b""
    return head + ph.tobytes() + tail


def plan_elf(image: HibernationImage, states: PageStates) -> Plan:
    """The core's layout from the PFN directory and what can be read."""
    n = image.page_size
    machine = elf_machine(image)
    pfns = states.pfns
    top = (int(pfns.max()) + 1) * n if pfns.size else 0
    readable = int(np.count_nonzero(states.readable))
    offsets, rows, data_runs, zero_runs = _segments(states, n, 0)
    phnum = 1 + rows.shape[0]
    cls = 64 if image.word_size == 8 or top > 0xFFFFFFFF else 32
    for _ in range(2):  # the class decides the header size, the size may decide the class
        note_off = (
            _EHDR[cls].size
            + phnum * _PHDR[cls].itemsize
            + (_SHDR[cls].size if phnum >= PN_XNUM else 0)
        )
        data_start = -(-(note_off + note_reserve(n)) // n) * n
        size = data_start + readable * n
        if cls == 32 and size > 0xFFFFFFFF:
            cls = 64
    offsets[offsets >= 0] += data_start
    rows[:, 0] += data_start
    vaddrs = _vaddrs(rows, direct_map(image))

    def pieces(note: Note | None) -> list[tuple[int, bytes]]:
        body = note.data if note is not None else b""
        return [
            (0, _headers(cls, machine, rows, note_off=note_off, note=note, vaddrs=vaddrs)),
            (note_off, body + bytes(data_start - note_off - len(body))),
        ]

    return Plan(
        "elf",
        offsets,
        size,
        pieces,
        wants_note=True,
        load_segments=data_runs + zero_runs,
        zero_segments=zero_runs,
        elf_class=cls,
        machine=machine,
    )
