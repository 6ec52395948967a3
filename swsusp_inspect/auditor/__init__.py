"""The audit: label every saved PFN, turn the labels into findings, build the Report.

Modules, in pipeline order:
    integrity   the image's summary and what reading it found (checksums, damaged chunks)
    mapstage    maps merged into one; whether it belongs to the image (e820 checksum)
    nosave      the kernel's nosave regions (System.map, the log, the map's rules)
    labelling   reserved-RAM evidence and the numpy classification of every saved PFN
    findings    directory checks, one finding per label, PFN statistics, the strip
    pipeline    :func:`audit`, the stages composed
    notes       the words findings and evidence carry
"""

from __future__ import annotations

from swsusp_inspect.auditor.findings import MAX_RANGES, arch_limit_pfn
from swsusp_inspect.auditor.nosave import without_e820_nosave
from swsusp_inspect.auditor.pipeline import audit

__all__ = ["MAX_RANGES", "arch_limit_pfn", "audit", "without_e820_nosave"]
