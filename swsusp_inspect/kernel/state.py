"""One facade over the hibernated kernel's memory: :func:`read_kernel` -> :class:`KernelState`.

Every part is read lazily, on first access, and at most once.  A content problem (no
VMCOREINFO, page tables pointing at unsaved or absurd addresses, a corrupt kallsyms, a log
ring with garbage indices, ...) never raises out of the facade: the part is None and one line
naming the part and the reason is added to :attr:`KernelState.errors`; the other parts carry
on with what could be read.

Dependencies between parts::

    vmcoreinfo ─┬─ paging (root: arch record cr3 / ttbr1_el1, else init_top_pgt /
                │          swapper_pg_dir) ─ vm
                ├─ kernel_offset
                ├─ symbols (kallsyms via VMCOREINFO | by structure | System.map + offset)
                ├─ e820 (x86) / memblock (arm64), nosave ─ e820_checksum_matches
                ├─ log (printk ring buffer / log_buf)
                └─ page_flags (vmemmap / mem_section / mem_map; PG_reserved from BTF)

References:
    the modules of this package; drgn ``libdrgn/program.c`` (VMCOREINFO-driven set-up of a
    kernel core: page tables, KASLR, kallsyms), crash ``kernel.c``/``memory.c`` (the order
    in which a dump's kernel state is established).
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable
from functools import cached_property
from typing import TypeVar

import numpy as np

from swsusp_inspect.errors import SwsuspError
from swsusp_inspect.inputs.system_map import SystemMap, load_system_map
from swsusp_inspect.kernel.kallsyms import (
    Kallsyms,
    KallsymsLocation,
    find_kallsyms,
    kallsyms_location,
)
from swsusp_inspect.kernel.memmap import E820Tables, Memblock, read_e820_tables, read_memblock
from swsusp_inspect.kernel.memory import ImageLike, PhysicalMemory
from swsusp_inspect.kernel.nosave import read_nosave_regions
from swsusp_inspect.kernel.pageflags import PageFlags, read_page_flags
from swsusp_inspect.kernel.pagetables import Paging, VirtualMemory
from swsusp_inspect.kernel.pagetables.roots import paging_candidates, record_pagings
from swsusp_inspect.kernel.printk import LogRecord, format_dmesg, read_log
from swsusp_inspect.kernel.symbols import KernelSymbols, kaslr_offset_from_map
from swsusp_inspect.kernel.vmcoreinfo import VmcoreInfo, find_vmcoreinfo
from swsusp_inspect.model import ArchRecord

__all__ = ["KernelState", "read_kernel"]

T = TypeVar("T")

KALLSYMS_SEARCH = 96 << 20  # bytes of kernel image searched for kallsyms by its shape


def read_kernel(
    image: ImageLike,
    system_map: SystemMap | str | os.PathLike[str] | None = None,
    *,
    source: str = "image",
    use_kallsyms: bool = True,
    memory: PhysicalMemory | None = None,
) -> KernelState:
    """The hibernated kernel's state, read lazily from ``image``.

    Args:
        image: an opened image (``swsusp_inspect.open_image(...)``) or anything satisfying
            :class:`~swsusp_inspect.kernel.memory.ImageLike`.
        system_map: a System.map (object or path) for symbols kallsyms lacks or for kernels
            without kallsyms in VMCOREINFO; a path that cannot be read is an error line.
        source: name used for the MemoryMap's ``source`` (e.g. the image path).
        use_kallsyms: False ignores the image's kallsyms (System.map only).
        memory: a PhysicalMemory to use (e.g. one recording the pages read).

    Never raises for content problems: see :attr:`KernelState.errors`.
    """
    return KernelState(image, system_map, source=source, use_kallsyms=use_kallsyms, memory=memory)


class KernelState:
    """The parts of the hibernated kernel's memory, each read on first access.

    Attributes (lazy; None when a part could not be read, with a line in ``errors``):
        memory: :class:`PhysicalMemory` over the image.
        vmcoreinfo: :class:`VmcoreInfo`.
        arch: ``"x86_64"``, ``"i386"``, ``"arm64"`` or None.
        paging: :class:`Paging`; ``page_table_root`` its root (physical address).
        vm: :class:`VirtualMemory`.
        kernel_offset: KASLR offset of the kernel image (0 without KASLR).
        symbols: :class:`KernelSymbols`; ``symbols_source`` its source string.
        e820: :class:`E820Tables` (x86); memblock: :class:`Memblock` (arm64).
        nosave: the kernel's nosave regions, ``(start_pfn, end_pfn inclusive)``.
        e820_checksum_matches: the firmware table's checksum vs the arch record's.
        log: :class:`LogRecord` list; ``log_format`` which buffer format.
        page_flags: :class:`PageFlags` for every saved PFN.
        errors: one line per part that could not be read, ``"part: reason"``.
    """

    def __init__(
        self,
        image: ImageLike,
        system_map: SystemMap | str | os.PathLike[str] | None = None,
        *,
        source: str = "image",
        use_kallsyms: bool = True,
        memory: PhysicalMemory | None = None,
    ) -> None:
        self.image = image
        self.source = source
        self.use_kallsyms = use_kallsyms
        self.errors: list[str] = []
        self.memory = memory if memory is not None else PhysicalMemory(image)
        self._map_arg = system_map
        self.log_format: str | None = None

    # -- error handling
    def _guard(self, part: str, fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except SwsuspError as exc:
            self._error(part, str(exc))
        except (
            ValueError,
            IndexError,
            KeyError,
            OverflowError,
            TypeError,
            ArithmeticError,
        ) as exc:  # a bug met on odd data: report it, do not crash
            self._error(part, f"internal error {type(exc).__name__}: {exc}")
        return None

    def _error(self, part: str, message: str) -> None:
        line = f"{part}: {message}"
        if line not in self.errors:
            self.errors.append(line)

    # -- basics
    @property
    def arch_record(self) -> ArchRecord | None:
        return self.image.info.arch

    @cached_property
    def system_map(self) -> SystemMap | None:
        arg = self._map_arg
        if arg is None or isinstance(arg, SystemMap):
            return arg
        return self._guard("system_map", lambda: load_system_map(arg))

    @cached_property
    def vmcoreinfo(self) -> VmcoreInfo | None:
        return self._guard(
            "vmcoreinfo", lambda: find_vmcoreinfo(self.memory, hint=self._vmcoreinfo_hint())
        )

    def _vmcoreinfo_hint(self) -> int | None:
        """Where a System.map says the note is, which spares the sweep: the ``vmcoreinfo_note``
        pointer read at its physical address (the map's offset from the arch record's anchor
        symbol) and translated with page tables built from the arch record alone; None when
        any of that is unknown."""
        sm, rec, mem = self.system_map, self.arch_record, self.memory
        if sm is None or rec is None:
            return None
        at = sm.physical("vmcoreinfo_note", rec)
        if at is None:
            return None
        pagings = record_pagings(mem, rec, page_size=self.image.page_size)
        for make in pagings:
            try:
                phys = make().translate(mem.read_word(at))
                if mem.read(phys + 12, 11) == b"VMCOREINFO\0":  # the note's name
                    return phys
            except SwsuspError:
                continue
        return None

    @cached_property
    def arch(self) -> str | None:
        rec = self.arch_record
        if rec is not None and rec.name in ("x86_64", "i386", "arm64"):
            return rec.name
        info = self.vmcoreinfo
        if info is not None:
            if info.symbol("init_top_pgt") is not None:
                return "x86_64"
            if info.number("kimage_voffset") is not None:
                return "arm64"
            uts = self.image.info.uts
            machine = uts.machine if uts is not None else None
            x86 = machine is None or machine in ("i386", "i486", "i586", "i686", "x86_64")
            if "X86_PAE" in info.configs or (self.memory.word_size == 4 and x86):
                return "i386"
        if rec is not None:
            self._error("paging", f"no page-table walker for {rec.name}")
        elif info is not None:
            uts = self.image.info.uts
            self._error(
                "paging",
                "no page-table walker for "
                f"{uts.machine if uts is not None else 'this machine'!r} "
                "(x86_64, i386 and arm64 are read)",
            )
        return None

    @cached_property
    def osrelease(self) -> str | None:
        return None if self.vmcoreinfo is None else self.vmcoreinfo.osrelease

    @cached_property
    def build_id(self) -> str | None:
        return None if self.vmcoreinfo is None else self.vmcoreinfo.build_id

    # -- page tables
    def _check_paging(self, paging: Paging) -> str | None:
        """None when ``paging`` translates a known address to its known physical address."""
        rec, info = self.arch_record, self.vmcoreinfo
        checks: list[tuple[int, int | None, str]] = []
        if rec is not None and rec.name in ("x86_64", "i386") and rec.jump_address:
            checks.append((rec.jump_address, rec.jump_address_phys, "jump_address"))
        if rec is not None and rec.name == "arm64" and info is not None:
            voff = info.number("kimage_voffset")
            sw = info.symbol("swapper_pg_dir")
            if sw is not None and voff is not None:
                checks.append((sw, (sw - voff) & 0xFFFFFFFFFFFFFFFF, "swapper_pg_dir"))
        if info is not None and info.symbol("_stext") is not None:
            checks.append((info.symbols["_stext"], None, "_stext"))
        for va, pa, what in checks:
            try:
                got = paging.translate(va)
            except SwsuspError as exc:
                return f"{what}: {exc}"
            if pa is not None and got != pa:
                return (
                    f"{what} {va:#x} translates to {got:#x}, the arch record / VMCOREINFO "
                    f"says {pa:#x}"
                )
        return None

    @cached_property
    def paging(self) -> Paging | None:
        info, rec = self.vmcoreinfo, self.arch_record  # VMCOREINFO's error line before arch's
        cands = paging_candidates(self.memory, self.arch, info, rec, page_size=self.image.page_size)
        if not cands:
            if self.arch is not None:
                self._error(
                    "paging", "no page-table root: neither the arch record nor VMCOREINFO gives one"
                )
            return None
        problems = []
        for label, make in cands:
            try:
                paging = make()
            except SwsuspError as exc:
                problems.append(f"{label}: {exc}")
                continue
            bad = self._check_paging(paging)
            if bad is None:
                if problems:
                    self._error("paging", "; ".join(problems) + f" (used {label})")
                return paging
            problems.append(f"{label} ({paging.name}, root {paging.root:#x}): {bad}")
        self._error("paging", "; ".join(problems))
        return None

    @property
    def page_table_root(self) -> int | None:
        return None if self.paging is None else self.paging.root

    @cached_property
    def vm(self) -> VirtualMemory | None:
        return None if self.paging is None else VirtualMemory(self.paging)

    # -- KASLR and symbols
    @cached_property
    def kernel_offset(self) -> int | None:
        info = self.vmcoreinfo
        if info is not None and info.kernel_offset is not None:
            return info.kernel_offset
        sm = self.system_map
        if sm is not None:
            off = kaslr_offset_from_map(sm, self.arch_record)
            if off is not None:
                return off
        # i386 VMCOREINFO has no KERNELOFFSET: only a System.map tells
        return None

    def _kallsyms(self) -> tuple[Kallsyms | None, str]:
        vm, info = self.vm, self.vmcoreinfo
        if vm is None or not self.use_kallsyms:
            return None, ""
        loc: KallsymsLocation | None = None if info is None else kallsyms_location(info)
        how = "kallsyms"
        if loc is None:
            start = self._kernel_text()
            if start is None:
                return None, ""
            loc = self._guard(
                "kallsyms",
                lambda: find_kallsyms(vm, start, KALLSYMS_SEARCH, word_size=vm.word_size),
            )
            how = "kallsyms-structure"
            if loc is None:
                return None, ""
        ks = self._guard("kallsyms", lambda: Kallsyms(vm, loc))
        if ks is None:
            return None, ""
        if info is not None and info.symbol("_stext") is not None:
            got = self._guard("kallsyms", lambda: ks.lookup("_stext"))
            if got != info.symbols["_stext"]:
                self._error(
                    "kallsyms",
                    f"_stext decoded as {got if got is None else hex(got)}"
                    f", VMCOREINFO says {info.symbols['_stext']:#x}: "
                    "table not used",
                )
                return None, ""
        return ks, how

    def _kernel_text(self) -> int | None:
        rec = self.arch_record
        if rec is None:
            return None
        va = rec.jump_address if rec.name in ("x86_64", "i386") else rec.reenter_kernel
        if not va:
            return None
        return int(va) & ~((2 << 20) - 1)

    @cached_property
    def symbols(self) -> KernelSymbols | None:
        ks, how = self._kallsyms()
        sm = self.system_map
        offset = self.kernel_offset or 0
        if ks is not None and sm is not None and sm.get("_text") is not None:
            mine = self._guard("symbols", lambda: ks.lookup("_text"))
            if mine is not None and mine != sm["_text"] + offset:
                self._error(
                    "symbols",
                    f"System.map _text {sm['_text']:#x} + KASLR offset "
                    f"{offset:#x} != kallsyms _text {mine:#x}: the map is "
                    "for another kernel, not used",
                )
                sm = None
        if ks is None and sm is None:
            self._error("symbols", "no kallsyms in the image and no System.map")
            return None
        return KernelSymbols(ks, how, sm, offset)

    @property
    def symbols_source(self) -> str | None:
        return None if self.symbols is None else self.symbols.source

    def lookup(self, name: str) -> int | None:
        """Running address of a kernel symbol, or None."""
        syms = self.symbols
        if syms is None:
            return None
        return self._guard("symbols", lambda: syms.lookup(name))

    def _lookup_or_none(self) -> Callable[[str], int | None] | None:
        return None if self.symbols is None else self.lookup

    # -- memory maps and nosave
    @cached_property
    def e820(self) -> E820Tables | None:
        if self.arch not in ("x86_64", "i386") or self.vm is None:
            return None
        vm, lookup = self.vm, self._lookup_or_none()
        if lookup is None:
            self._error("e820", "no symbols to find the tables")
            return None
        return self._guard("e820", lambda: read_e820_tables(vm, lookup))

    @cached_property
    def memblock(self) -> Memblock | None:
        if self.arch != "arm64" or self.vm is None:
            return None
        vm, lookup = self.vm, self._lookup_or_none()
        if lookup is None:
            self._error("memblock", "no symbols to find memblock")
            return None
        return self._guard("memblock", lambda: read_memblock(vm, lookup))

    @cached_property
    def nosave(self) -> list[tuple[int, int]] | None:
        vm, lookup = self.vm, self._lookup_or_none()
        if vm is None or lookup is None:
            return None
        return self._guard("nosave", lambda: read_nosave_regions(vm, lookup))

    @cached_property
    def e820_checksum_matches(self) -> bool | None:
        """Whether the firmware table the kernel held hashes to the arch record's checksum
        (``compute_e820_crc32()`` / ``get_e820_md5()`` over ``u32 nr_entries`` + entries)."""
        rec, tables = self.arch_record, self.e820
        if rec is None or tables is None:
            return None
        raw = tables.firmware.raw
        if rec.e820_checksum_kind == "crc32" and rec.e820_checksum is not None:
            return zlib.crc32(raw) == rec.e820_checksum
        if rec.e820_checksum_kind == "md5" and rec.e820_digest:
            if not any(rec.e820_digest):
                return None  # all zero: the kernel had no MD5 and saved no digest
            return hashlib.md5(raw).digest() == rec.e820_digest
        return None

    # -- the log
    @cached_property
    def log(self) -> list[LogRecord] | None:
        vm, info = self.vm, self.vmcoreinfo
        if vm is None or info is None:
            if info is None:
                self._error("log", "no VMCOREINFO to describe the log buffer")
            return None
        got = self._guard("log", lambda: read_log(vm, info, self._lookup_or_none()))
        if got is None:
            return None
        records, self.log_format = got
        return records

    def dmesg(self) -> list[str] | None:
        """The log as ``dmesg`` lines (``[seconds.micro] text``), or None."""
        return None if self.log is None else format_dmesg(self.log)

    @property
    def log_records(self) -> int | None:
        return None if self.log is None else len(self.log)

    # -- page flags
    @cached_property
    def page_flags(self) -> PageFlags | None:
        vm, info = self.vm, self.vmcoreinfo
        if vm is None or info is None:
            if info is None:
                self._error("page_flags", "no VMCOREINFO to locate struct page")
            return None
        pfns = np.asarray(self.image.pagedir.pfns, dtype=np.uint64)
        flags = self._guard(
            "page_flags",
            lambda: read_page_flags(
                vm, info, pfns, page_size=self.image.page_size, lookup=self._lookup_or_none()
            ),
        )
        if flags is not None:
            unread = int(np.count_nonzero(~flags.readable))
            if unread:
                self._error(
                    "page_flags",
                    f"struct page of {unread} of {flags.pfns.size} saved "
                    "PFNs not in the image or unmapped",
                )
            if flags.pg_reserved is None:
                self._error("page_flags", f"PG_reserved bit unknown: {flags.pg_reserved_source}")
        return flags

    # -- export
    def read_all(self) -> KernelState:
        """Read every part now (errors included); returns self."""
        for part in (
            "vmcoreinfo",
            "paging",
            "kernel_offset",
            "symbols",
            "e820",
            "memblock",
            "nosave",
            "e820_checksum_matches",
            "log",
            "page_flags",
        ):
            getattr(self, part)
        return self
