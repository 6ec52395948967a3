"""The audit as a pipeline of named stages, each returning its typed piece of the report.

    integrity -> map -> nosave -> evidence + classify -> findings -> Report

Typical use::

    from swsusp_inspect import audit, load_memory_map, open_image

    with open_image("swap.img.xz") as img:
        report = audit(img, maps=[load_memory_map("dmesg.txt")], kpageflags="kpageflags.bin")
    report.labels, report.unsafe_pages, report.exit_code()
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from swsusp_inspect import classify as cl
from swsusp_inspect.auditor.findings import (
    directory_findings,
    label_counts,
    label_findings,
    pfn_stats,
    strip_model,
    strip_start,
)
from swsusp_inspect.auditor.integrity import integrity_stage
from swsusp_inspect.auditor.kernelstage import (
    KernelStage,
    image_flags,
    kernel_stage,
    partial_finding,
)
from swsusp_inspect.auditor.labelling import ClassifyStage, KPageFlagsInput, classify_stage
from swsusp_inspect.auditor.mapstage import MapStage, map_stage
from swsusp_inspect.auditor.nosave import NosaveStage, nosave_stage
from swsusp_inspect.auditor.notes import finding
from swsusp_inspect.kernel import KernelState, read_kernel
from swsusp_inspect.model.report import Evidence, NonRamEvidence, Report

if TYPE_CHECKING:
    from swsusp_inspect.e820 import MemoryMap
    from swsusp_inspect.image import HibernationImage
    from swsusp_inspect.inputs.system_map import SystemMap

__all__ = ["audit"]


def _min_ram_pfn(mm: MemoryMap, page_size: int) -> int:
    """The first PFN of RAM in the map."""
    ram = mm.starts[mm.ram_mask]
    return int(ram.min()) // page_size if ram.size else 1 << 62


def _maps(
    image: HibernationImage, map_list: list[MemoryMap], kernel: KernelState | None
) -> tuple[MapStage, KernelStage | None]:
    """The map stage over the maps given, else over the map the image's own kernel held."""
    mapped = map_stage(image, map_list)
    own = kernel_stage(kernel, mapped.memmap) if kernel is not None else None
    if not map_list and own is not None and own.memmap is not None:
        mapped = map_stage(image, [own.memmap])
        mapped = dataclasses.replace(
            mapped,
            findings=(
                *mapped.findings,
                finding(
                    "map-from-image",
                    "no --map given: the labels rest on the memory map the image's own kernel held "
                    f"({own.memmap.source}, format image)",
                ),
            ),
        )
    return mapped, own


def _evidence(mapped: MapStage, nosave: NosaveStage, labelled: ClassifyStage) -> Evidence:
    mm = mapped.memmap
    return Evidence(
        reserved_non_ram=None
        if mapped.info is None or mm is None
        else NonRamEvidence(
            mm.source,
            mm.format,
            mapped.info.inputs,
            "pages not fully covered by RAM entries (types 1 and 128) of the map",
        ),
        nosave=nosave.evidence,
        reserved_ram=labelled.evidence,
        normal="RAM per the map, outside nosave, not reserved per the evidence given"
        if mm is not None
        else None,
    )


def audit(
    image: HibernationImage,
    *,
    maps: Sequence[MemoryMap] | MemoryMap | None = None,
    kpageflags: KPageFlagsInput | None = None,
    system_map: SystemMap | None = None,
    verify: bool = False,
    nosave_rules: str | None = None,
    strip_width: int = 64,
    progress: Any = None,
    use_image: bool = True,
    kernel: KernelState | None = None,
) -> Report:
    """Audit an opened image.

    Args:
        image: from :func:`swsusp_inspect.open_image`.
        maps: memory maps of the machine (several are merged: the firmware table from the best
            source, reserved-RAM evidence from all).  None: no labels, only map-free checks.
        kpageflags: a ``/proc/kpageflags`` copy (object or path): reserved-RAM evidence.
        system_map: the kernel's System.map: the ``.data..nosave`` section.
        verify: read and decompress every chunk, check the CRC32.
        nosave_rules: derive nosave from the map with "pre-2025" or "post-2025" rules instead
            of taking the log's ``Registered nosave memory`` lines (default: the log when it has
            them, else "post-2025").
        strip_width: columns of the address-space strip.
        progress: callable advanced by pages read while verifying.
        use_image: read what the image's own kernel held (its memory map, nosave list and
            page flags): the audit's map and evidence when none is given, and a check of
            those given.  False: the inputs given only.
        kernel: the image's kernel memory (:func:`swsusp_inspect.kernel.read_kernel`), when
            the caller has read it already.

    Raises:
        FormatError: the image's headers or PFN directory cannot be read, or the kpageflags
            file is malformed.
    """
    map_list = [maps] if maps is not None and not isinstance(maps, Sequence) else list(maps or [])
    n = image.page_size
    if kernel is None and use_image:
        kernel = read_kernel(image, system_map, source=image.path)
    integrity = integrity_stage(
        image, verify=verify, system_map=system_map, maps=map_list, progress=progress, kernel=kernel
    )
    mapped, own = _maps(image, map_list, kernel)
    mm = mapped.memmap
    nosave = nosave_stage(image, mm, system_map, nosave_rules)
    pd = image.pagedir
    labelled = classify_stage(
        pd.pfns,
        n,
        mm,
        list(nosave.ranges),
        kpageflags=kpageflags,
        image_flags=(lambda p: image_flags(kernel, p)) if kernel is not None else None,
        image_path=image.path,
    )
    c = labelled.classification
    arch = image.info.arch
    dir_findings, dup_count, limit_pfn = directory_findings(
        pd.pfns, c, arch.name if arch else None, image.word_size, n
    )
    map_end = int(mm.ends.max()) if mm is not None and mm.ends.size else 0
    findings = (
        *integrity.findings,
        *mapped.findings,
        *nosave.findings,
        *labelled.findings,
        *(own.findings if own is not None else ()),
        *(partial_finding(kernel) if kernel is not None else ()),
        *dir_findings,
        *label_findings(c, labelled.counts, labelled.by_evidence, map_end),
    )
    evidence = _evidence(mapped, nosave, labelled)
    counts = labelled.counts
    top = max(
        int(c.pfns[-1]) + 1 if c.pfns.size else 0,
        (mapped.info.max_ram_pfn or 0) if mapped.info else 0,
    )
    low = min(int(c.pfns[0]) if c.pfns.size else top, _min_ram_pfn(mm, n) if mm else top)
    return Report(
        image=integrity.summary,
        map=mapped.info,
        evidence=evidence,
        labels=label_counts(counts) if c.table.has_map else None,
        unsafe_pages=int(counts[cl.NON_RAM] + counts[cl.BEYOND_MAP] + counts[cl.NOSAVE]),
        findings=findings,
        pfn_stats=pfn_stats(c, pd.zero_pages, image.info.num_physpages, dup_count, limit_pfn),
        strip=strip_model(c, strip_start(low, top), top, strip_width) if top else None,
        page_size=n,
        classification=c,
    )
