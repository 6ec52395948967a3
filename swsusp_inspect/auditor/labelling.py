"""Stages 4 and 5, evidence and classification: every saved PFN labelled with one numpy pass,
reserved RAM told from normal RAM by the best evidence given.

References:
    include/linux/kernel-page-flags.h ``KPF_RESERVED`` = 32 (kpageflags); iomem's ``Kernel
    code/rodata/data/bss`` and ``Crash kernel``; e820 type 128 (``E820_RESERVED_KERN``).
    See :mod:`swsusp_inspect.classify` for the labels and their precedence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from swsusp_inspect import classify as cl
from swsusp_inspect.auditor.notes import CANNOT_SEE, agree, finding, plural
from swsusp_inspect.inputs.kpageflags import KPF_RESERVED, KPageFlags, load_kpageflags
from swsusp_inspect.model.findings import Finding
from swsusp_inspect.model.report import KpageflagsStats, ReservedRamEvidence, ReservedRange

if TYPE_CHECKING:
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


def classify_stage(
    pfns: np.ndarray,
    page_size: int,
    mm: MemoryMap | None,
    nosave: list[tuple[int, int, str]],
    kpageflags: KPageFlagsInput | None,
) -> ClassifyStage:
    """Label every saved PFN; reserved-RAM evidence from kpageflags, else the map's ranges."""
    range_ev: list[tuple[int, int, str]] = []
    if mm is not None:
        range_ev = [(int(a), int(b), str(lab)) for a, b, lab in mm.reserved_ram_evidence]
    kpf = _load(kpageflags, pfns)
    use_ranges = kpf is None and mm is not None
    c = cl.classify(pfns, _table(page_size, mm, nosave, range_ev if use_ranges else []))
    by_evidence: dict[str, int] = {}
    kpf_info: KpageflagsStats | None = None
    findings: list[Finding] = []
    if mm is not None and kpf is not None:
        by_evidence, kpf_info, findings = _mark_kpageflags(c, kpf, page_size, mm, nosave, range_ev)
    elif use_ranges:
        by_evidence = cl.evidence_counts(c, c.table)
    if kpf is not None and mm is not None:
        source: str | None = "kpageflags"
    elif use_ranges and range_ev:
        source = _kinds(range_ev)
    else:
        source = None
    cannot = (
        " ".join(CANNOT_SEE.get(part) or "" for part in source.split("+"))
        if source
        else CANNOT_SEE[None]
    )
    files = (
        (kpf.source,) if source == "kpageflags" and kpf else ((mm.source,) if source and mm else ())
    )
    evidence = ReservedRamEvidence(
        source,
        files,
        by_evidence,
        tuple(ReservedRange(a, b, lab) for a, b, lab in range_ev),
        kpf_info,
        cannot.strip(),
    )
    return ClassifyStage(c, c.code_counts(), by_evidence, evidence, tuple(findings))
