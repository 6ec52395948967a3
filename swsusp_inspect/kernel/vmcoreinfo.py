"""VMCOREINFO: the kernel's description of itself, found among the saved pages.

The kernel keeps an ELF note named ``VMCOREINFO`` in its memory for kdump: ``KEY=value`` lines
giving its release, build-id, page size, KASLR offset, the addresses of key symbols and the
sizes and field offsets of the structures a dump reader needs.  A hibernation image saves that
note with the rest of RAM; this module finds it and parses it into :class:`VmcoreInfo`.

Note layout (``append_elf_note()``): ``Elf_Word n_namesz`` (11), ``n_descsz``, ``n_type`` (0),
the name ``"VMCOREINFO\\0"`` padded to 12 bytes, then ``n_descsz`` bytes of text, then an empty
note (``final_note()``: 12 zero bytes).  Lines (``vmcoreinfo_append_str()`` and the
``VMCOREINFO_*`` macros of include/linux/vmcore_info.h, crash_core.h before 6.9)::

    OSRELEASE=%s  BUILD-ID=%20phN  PAGESIZE=%ld  KERNELOFFSET=%lx  CRASHTIME=%lld
    SYMBOL(name)=%lx  SIZE(name)=%lu  OFFSET(struct.field)=%lu  LENGTH(name)=%lu
    NUMBER(name)=%ld (some arch lines print 0x%lx)  CONFIG_NAME=y

``CRASHTIME`` is appended by ``crash_save_vmcoreinfo()`` only when the kernel crashes into a
kdump kernel; a hibernation image never has it.

Where the note lives:
    2.6.24 -> 4.12: ``u32 vmcoreinfo_note[]`` in the kernel's .bss (4-byte aligned, anywhere);
    4.13 -> now ("kexec: move vmcoreinfo out of the kernel's .bss section"):
    ``alloc_pages_exact(VMCOREINFO_NOTE_SIZE)`` at ``crash_save_vmcoreinfo_init()``, so the
    note starts a page (two pages: the note is a page of text plus headers).  Seen in the
    samples: PFN 0x5140 (6.1, 192 MiB guest), 0x49fc (6.12).

Finding it: one bounded sweep of the saved data pages in stream order (PFN order), looking for
the name and checking the header around it; it stops at the first valid note.  The cost is a
decompression of the image up to that page (at most the whole image, once).  The kernel's
.rodata also holds the string ``VMCOREINFO`` (the note name literal): the header check rejects
it.

Without VMCOREINFO (kernels before 2.6.24, or built without CONFIG_KEXEC / CONFIG_CRASH_CORE /
CONFIG_VMCORE_INFO) the image has no release, build-id or KASLR offset of its own, symbols need
a System.map, and struct layouts fall back to this package's per-version defaults.

References:
    kernel/vmcore_info.c (6.9+), kernel/crash_core.c (4.12 -> 6.8), kernel/kexec.c (2.6.24 ->
    4.11): ``crash_save_vmcoreinfo_init()``, ``append_elf_note()``, ``final_note()``.
    arch/x86/kernel/vmcore_info_64.c (machine_kexec_64.c before 6.9): ``phys_base``,
    ``init_top_pgt``, ``pgtable_l5_enabled``, ``KERNELOFFSET``; vmcore_info_32.c:
    ``CONFIG_X86_PAE=y``; arch/arm64/kernel/vmcore_info.c (crash_core.c before 6.9):
    ``VA_BITS``, ``kimage_voffset``, ``PHYS_OFFSET``, ``TCR_EL1_T1SZ``, ``KERNELOFFSET``.
    makedumpfile ``read_vmcoreinfo()``; kexec-tools vmcore-dmesg; drgn
    ``libdrgn/program.c`` ``parse_vmcoreinfo()``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from swsusp_inspect.errors import FormatError
from swsusp_inspect.kernel.memory import KernelDataError, NotInImageError, PhysicalMemory

__all__ = [
    "NOTE_NAME",
    "NO_VMCOREINFO",
    "VmcoreInfo",
    "find_vmcoreinfo",
    "parse_note",
    "parse_vmcoreinfo",
]

NOTE_NAME = b"VMCOREINFO\x00"
_NAME_PADDED = b"VMCOREINFO\x00\x00"  # 11 bytes rounded up to 4
_NOTE_HEAD = 12 + len(_NAME_PADDED)  # Elf_Nhdr (3 x u32) + padded name
_NAME_WORDS = struct.unpack("<III", _NAME_PADDED)
# VMCOREINFO_BYTES is PAGE_SIZE (4096 before 4.13); 64 KiB pages are the largest there are
MAX_DESC = 1 << 16

NO_VMCOREINFO = (
    "no VMCOREINFO note in the saved pages (a kernel before 2.6.24 or built without "
    "CONFIG_KEXEC/CRASH_CORE/VMCORE_INFO): no release, build-id or KASLR offset from the image, "
    "symbols need a System.map, struct layouts fall back to per-version defaults"
)

_LINE = re.compile(r"^([A-Z0-9_-]+)(?:\(([^()]*)\))?=(.*)$")


@dataclass(frozen=True)
class VmcoreInfo:
    """A parsed VMCOREINFO note.

    Attributes:
        osrelease: ``OSRELEASE`` (``uname -r``), or None.
        build_id: ``BUILD-ID`` (hex string), or None (before 5.9).
        page_size: ``PAGESIZE``, or None.
        kernel_offset: ``KERNELOFFSET`` (KASLR slide of the kernel image; 0 without KASLR), or
            None when the kernel does not print it (no KASLR support, or i386).
        crashtime: ``CRASHTIME`` (absent in hibernation images: None).
        symbols: ``SYMBOL(name)`` -> address.
        sizes: ``SIZE(name)`` -> bytes.
        offsets: ``OFFSET(struct.field)`` -> bytes, keyed ``"struct.field"``.
        lengths: ``LENGTH(name)`` -> count.
        numbers: ``NUMBER(name)`` -> value (may be negative).
        configs: ``CONFIG_X`` -> value (e.g. ``{"X86_PAE": "y"}``).
        entries: every ``(key, value)`` line in order, as text.
        problems: lines that could not be read (one line each; empty for a sound note).
        text: the note's text (``n_descsz`` bytes).
        note: the whole note as the kernel wrote it (header, name, text, padding), for an ELF
            ``PT_NOTE``; empty when parsed from text alone.
        address: physical address of the note, or None.
    """

    osrelease: str | None
    build_id: str | None
    page_size: int | None
    kernel_offset: int | None
    crashtime: int | None
    symbols: Mapping[str, int]
    sizes: Mapping[str, int]
    offsets: Mapping[str, int]
    lengths: Mapping[str, int]
    numbers: Mapping[str, int]
    configs: Mapping[str, str]
    entries: tuple[tuple[str, str], ...]
    problems: tuple[str, ...] = ()
    text: bytes = b""
    note: bytes = b""
    address: int | None = None
    plain: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def symbol(self, name: str) -> int | None:
        return self.symbols.get(name)

    def size(self, name: str) -> int | None:
        return self.sizes.get(name)

    def offset(self, struct_name: str, field_name: str) -> int | None:
        return self.offsets.get(f"{struct_name}.{field_name}")

    def length(self, name: str) -> int | None:
        return self.lengths.get(name)

    def number(self, name: str) -> int | None:
        return self.numbers.get(name)

    def get(self, key: str) -> str | None:
        """The raw value of a plain ``KEY=value`` line (e.g. ``"OSRELEASE"``)."""
        return self.plain.get(key)


def _int(value: str, base: int) -> int:
    v = value.strip()
    if v.lower().startswith(("0x", "-0x")):
        return int(v, 16)
    return int(v, base)


def parse_vmcoreinfo(
    text: bytes | str, *, note: bytes = b"", address: int | None = None
) -> VmcoreInfo:
    """Parse VMCOREINFO text (``KEY=value`` lines).

    Lines that do not parse are listed in :attr:`VmcoreInfo.problems`; they never raise.
    """
    raw = text.encode("latin-1") if isinstance(text, str) else bytes(text)
    body = raw.split(b"\0", 1)[0].decode("ascii", errors="replace")
    lines = _Lines()
    for lineno, line in enumerate(body.split("\n"), 1):
        lines.add(lineno, line)
    page_size, kernel_offset, crashtime = lines.plain_numbers()
    return VmcoreInfo(
        osrelease=lines.extra.get("OSRELEASE"),
        build_id=lines.extra.get("BUILD-ID"),
        page_size=page_size,
        kernel_offset=kernel_offset,
        crashtime=crashtime,
        symbols=MappingProxyType(lines.tables["SYMBOL"]),
        sizes=MappingProxyType(lines.tables["SIZE"]),
        offsets=MappingProxyType(lines.tables["OFFSET"]),
        lengths=MappingProxyType(lines.tables["LENGTH"]),
        numbers=MappingProxyType(lines.tables["NUMBER"]),
        configs=MappingProxyType(lines.configs),
        entries=tuple(lines.entries),
        problems=tuple(lines.problems),
        text=raw[: len(raw.split(b"\0", 1)[0])],
        note=note,
        address=address,
        plain=MappingProxyType(lines.extra),
    )


# the KIND(arg)=value lines and the base their values are written in
_BASES = {"SYMBOL": 16, "SIZE": 10, "OFFSET": 10, "LENGTH": 10, "NUMBER": 10}


@dataclass
class _Lines:
    """The note's lines gathered by kind as they are parsed (the parser's working state)."""

    tables: dict[str, dict[str, int]] = field(default_factory=lambda: {kind: {} for kind in _BASES})
    configs: dict[str, str] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)  # plain KEY=value lines
    entries: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def add(self, lineno: int, line: str) -> None:
        """One line: a ``KIND(arg)=value``, a ``CONFIG_X=value`` or a plain ``KEY=value``."""
        if not line:
            return
        m = _LINE.match(line)
        if m is None:
            self.problems.append(f"VMCOREINFO line {lineno}: not KEY=value: {line[:60]!r}")
            return
        key, arg, value = m.group(1), m.group(2), m.group(3)
        self.entries.append((key if arg is None else f"{key}({arg})", value))
        try:
            if arg is not None:
                if key not in _BASES:
                    self.problems.append(f"VMCOREINFO line {lineno}: unknown kind {key}({arg})")
                    return
                self.tables[key][arg] = _int(value, _BASES[key])
            elif key.startswith("CONFIG_"):
                self.configs[key[len("CONFIG_") :]] = value
            else:
                self.extra[key] = value
        except ValueError:
            self.problems.append(
                f"VMCOREINFO line {lineno}: {key}: value is not a number: {value[:40]!r}"
            )

    def plain_numbers(self) -> tuple[int | None, int | None, int | None]:
        """``(PAGESIZE, KERNELOFFSET, CRASHTIME)``; a bad one is a problem line."""
        extra = self.extra
        page_size = kernel_offset = crashtime = None
        try:
            if "PAGESIZE" in extra:
                page_size = int(extra["PAGESIZE"], 10)
            if "KERNELOFFSET" in extra:
                kernel_offset = int(extra["KERNELOFFSET"], 16)
            if "CRASHTIME" in extra:
                crashtime = int(extra["CRASHTIME"], 10)
        except ValueError as exc:
            self.problems.append(f"VMCOREINFO: {exc}")
        if page_size is not None and (page_size <= 0 or page_size & (page_size - 1)):
            self.problems.append(f"VMCOREINFO: PAGESIZE: expected a power of two, got {page_size}")
            page_size = None
        return page_size, kernel_offset, crashtime


def parse_note(data: bytes, address: int | None = None) -> VmcoreInfo:
    """Parse a VMCOREINFO ELF note (header, name, text) starting at ``data[0]``.

    Raises:
        KernelDataError: the header is not a VMCOREINFO note, or ``n_descsz`` is absurd.
    """
    if len(data) < _NOTE_HEAD:
        raise KernelDataError(
            "VMCOREINFO note",
            address,
            "header",
            f"{_NOTE_HEAD} bytes",
            f"{len(data)} bytes",
            space="phys",
        )
    namesz, descsz, ntype = struct.unpack_from("<III", data)
    if namesz != len(NOTE_NAME) or data[12:_NOTE_HEAD] != _NAME_PADDED:
        raise KernelDataError(
            "VMCOREINFO note",
            address,
            "n_namesz/name",
            "11, 'VMCOREINFO'",
            f"{namesz}, {data[12:23]!r}",
            space="phys",
        )
    if ntype != 0:
        raise KernelDataError("VMCOREINFO note", address, "n_type", 0, ntype, space="phys")
    if descsz == 0 or descsz > MAX_DESC:
        raise KernelDataError(
            "VMCOREINFO note", address, "n_descsz", f"1..{MAX_DESC:#x}", descsz, space="phys"
        )
    end = _NOTE_HEAD + descsz
    if len(data) < end:
        raise KernelDataError(
            "VMCOREINFO note",
            address,
            "n_descsz",
            f"<= {len(data) - _NOTE_HEAD:#x} (the bytes read)",
            descsz,
            space="phys",
        )
    padded = _NOTE_HEAD + ((descsz + 3) & ~3)
    desc = data[_NOTE_HEAD:end]
    info = parse_vmcoreinfo(desc, note=bytes(data[: min(padded, len(data))]), address=address)
    if info.osrelease is None:
        raise KernelDataError(
            "VMCOREINFO note", address, "OSRELEASE", "an OSRELEASE= line", "none", space="phys"
        )
    return info


def _candidate(mem: PhysicalMemory, address: int) -> VmcoreInfo | None:
    try:
        head = mem.read(address, _NOTE_HEAD, "VMCOREINFO note")
        namesz, descsz, ntype = struct.unpack_from("<III", head)
        if namesz != 11 or ntype != 0 or not 0 < descsz <= MAX_DESC:
            return None
        data = mem.read(address, _NOTE_HEAD + descsz, "VMCOREINFO note")
        return parse_note(data, address)
    except (NotInImageError, KernelDataError):
        return None


def find_vmcoreinfo(mem: PhysicalMemory, *, hint: int | None = None) -> VmcoreInfo:
    """Find and parse the VMCOREINFO note among the saved pages.

    Args:
        mem: the image's physical memory.
        hint: physical address where the note is expected (e.g. from a System.map's
            ``vmcoreinfo_note`` pointer); tried before the sweep.

    First the page starts of the saved pages whose stored bytes hold the note's name (the
    image's shortlist, found in the file without decompressing: see
    :mod:`~swsusp_inspect.image.shortlist`), the first valid note among them winning; then,
    when none is, two bounded sweeps of the data pages in stream order:

    1. page-aligned notes only (4.13+: ``alloc_pages_exact()``), vectorised over the page
       heads, stopping at the first valid one;
    2. only when the first found none: a note anywhere (4-byte aligned; the .bss array of
       2.6.24-4.12).  Every valid candidate is parsed and the one with the most lines wins:
       kernel memory can also hold stale partial copies, e.g. slab memory where /proc/kcore
       built its notes (seen on a 6.12 arm64 16K sample, where such a copy came first in PFN
       order while the real note, page aligned, came later).

    Raises:
        KernelDataError: no valid note in the saved pages (the message says what that costs).
    """
    if hint is not None:
        found = _candidate(mem, hint)
        if found is not None:
            return found
    for pfn in mem.pages_holding(NOTE_NAME).tolist():
        try:
            found = _candidate(mem, pfn * mem.page_size)
        except FormatError:  # a damaged chunk: the sweep below goes around it, or says so
            continue
        if found is not None:
            return found
    found, rejected = _page_aligned_note(mem)
    if found is not None:
        return found
    best, rejected_anywhere = _best_note_anywhere(mem)
    if best is not None:
        return best
    rejected += rejected_anywhere
    detail = NO_VMCOREINFO
    if rejected:
        detail += f" ({rejected} places name VMCOREINFO without a valid note header)"
    raise KernelDataError("VMCOREINFO", None, detail=detail)


def _page_aligned_note(mem: PhysicalMemory) -> tuple[VmcoreInfo | None, int]:
    """The first valid note that starts a saved page (4.13+), and how many page heads looked
    like one but were not."""
    n = mem.page_size
    rejected = 0
    for pfns, data in mem.iter_saved_data():
        count = len(data) // n
        if not count:
            continue
        heads = np.frombuffer(data, dtype="<u4", count=count * n // 4).reshape(count, n // 4)
        hits = np.flatnonzero(
            (heads[:, 0] == 11)
            & (heads[:, 2] == 0)
            & (heads[:, 3] == _NAME_WORDS[0])
            & (heads[:, 4] == _NAME_WORDS[1])
            & (heads[:, 5] == _NAME_WORDS[2])
        )
        for h in hits.tolist():
            found = _candidate(mem, int(pfns[h]) * n)
            if found is not None:
                return found, rejected
            rejected += 1
    return None, rejected


def _best_note_anywhere(mem: PhysicalMemory) -> tuple[VmcoreInfo | None, int]:
    """The valid note with the most lines among those not at a page start (4-byte aligned:
    the .bss array of 2.6.24-4.12, and stale copies), and how many names had no valid note."""
    n = mem.page_size
    rejected = 0
    best: VmcoreInfo | None = None
    for pfns, data in mem.iter_saved_data():
        blob = bytes(data) if isinstance(data, memoryview) else data
        pos = blob.find(NOTE_NAME)
        while pos >= 0:
            head = pos - 12
            if head >= 0 and head % 4 == 0 and head % n != 0:
                page, within = divmod(head, n)
                found = _candidate(mem, int(pfns[page]) * n + within)
                if found is None:
                    rejected += 1
                elif best is None or len(found.entries) > len(best.entries):
                    best = found
            pos = blob.find(NOTE_NAME, pos + 1)
    return best, rejected
