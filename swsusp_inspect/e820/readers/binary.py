"""Binary e820 tables: the boot_params zero page and raw ``boot_e820_entry`` arrays.

References:
    arch/x86/include/uapi/asm/bootparam.h (4.12+; ``struct e820entry`` in ``e820_map[]`` before):
    ``__u8 e820_entries`` at 0x1e8, ``struct boot_e820_entry e820_table[E820_MAX_ENTRIES_ZEROPAGE]``
    (128) at 0x2d0, each ``{__u64 addr; __u64 size; __u32 type;} __attribute__((packed))`` (20 B,
    ``BUILD_BUG_ON(sizeof(struct boot_e820_entry) != 20)``); ``setup_header.header`` = "HdrS" at
    0x202.  /sys/kernel/boot_params/data exposes the page (4096 bytes).
    arch/x86/kernel/e820.c ``append_e820_table()``: the kernel rejects an entry whose
    ``addr + size`` wraps, then sanitizes; the firmware table is the sanitized copy.
"""

from __future__ import annotations

from construct import Array, Bytes, ConstructError, Int8ul, Int32ul, Int64ul, Padding, Struct

from swsusp_inspect.e820.model import MemoryMap, RawEntry
from swsusp_inspect.e820.types import dmesg_name
from swsusp_inspect.errors import MapError

__all__ = [
    "BOOT_PARAMS_SIZE",
    "E820_MAX_ENTRIES_ZEROPAGE",
    "boot_e820_entry",
    "boot_params_e820",
    "looks_like_boot_params",
    "read_boot_params",
    "read_e820_raw",
]

E820_MAX_ENTRIES_ZEROPAGE = 128
BOOT_PARAMS_SIZE = 4096

boot_e820_entry = Struct("addr" / Int64ul, "size" / Int64ul, "type" / Int32ul)

# The fields of struct boot_params this reader needs; the rest is skipped by offset.
boot_params_e820 = Struct(
    Padding(0x1E8),
    "e820_entries" / Int8ul,  # 0x1e8
    Padding(0x202 - 0x1E9),
    "header" / Bytes(4),  # 0x202: setup_header.header, "HdrS" when a boot loader filled it
    Padding(0x2D0 - 0x206),
    "e820_table" / Array(E820_MAX_ENTRIES_ZEROPAGE, boot_e820_entry),  # 0x2d0 .. 0xccf
)


def looks_like_boot_params(data: bytes) -> bool:
    return (
        len(data) == BOOT_PARAMS_SIZE
        and data[0x202:0x206] == b"HdrS"
        and data[0x1E8] <= E820_MAX_ENTRIES_ZEROPAGE
    )


def _entries(source: str, table: list[dict[str, int]], base: int) -> list[RawEntry]:
    out = []
    for i, e in enumerate(table):
        addr, size, typ = int(e["addr"]), int(e["size"]), int(e["type"])
        offset = base + 20 * i  # 20 = sizeof(struct boot_e820_entry)
        if size and addr + size - 1 >= 1 << 64:
            raise MapError(
                source,
                None,
                f"e820 entry {i} at {offset:#x}: addr {addr:#x} + size {size:#x} overflows 64 bits",
            )
        out.append(RawEntry(addr, size, typ, dmesg_name(typ), source, None))
    return out


def read_boot_params(source: str, data: bytes) -> MemoryMap:
    """A zero page (``struct boot_params``) into a MemoryMap (format "boot_params")."""
    if len(data) < 0x2D0 + 20 * E820_MAX_ENTRIES_ZEROPAGE:
        raise MapError(
            source, None, f"boot_params: expected {BOOT_PARAMS_SIZE} bytes, got {len(data)}"
        )
    try:
        bp = boot_params_e820.parse(data)
    except ConstructError as exc:
        raise MapError(source, None, f"boot_params: {exc}") from exc
    n = int(bp.e820_entries)
    if n > E820_MAX_ENTRIES_ZEROPAGE:
        raise MapError(
            source, None, f"boot_params at 0x1e8: e820_entries: expected <= 128, got {n:#x}"
        )
    if n == 0:
        raise MapError(source, None, "no memory map: boot_params e820_entries is 0")
    return MemoryMap(source, "boot_params", _entries(source, list(bp.e820_table[:n]), 0x2D0))


def read_e820_raw(source: str, data: bytes) -> MemoryMap:
    """A raw array of 20-byte ``boot_e820_entry`` records (format "e820_raw")."""
    if not data:
        raise MapError(source, None, "no memory map: empty file")
    if len(data) % 20:
        raise MapError(
            source,
            None,
            f"raw e820 table: size {len(data):#x} is not a multiple of "
            "20 (sizeof(struct boot_e820_entry))",
        )
    try:
        table = Array(len(data) // 20, boot_e820_entry).parse(data)
    except ConstructError as exc:
        raise MapError(source, None, f"raw e820 table: {exc}") from exc
    return MemoryMap(source, "e820_raw", _entries(source, list(table), 0))


def build_boot_params(entries: list[tuple[int, int, int]]) -> bytes:
    """A zero page holding ``entries`` (addr, size, type); the rest zero, header "HdrS"."""
    table = [{"addr": a, "size": z, "type": t} for a, z, t in entries]
    table += [{"addr": 0, "size": 0, "type": 0}] * (E820_MAX_ENTRIES_ZEROPAGE - len(table))
    page: bytes = boot_params_e820.build(
        {"e820_entries": len(entries), "header": b"HdrS", "e820_table": table}
    )
    return page + bytes(BOOT_PARAMS_SIZE - len(page))


def build_e820_raw(entries: list[tuple[int, int, int]]) -> bytes:
    """Raw 20-byte records for ``entries`` (addr, size, type)."""
    data: bytes = Array(len(entries), boot_e820_entry).build(
        [{"addr": a, "size": z, "type": t} for a, z, t in entries]
    )
    return data
