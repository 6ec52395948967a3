"""Stages 4 and 5, evidence and classification: every saved PFN labelled with one numpy pass,
reserved RAM told from normal RAM by the best evidence given.

References:
    include/linux/kernel-page-flags.h ``KPF_RESERVED`` = 32 (kpageflags); iomem's ``Kernel
    code/rodata/data/bss`` and ``Crash kernel``; e820 type 128 (``E820_RESERVED_KERN``).
    See :mod:`swsusp_inspect.classify` for the labels and their precedence.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from swsusp_inspect import classify as cl
from swsusp_inspect.auditor.notes import CANNOT_SEE, agree, finding, plural
from swsusp_inspect.inputs.kpageflags import KPF_RESERVED, KPageFlags, load_kpageflags
from swsusp_inspect.model.findings import Finding, FlagDisagreement
from swsusp_inspect.model.report import KpageflagsStats, ReservedRamEvidence, ReservedRange

if TYPE_CHECKING:
    from swsusp_inspect.auditor.kernelstage import ImageFlags
    from swsusp_inspect.e820 import MemoryMap

__all__ = ["ClassifyStage", "classify_stage"]

KPageFlagsInput = KPageFlags | str | os.PathLike[str]


@dataclass(frozen=True)
class ClassifyStage:
    classification: cl.Classification
    counts: npt.NDArray[np.int64]  # saved PFNs per label code
    by_evidence: dict[str, int]  # reserved-RAM pages by the evidence that says so
    evidence: ReservedRamEvidence
    findings: tuple[Finding, ...]


def _evidence_kind(label: str) -> str:
    return "e820-type-128" if "RESERVED_KERN" in label else "iomem"


def _kinds(range_ev: list[tuple[int, int, str]]) -> str:
    return "+".join(sorted({_evidence_kind(lab) for _, _, lab in range_ev}))


def _load(kpageflags: KPageFlagsInput | None, pfns: np.ndarray) -> KPageFlags | None:
    if kpageflags is None or isinstance(kpageflags, KPageFlags):
        return kpageflags
    limit = int(pfns.max()) + 1 if pfns.size else 1
    return load_kpageflags(kpageflags, limit_pfns=limit)


def _table(
    page_size: int,
    mm: MemoryMap | None,
    nosave: list[tuple[int, int, str]],
    reserved: list[tuple[int, int, str]],
) -> cl.IntervalTable:
    if mm is None:
        return cl.build_table(page_size, nosave=nosave, reserved=reserved)
    return cl.build_table(page_size, mm.starts, mm.ends, mm.types, nosave=nosave, reserved=reserved)


def _mark_kpageflags(
    c: cl.Classification,
    kpf: KPageFlags,
    page_size: int,
    mm: MemoryMap,
    *,
    nosave: list[tuple[int, int, str]],
    range_ev: list[tuple[int, int, str]],
) -> tuple[dict[str, int], KpageflagsStats, list[Finding]]:
    """KPF_RESERVED per covered PFN; the PFNs past the file's end fall back to range evidence."""
    by_evidence: dict[str, int] = {}
    stats = cl.mark_reserved_flags(c, kpf.flags, reserved_bit=KPF_RESERVED)
    if stats.marked:
        by_evidence["kpageflags"] = stats.marked
    beyond = int(c.pfns.size) - stats.covered
    fallback: str | None = None
    if beyond and range_ev:
        fb = _table(page_size, mm, nosave, range_ev)
        cl.relabel_from(c, stats.covered, fb)
        for lab, cnt in cl.evidence_counts(c, fb, stats.covered).items():
            by_evidence[lab] = by_evidence.get(lab, 0) + cnt
        fallback = _kinds(range_ev)
    findings = []
    if beyond:
        findings.append(
            finding(
                "kpageflags-partial",
                f"{plural(beyond, 'saved PFN')} {agree(beyond, 'lies', 'lie')} at or beyond PFN "
                f"{kpf.pfns:#x}, the end of "
                f"{kpf.source}: judged by {fallback or 'nothing (they count as normal)'}",
                pages=beyond,
            )
        )
    info = KpageflagsStats(
        kpf.source, kpf.pfns, stats.covered, stats.reserved, stats.nopage, stats.buddy
    )
    return by_evidence, info, findings


