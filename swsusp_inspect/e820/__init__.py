"""Memory maps: e820 tables from logs, /proc/iomem, sysfs, binary tables and JSON; the kernel's
sanitizing, nosave rules and the hibernation e820 checksum.

Typical use::

    from swsusp_inspect.e820 import load_memory_map
    m = load_memory_map("dmesg.txt")
    m.checksum_crc32(), m.nosave_ranges()

Several maps for one image combine with :func:`merge_evidence`: the firmware map, the edits and
the nosave lines come from the log (or the first map that has them), the reserved-RAM evidence
from every map (iomem's ``Kernel code``/``Crash kernel``, e820 RESERVED_KERN).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from swsusp_inspect.e820.boots import choose_boot
from swsusp_inspect.e820.diff import Change, MapDiff, diff_maps
from swsusp_inspect.e820.model import Finding, MemoryMap, RawEntry, Region, ReservedRam
from swsusp_inspect.e820.nosave import RULES, NosaveMatch
from swsusp_inspect.e820.readers import FORMATS as _FILE_FORMATS
from swsusp_inspect.e820.readers import load as _load
from swsusp_inspect.e820.sanitize import sanitize
from swsusp_inspect.e820.types import E820Type, dmesg_name, iomem_name
from swsusp_inspect.errors import MapError
from swsusp_inspect.model.findings import Severity

# --map-format values: every file reader, and "image" (the map the image's own kernel held)
FORMATS = (*_FILE_FORMATS, "image")

__all__ = [
    "FORMATS",
    "RULES",
    "Change",
    "E820Type",
    "Finding",
    "MapDiff",
    "MemoryMap",
    "NosaveMatch",
    "RawEntry",
    "Region",
    "ReservedRam",
    "choose_boot",
    "diff_maps",
    "dmesg_name",
    "iomem_name",
    "load_memory_map",
    "merge_evidence",
    "sanitize",
]

# the sources whose table is the firmware table the kernel hashed, best first
_FIRMWARE_RANK = {
    "dmesg": 0,
    "json": 1,
    "boot_params": 2,
    "e820_raw": 3,
    "sysfs": 4,
    "iomem": 5,
    "node-ranges": 6,
}


def load_memory_map(path: str | Path, fmt: str | None = None, boot: int | None = None) -> MemoryMap:
    """Read a memory map from a file or directory.

    Args:
        path: a kernel log, /proc/iomem text, /sys/firmware/memmap (directory, tar or
            ``grep .`` output), a boot_params page, a raw e820 table, this project's JSON, or
            a hibernation image (the map its own kernel held).
        fmt: force a reader (one of :data:`FORMATS`); None sniffs the content.
        boot: for logs holding several boots, which one (1-based; -1 is the last).

    Raises:
        MapError: the input holds no map or a line cannot be read (names file and line).
    """
    from swsusp_inspect.e820.image import is_image, read_image_map

    if fmt == "image" or (fmt is None and is_image(str(path))):
        return read_image_map(str(path))
    return _load(path, fmt, boot)


def merge_evidence(maps: Sequence[MemoryMap]) -> MemoryMap:
    """Combine several maps of one machine and boot into one.

    The firmware table, edits and nosave lines come from the best source (a log before JSON,
    binary tables, sysfs and iomem); reserved-RAM evidence and findings from all of them.  A
    finding notes when the RAM of two maps differs.
    """
    if not maps:
        raise MapError("<none>", None, "no maps to merge")
    ranked = sorted(maps, key=lambda m: _FIRMWARE_RANK.get(m.format, 9))
    best = ranked[0]
    nosave = next((m for m in ranked if m.nosave_log is not None), None)
    findings = list(best.findings)
    evidence = list(best.reserved_ram_evidence)
    for other in ranked[1:]:
        evidence += [r for r in other.reserved_ram_evidence if r not in evidence]
        if other.ram_ranges() != best.ram_ranges():
            findings.append(
                Finding(
                    Severity.WARNING,
                    "ram-differs",
                    f"RAM in {other.source} ({other.format}) differs from {best.source} "
                    f"({best.format})",
                )
            )
    merged = MemoryMap(
        best.source,
        best.format,
        best.raw_entries,
        printed=best._printed,
        modified=best.modified,
        nosave_log=nosave._nosave_log if nosave is not None else None,
        reserved_ram_evidence=evidence,
        boot=best.boot,
        boots=best.boots,
        has_checksum=best._has_checksum,
    )
    merged.findings = findings + [f for f in merged.findings if f not in findings]
    if best.boot_reason is not None:
        merged.set_boots(best.boot_reason, given=best.boot_given)
    return merged
