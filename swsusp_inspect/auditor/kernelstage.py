"""What the image says about itself: the memory map, nosave list and page flags its own kernel
held (read by :mod:`swsusp_inspect.kernel`), and where the inputs given disagree with them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from swsusp_inspect.auditor.notes import finding, plural
from swsusp_inspect.e820.diff import diff_maps
from swsusp_inspect.e820.image import image_memory_map
from swsusp_inspect.model.findings import ErrorLines, Finding
from swsusp_inspect.model.report import PageFlagsStats

if TYPE_CHECKING:
    from swsusp_inspect.e820 import MemoryMap
    from swsusp_inspect.kernel import KernelState

__all__ = ["ImageFlags", "KernelStage", "image_flags", "kernel_stage"]


@dataclass(frozen=True)
class ImageFlags:
    """``PG_reserved`` of every saved PFN, aligned with the sorted PFNs the audit labels."""

    reserved: npt.NDArray[np.bool_]
    known: npt.NDArray[np.bool_]  # the struct page was read
    stats: PageFlagsStats


@dataclass(frozen=True)
class KernelStage:
    memmap: MemoryMap | None  # the map the image's kernel held (format "image")
    findings: tuple[Finding, ...]


def image_flags(state: KernelState, sorted_pfns: np.ndarray) -> ImageFlags | None:
    """The kernel's own page flags, in the order of ``sorted_pfns`` (the directory sorted)."""
    pf = state.page_flags
    if pf is None or pf.pg_reserved is None or pf.reserved is None:
        return None
    order = np.argsort(pf.pfns, kind="stable")
    if order.size != sorted_pfns.size or not np.array_equal(pf.pfns[order], sorted_pfns):
        return None
    reserved, known = pf.reserved[order], pf.readable[order]
    stats = PageFlagsStats(
        pf.pg_reserved,
        pf.pg_reserved_source,
        pf.memmap,
        int(np.count_nonzero(known)),
        int(np.count_nonzero(reserved & known)),
        int(known.size - np.count_nonzero(known)),
    )
    return ImageFlags(reserved, known, stats)


def _map_differs(given: MemoryMap, mine: MemoryMap) -> list[Finding]:
    """The firmware tables compared when both are firmware tables, else RAM as the kernel saw
    it (iomem and sysfs show the kernel's edited view)."""
    if given.has_checksum and mine.has_checksum:
        d = diff_maps(given, mine)
        if d.same:
            return []
        first = f": {d.changes[0].text}" if d.changes else ""
        return [
            finding(
                "map-differs-from-image",
                f"{given.source} ({given.format}) and the firmware table the image's kernel held "
                f"differ: {plural(len(d.changes), 'change')}{first}; checksum "
                f"{d.checksum.old_crc32:#010x} vs {d.checksum.new_crc32:#010x}",
            )
        ]
    views = [mine.ram_ranges()]
    if mine.modified is not None:
        views.append(mine.modified.ram_ranges())
    if given.ram_ranges() in views:
        return []
    return [
        finding(
            "map-differs-from-image",
            f"RAM in {given.source} ({given.format}) differs from the RAM the image's kernel knew "
            "of: a map of another boot or machine?",
        )
    ]


def _nosave_differs(given: MemoryMap, mine: MemoryMap) -> list[Finding]:
    if given.nosave_log is None or mine.nosave_log is None:
        return []
    theirs, ours = list(given.nosave_log), list(mine.nosave_log)
    if theirs == ours:
        return []
    return [
        finding(
            "nosave-differs-from-image",
            f"the nosave regions of {given.source} ({len(theirs)} ranges) differ from the "
            f"kernel's own nosave_regions list in the image ({len(ours)} ranges)",
        )
    ]


def kernel_stage(state: KernelState, given: MemoryMap | None) -> KernelStage:
    """The image's own map, and its disagreements with the map given."""
    mine = image_memory_map(state)
    findings: list[Finding] = []
    if given is not None and mine is not None:
        findings += _map_differs(given, mine) + _nosave_differs(given, mine)
    return KernelStage(mine, tuple(findings))


def partial_finding(state: KernelState) -> list[Finding]:
    """What of the kernel's memory could not be read (read every part first); nothing for a
    kernel with no VMCOREINFO at all (``info`` says what that costs)."""
    if not state.errors or state.vmcoreinfo is None:
        return []
    return [
        finding(
            "kernel-memory-partial",
            f"{plural(len(state.errors), 'part')} of the kernel's memory could not be read from "
            f"the image: {state.errors[0]}" + (" ..." if len(state.errors) > 1 else ""),
            details=ErrorLines(tuple(state.errors)),
        )
    ]
