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

__all__ = [
    "e820_memory_map",
    "image_memory_map",
    "is_image",
    "memblock_memory_map",
    "read_image_map",
]

_HEAD = 1 << 17  # the first 128 KiB hold every signature position (64 KiB pages) and more


def _raw_entries(table: E820Table, source: str) -> list[RawEntry]:
    return [RawEntry(a, z, t, dmesg_name(t), source, None) for a, z, t in table.entries]


def e820_memory_map(
    tables: E820Tables, *, source: str, nosave: list[tuple[int, int]] | None = None
) -> MemoryMap:
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
    return MemoryMap(
        source,
        "image",
        _raw_entries(tables.firmware, source),
        printed=True,
        modified=modified,
        nosave_log=nosave_log,
        has_checksum=True,
    )


def memblock_memory_map(
    mb: Memblock, *, source: str, nosave: list[tuple[int, int]] | None = None
) -> MemoryMap:
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


def _head(path: str) -> bytes:
    """The first bytes of ``path``, decompressed when it is xz, gzip or zstd."""
    import lzma
    import zlib

    from swsusp_inspect.transport import sniff_transport

    with open(path, "rb") as fh:
        raw = fh.read(_HEAD)
    kind = sniff_transport(raw[:8])
    try:
        if kind == "xz":
            return lzma.LZMADecompressor().decompress(raw, max_length=_HEAD)
        if kind == "gzip":
            return zlib.decompressobj(wbits=31).decompress(raw, _HEAD)
        if kind == "zstd":
            import zstandard

            return zstandard.ZstdDecompressor().decompressobj().decompress(raw)[:_HEAD]
    except (lzma.LZMAError, zlib.error, ValueError, EOFError):
        return b""
    except Exception as exc:  # zstandard.ZstdError
        if type(exc).__module__.startswith("zstandard"):
            return b""
        raise
    return raw


def is_image(path: str) -> bool:
    """Whether ``path`` holds a hibernation image (a signature at a page end, TuxOnIce aside,
    or a /dev/snapshot stream), judged from its first bytes."""
    import os

    from swsusp_inspect.formats import signatures, snapshot

    if not os.path.isfile(path):
        return False
    head = _head(path)
    hit = signatures.sniff(head)
    if hit is not None:
        return hit.signature.kind != "swap"
    return snapshot.sniff_stream(head) is not None


def read_image_map(path: str, system_map: object = None) -> MemoryMap:
    """The memory map the kernel that wrote the image at ``path`` held (``map IMAGE``).

    Raises:
        MapError: the kernel's map could not be read from the image (the reason given).
        SwsuspError: the image itself cannot be opened.
    """
    from swsusp_inspect.errors import MapError
    from swsusp_inspect.image import open_image
    from swsusp_inspect.kernel import read_kernel

    with open_image(path) as img:
        state = read_kernel(img, system_map, source=path)  # type: ignore[arg-type]
        mm = image_memory_map(state)
        if mm is None:
            why = next(iter(state.errors), "no e820 tables or memblock in the kernel's memory")
            raise MapError(path, None, f"no memory map in the image's kernel memory: {why}")
        # the map is complete once read: its tables are copies, the image may close
        return mm
