"""Memory maps the hibernated kernel held: the x86 e820 tables and the arm64 memblock regions.

x86 (x86_64 and i386), arch/x86/kernel/e820.c:

4.12 -> now: ``struct e820_table *e820_table, *e820_table_firmware[, *e820_table_kexec]``
    pointers; after ``e820__reallocate_tables()`` (an early initcall) each points at a
    ``kmemdup()`` of exactly ``offsetof(struct e820_table, entries) + 20 * nr_entries`` bytes:
    ``struct e820_table { __u32 nr_entries; struct e820_entry entries[E820_MAX_ENTRIES]; }``
    with packed ``struct e820_entry { u64 addr; u64 size; u32 type; }`` (20 bytes,
    arch/x86/include/asm/e820/types.h).  ``e820_table_firmware`` is the firmware's table (what
    ``BIOS-e820:`` printed and what hibernation hashes into the arch record),
    ``e820_table`` the kernel's edited one, ``e820_table_kexec`` the one given to a kexec'd
    kernel (where the kernel has it).
before 4.12: ``struct e820map e820, e820_saved`` variables (not pointers): ``{__u32 nr_map;
    struct e820entry map[E820_X_MAX];}``, the same bytes; ``e820_saved`` is the firmware's
    table as sanitized at boot, ``e820`` the edited one.

``E820_MAX_ENTRIES`` is ``128 + 3 * MAX_NUMNODES`` (at most 3200 with 1024 nodes); a count
above that is corrupt.

arm64, mm/memblock.c (``CONFIG_ARCH_KEEP_MEMBLOCK``: arm64 keeps ``memblock`` after boot):
``struct memblock { bool bottom_up; phys_addr_t current_limit; struct memblock_type memory;
struct memblock_type reserved; }``, ``struct memblock_type { unsigned long cnt, max;
phys_addr_t total_size; struct memblock_region *regions; char *name; }``, ``struct
memblock_region { phys_addr_t base, size; enum memblock_flags flags; [int nid]; }`` (24 bytes
on 64-bit).  ``memblock`` is a data symbol: kernels without CONFIG_KALLSYMS_ALL (Debian arm64)
need a System.map for it.

The maps layer turns these tables into :class:`swsusp_inspect.e820.MemoryMap` objects with
``format`` ``"image"`` (:mod:`swsusp_inspect.e820.image`):
``raw_entries`` are the firmware table in memory order (so the checksum hashes exactly what
the kernel hashed), ``modified`` the kernel's table, and the nosave list read from the image
takes the place of the log's nosave lines.

References:
    arch/x86/kernel/e820.c (2.6.x -> now), arch/x86/include/asm/e820/types.h (4.12+),
    arch/x86/include/uapi/asm/e820.h (before 4.12); arch/x86/power/hibernate.c
    ``compute_e820_crc32()`` (5.13+) and ``get_e820_md5()`` (4.9/4.10 -> 5.12);
    include/linux/memblock.h, mm/memblock.c (4.x -> now).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from swsusp_inspect.kernel.memory import KernelDataError
from swsusp_inspect.kernel.pagetables import VirtualMemory

__all__ = [
    "E820_MAX_ENTRIES",
    "E820Table",
    "E820Tables",
    "Memblock",
    "MemblockRegion",
    "read_e820_table",
    "read_e820_tables",
    "read_memblock",
]

E820_MAX_ENTRIES = 128 + 3 * 1024
_ENTRY = struct.Struct("<QQI")  # 20 = addr (u64) + size (u64) + type (u32), packed


@dataclass(frozen=True)
class E820Table:
    """One e820 table as it sat in the kernel's memory.

    Attributes:
        name: the kernel variable (``e820_table_firmware``, ``e820_table``, ``e820_saved``...).
        address: virtual address of the table (the ``struct e820_table`` itself).
        entries: ``(addr, size, type)`` in memory order.
        raw: the ``4 + 20 * nr_entries`` bytes the kernel hashes.
    """

    name: str
    address: int
    entries: tuple[tuple[int, int, int], ...]
    raw: bytes

    @property
    def crc32(self) -> int:
        """``compute_e820_crc32()`` of this table (5.13+): zlib's CRC-32 of :attr:`raw`."""
        return zlib.crc32(self.raw)


@dataclass(frozen=True)
class E820Tables:
    """The x86 kernel's e820 tables; ``era`` is ``"pointer"`` (4.12+) or ``"struct"``."""

    firmware: E820Table
    kernel: E820Table | None
    kexec: E820Table | None
    era: str


