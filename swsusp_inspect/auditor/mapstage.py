"""Stage 2, the map: several maps merged into one, and whether it belongs to the image."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from swsusp_inspect.auditor.notes import finding
from swsusp_inspect.e820 import merge_evidence
from swsusp_inspect.model.findings import Finding
from swsusp_inspect.model.report import MapChecksum, MapInfo, MapInput
from swsusp_inspect.summary import check_map

if TYPE_CHECKING:
    from swsusp_inspect.e820 import MemoryMap
    from swsusp_inspect.image import HibernationImage

__all__ = ["MapStage", "map_stage"]


@dataclass(frozen=True)
class MapStage:
    memmap: MemoryMap | None  # the merged map, None without maps
    info: MapInfo | None
    findings: tuple[Finding, ...]


def _merge(maps: Sequence[MemoryMap]) -> MemoryMap:
    if len(maps) == 1:
        return maps[0]
    return merge_evidence(list(maps))


def _ram_differs(best: MemoryMap, maps: Sequence[MemoryMap]) -> list[Finding]:
    """Maps whose RAM differs from the chosen one's, both as the firmware printed it and as the
    kernel edited it (iomem and sysfs show the edited view: page 0 reserved, ...)."""
    views = [best.ram_ranges()]
    if best.modified is not None:
        views.append(best.modified.ram_ranges())
    out = []
    for m in maps:
        if m.source == best.source and m.format == best.format:
            continue
        if m.ram_ranges() not in views:
            out.append(
                finding(
                    "map-ram-differs",
                    f"RAM in {m.source} ({m.format}) differs from {best.source} ({best.format}), "
                    "also from its kernel-edited table: are they from the same machine and boot?",
                )
            )
    return out


def _max_ram_pfn(m: MemoryMap, shift: int) -> int | None:
    ram = m.ram_mask
    if not np.any(ram):
        return None
    return (int(m.ends[ram].max()) + 1) >> shift


def map_stage(image: HibernationImage, maps: Sequence[MemoryMap]) -> MapStage:
    """The map the labels come from; a checksum that differs from the image's is a warning
    (a firmware table) or an info (the kernel's view, iomem: nothing to compare)."""
    if not maps:
        return MapStage(None, None, ())
    mm = _merge(maps)
    shift = image.page_size.bit_length() - 1
    chk = check_map(image, mm)
    meaningful = mm.has_checksum
    info = MapInfo(
        mm.source,
        mm.format,
        chk.matches,
        MapChecksum(chk.kind, chk.image_value, chk.map_value, meaningful),
        tuple(MapInput(m.source, m.format) for m in maps),
        len(mm.starts),
        _max_ram_pfn(mm, shift),
    )
    findings: list[Finding] = []
    if chk.matches is False:
        if meaningful:
            findings.append(
                finding(
                    "map-checksum-mismatch",
                    f"the map's e820 {chk.kind} {chk.map_value:#x} differs from the image's "
                    f"{chk.image_value:#x}: the labels may not describe the machine that wrote "
                    "this image",
                )
            )
        else:
            findings.append(
                finding(
                    "map-checksum-unverifiable",
                    f"{mm.source} ({mm.format}) is the kernel's view, not the firmware table: its "
                    "checksum cannot be compared with the image's; give the boot log to check "
                    "that the map belongs to this image",
                )
            )
    findings += _ram_differs(mm, maps)
    return MapStage(mm, info, tuple(findings))