def _mark_image(c: cl.Classification, image: ImageFlags) -> tuple[dict[str, int], list[Finding]]:
    """The kernel's own PG_reserved at the snapshot as the evidence."""
    stats = cl.mark_reserved_mask(c, image.reserved, image.known)
    findings = []
    unknown = image.stats.unreadable
    if unknown:
        findings.append(
            finding(
                "page-flags-partial",
                f"{plural(unknown, 'saved page')} have no struct page in the image: no "
                "reserved-RAM evidence for them (they count as normal)",
                pages=unknown,
            )
        )
    return ({"image page flags": stats.marked} if stats.marked else {}), findings


def _compare_flags(c: cl.Classification, kpf: KPageFlags, image: ImageFlags) -> list[Finding]:
    """KPF_RESERVED of the copy against PG_reserved of the snapshot, page by page."""
    covered = int(np.searchsorted(c.pfns, np.uint64(kpf.pfns)))
    theirs = kpf.bit(c.pfns[:covered], KPF_RESERVED)
    known = image.known[:covered]
    ours = image.reserved[:covered]
    only_kpf = int(np.count_nonzero(theirs & ~ours & known))
    only_image = int(np.count_nonzero(ours & ~theirs & known))
    if not only_kpf + only_image:
        return []
    return [
        finding(
            "kpageflags-differs-from-image",
            f"{plural(only_kpf + only_image, 'saved page')} differ in PG_reserved between "
            f"{kpf.source} ({only_kpf:,} reserved only there) and the image's own page flags "
            f"({only_image:,} only there): reserved or released between the copy and the snapshot",
            pages=only_kpf + only_image,
            details=FlagDisagreement(only_kpf, only_image),
        )
    ]


def _evidence(
    source: str | None,
    files: tuple[str, ...],
    by_evidence: dict[str, int],
    *,
    range_ev: list[tuple[int, int, str]],
    kpf_info: KpageflagsStats | None,
    image: ImageFlags | None,
) -> ReservedRamEvidence:
    cannot = (
        " ".join(CANNOT_SEE.get(part) or "" for part in source.split("+"))
        if source
        else CANNOT_SEE[None]
    )
    return ReservedRamEvidence(
        source,
        files,
        by_evidence,
        tuple(ReservedRange(a, b, lab) for a, b, lab in range_ev),
        kpf_info,
        cannot.strip(),
        image.stats if image is not None else None,
    )


def classify_stage(
    pfns: np.ndarray,
    page_size: int,
    mm: MemoryMap | None,
    nosave: list[tuple[int, int, str]],
    *,
    kpageflags: KPageFlagsInput | None,
    image_flags: Callable[[np.ndarray], ImageFlags | None] | None = None,
    image_path: str = "",
) -> ClassifyStage:
    """Label every saved PFN; reserved-RAM evidence from kpageflags, else the image's own
    page flags, else the map's ranges."""
    range_ev: list[tuple[int, int, str]] = []
    if mm is not None:
        range_ev = [(int(a), int(b), str(lab)) for a, b, lab in mm.reserved_ram_evidence]
    kpf = _load(kpageflags, pfns)
    # the image's own flags, in sorted-PFN order (the directory is sorted once, as classify does)
    sorted_pfns = pfns if cl.is_sorted(pfns) else np.sort(pfns)
    image = image_flags(sorted_pfns) if image_flags is not None and mm is not None else None
    use_image = kpf is None and image is not None
    use_ranges = kpf is None and not use_image and mm is not None
    c = cl.classify(
        sorted_pfns,
        _table(page_size, mm, nosave, range_ev if use_ranges else []),
        assume_sorted=True,
    )
    c = dataclasses.replace(c, input_sorted=sorted_pfns is pfns)
    by_evidence: dict[str, int] = {}
    kpf_info: KpageflagsStats | None = None
    findings: list[Finding] = []
    source: str | None = None
    files: tuple[str, ...] = ()
    if mm is not None and kpf is not None:
        by_evidence, kpf_info, findings = _mark_kpageflags(
            c, kpf, page_size, mm, nosave=nosave, range_ev=range_ev
        )
        source, files = "kpageflags", (kpf.source,)
        if image is not None:
            findings += _compare_flags(c, kpf, image)
    elif use_image:
        assert image is not None
        by_evidence, findings = _mark_image(c, image)
        source, files = "image", (image_path,)
    elif use_ranges:
        by_evidence = cl.evidence_counts(c, c.table)
        if range_ev and mm is not None:
            source, files = _kinds(range_ev), (mm.source,)
    evidence = _evidence(
        source, files, by_evidence, range_ev=range_ev, kpf_info=kpf_info, image=image
    )
    return ClassifyStage(c, c.code_counts(), by_evidence, evidence, tuple(findings))
