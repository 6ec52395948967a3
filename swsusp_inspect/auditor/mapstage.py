"""Stage 2, the map: several maps merged into one, and whether it belongs to the image."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from swsusp_inspect.auditor.notes import finding
from swsusp_inspect.e820 import merge_evidence
from swsusp_inspect.model.checksum import ChecksumVerdict
from swsusp_inspect.model.findings import Finding
from swsusp_inspect.model.report import MapChecksum, MapInfo, MapInput
from swsusp_inspect.model.summary import MapCheck
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


def _checksum_findings(chk: MapCheck, source: str) -> list[Finding]:
    """The verdict as a finding: a firmware table that differs is a warning; a map that is
    not one (iomem: nothing to compare) is an info; the words are the verdict's own."""
    if chk.verdict is ChecksumVerdict.MISMATCH:
        return [
            finding(
                "map-checksum-mismatch",
                f"{source}: {chk.explanation}; the labels may "
                "not describe the machine that wrote this image",
            )
        ]
    if chk.verdict is ChecksumVerdict.UNVERIFIABLE:
        return [finding("map-checksum-unverifiable", f"{source}: {chk.explanation}")]
    return []


def map_stage(image: HibernationImage, maps: Sequence[MemoryMap]) -> MapStage:
    """The map the labels come from and whether it is the image's (e820 checksum)."""
    if not maps:
        return MapStage(None, None, ())
    mm = _merge(maps)
    shift = image.page_size.bit_length() - 1
    chk = check_map(image, mm)
    info = MapInfo(
        mm.source,
        mm.format,
        chk.matches,
        chk.verdict,
        MapChecksum(chk.kind, chk.image_value, chk.map_value, mm.has_checksum),
        tuple(MapInput(m.source, m.format, m.boot_choice) for m in maps),
        len(mm.starts),
        _max_ram_pfn(mm, shift),
    )
    findings = _checksum_findings(chk, mm.source) + _ram_differs(mm, maps)
    return MapStage(mm, info, tuple(findings))