def read_e820_table(vm: VirtualMemory, address: int, name: str) -> E820Table:
    """Read a ``struct e820_table`` (or ``struct e820map``) at virtual ``address``.

    Raises:
        KernelDataError: ``nr_entries`` above ``E820_MAX_ENTRIES``, or an entry that wraps.
        KernelMemoryError: the table is not in the image.
    """
    n = vm.read_u32(address, name)
    if n > E820_MAX_ENTRIES:
        raise KernelDataError(name, address, "nr_entries", f"<= {E820_MAX_ENTRIES}", n)
    raw = vm.read(address, 4 + _ENTRY.size * n, name)
    entries = tuple(_ENTRY.iter_unpack(raw[4:]))
    for i, (a, z, _t) in enumerate(entries):
        if z and a + z - 1 >= 1 << 64:
            raise KernelDataError(
                name,
                address + 4 + 20 * i,
                f"entries[{i}]",
                "addr + size below 2^64",
                f"{a:#x} + {z:#x}",
            )
    return E820Table(name, address, entries, raw)


def read_e820_tables(vm: VirtualMemory, lookup: Callable[[str], int | None]) -> E820Tables:
    """The firmware, kernel and kexec e820 tables, by symbol.

    Raises:
        KernelDataError: neither era's symbols resolve, or a table is corrupt.
        KernelMemoryError: a table is not in the image.
    """
    fw_ptr = lookup("e820_table_firmware")
    if fw_ptr is not None:

        def table(sym: str) -> E820Table | None:
            at = lookup(sym)
            if at is None:
                return None
            return read_e820_table(vm, vm.read_word(at, sym), sym)

        firmware = table("e820_table_firmware")
        assert firmware is not None
        return E820Tables(firmware, table("e820_table"), table("e820_table_kexec"), "pointer")
    saved = lookup("e820_saved")
    if saved is not None:
        kernel_at = lookup("e820")
        return E820Tables(
            read_e820_table(vm, saved, "e820_saved"),
            None if kernel_at is None else read_e820_table(vm, kernel_at, "e820"),
            None,
            "struct",
        )
    raise KernelDataError(
        "e820 tables",
        None,
        "symbols",
        "e820_table_firmware (4.12+) or e820_saved (before 4.12)",
        "neither (kallsyms without data symbols needs a System.map)",
    )


# -- arm64 memblock ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MemblockRegion:
    base: int
    size: int
    flags: int


@dataclass(frozen=True)
class Memblock:
    """``memblock.memory`` and ``memblock.reserved`` as the kernel kept them."""

    address: int
    memory: tuple[MemblockRegion, ...]
    reserved: tuple[MemblockRegion, ...]


MAX_MEMBLOCK_REGIONS = 1 << 16


def _memblock_type(
    vm: VirtualMemory, at: int, what: str, region_size: int
) -> tuple[MemblockRegion, ...]:
    w = vm.word_size
    cnt = vm.read_word(at, what)
    mx = vm.read_word(at + w, what)
    regions = vm.read_word(at + 3 * w, what)
    if not cnt <= mx <= MAX_MEMBLOCK_REGIONS:
        raise KernelDataError(
            what, at, "cnt / max", f"cnt <= max <= {MAX_MEMBLOCK_REGIONS}", f"{cnt} / {mx}"
        )
    raw = vm.read(regions, region_size * cnt, f"{what}.regions")
    out = []
    for i in range(cnt):
        base, size, flags = struct.unpack_from("<QQI", raw, i * region_size)
        out.append(MemblockRegion(base, size, flags))
    return tuple(out)


def read_memblock(vm: VirtualMemory, lookup: Callable[[str], int | None]) -> Memblock:
    """arm64 (64-bit) ``memblock``: memory and reserved regions.

    Raises:
        KernelDataError: no ``memblock`` symbol, or counts the kernel could not have.
    """
    at = lookup("memblock")
    if at is None:
        raise KernelDataError(
            "memblock",
            None,
            "symbol",
            "memblock",
            "absent (kallsyms without data symbols needs a System.map)",
        )
    if vm.word_size != 8:
        raise KernelDataError("memblock", at, "word size", 8, vm.word_size)
    # bool bottom_up (padded to 8), phys_addr_t current_limit, then two 40-byte memblock_type
    memory = _memblock_type(vm, at + 16, "memblock.memory", 24)
    reserved = _memblock_type(vm, at + 56, "memblock.reserved", 24)
    return Memblock(at, memory, reserved)
