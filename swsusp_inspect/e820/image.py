"""Memory maps the hibernated kernel held, read out of the image (``map IMAGE``, the audit
from the image alone): the x86 e820 tables or arm64's memblock as :class:`MemoryMap` objects
of format ``"image"``.

References:
    arch/x86/kernel/e820.c (``e820_table_firmware``, ``e820_table``); mm/memblock.c; kernel/
    power/snapshot.c (``nosave_regions``); read by :mod:`swsusp_inspect.kernel`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from swsusp_inspect.e820.model import MemoryMap, NosaveLog, RawEntry
from swsusp_inspect.e820.types import dmesg_name

if TYPE_CHECKING:
    from swsusp_inspect.kernel import KernelState
    from swsusp_inspect.kernel.memmap import E820Table, E820Tables, Memblock

__all__ = ["e820_memory_map", "image_memory_map", "memblock_memory_map"]


def _raw_entries(table: E820Table, source: str) -> list[RawEntry]:
    return [RawEntry(a, z, t, dmesg_name(t), source, None) for a, z, t in table.entries]


def e820_memory_map(tables: E820Tables, *, source: str,
                    nosave: list[tuple[int, int]] | None = None) -> MemoryMap:
    """A :class:`MemoryMap` (format ``"image"``) of the tables.

    Args:
        tables: the tables read from the image.
        source: what to name as the map's source (e.g. the image path).
        nosave: the kernel's nosave regions, ``(start_pfn, end_pfn inclusive)`` (the
            ``nosave_regions`` list, already merged by the kernel), or None.
    """
    modified = None
    if tables.kernel is not None:
        modified = MemoryMap(source, "image", _raw_entries(tables.kernel, source), printed=True)
    nosave_log = None if nosave is None else NosaveLog(None, tuple(nosave), "registered")
    return MemoryMap(source, "image", _raw_entries(tables.firmware, source), printed=True,
                     modified=modified, nosave_log=nosave_log, has_checksum=True)


def memblock_memory_map(mb: Memblock, *, source: str,
                        nosave: list[tuple[int, int]] | None = None) -> MemoryMap:
    """A :class:`MemoryMap` (format ``"image"``) whose RAM is ``memblock.memory``.

    arm64 has no firmware table checksum: ``has_checksum`` is False.
    """
    raw = [RawEntry(r.base, r.size, 1, dmesg_name(1), source, None) for r in mb.memory]
    nosave_log = None if nosave is None else NosaveLog(None, tuple(nosave), "registered")
    return MemoryMap(source, "image", raw, nosave_log=nosave_log, has_checksum=False)


def image_memory_map(state: KernelState) -> MemoryMap | None:
    """The map the image's kernel held (e820 on x86, memblock on arm64), with the nosave
    regions it registered; None when neither could be read (``state.errors`` says why)."""
    source = state.source
    if state.e820 is not None:
        return e820_memory_map(state.e820, source=source, nosave=state.nosave)
    if state.memblock is not None:
        return memblock_memory_map(state.memblock, source=source, nosave=state.nosave)
    return None
