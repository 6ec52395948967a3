"""The audit model: findings with PFN ranges, and the Report that feeds JSON, CSV and rich.

Everything here is plain Python data (numbers are ``int``); the only numpy object is the
classification kept (out of ``to_dict()``) for the per-run CSV rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from swsusp_inspect.classify import CODE_LABEL, NORMAL, Classification, runs
from swsusp_inspect.exitcodes import ExitCode
from swsusp_inspect.model import JsonModel

if TYPE_CHECKING:
    from swsusp_inspect.summary import ImageSummary

__all__ = [
    "CSV_HEADER",
    "FINDING_CODES",
    "SEVERITIES",
    "AuditFinding",
    "MapInfo",
    "PfnRange",
    "PfnStats",
    "Report",
    "Strip",
]

SEVERITIES = ("info", "warning", "error")
CSV_HEADER = ("start_pfn", "end_pfn", "pages", "label", "region", "type")

# code -> (severity, one-line meaning); the README table is generated from the same words
FINDING_CODES: dict[str, tuple[str, str]] = {
    "saved-non-ram": ("error", "saved pages that are not RAM in the map (reserved, ACPI, NVS, "
                               "unusable, PMEM, soft-reserved, holes)"),
    "saved-beyond-map": ("error", "saved pages past the last entry of the map"),
    "saved-nosave": ("error", "saved pages inside the kernel's nosave regions"),
    "saved-partly-ram": ("warning", "saved pages only partly covered by RAM"),
    "saved-reserved-ram": ("info", "saved RAM pages that are reserved (counts by evidence)"),
    "pfn-beyond-arch": ("error", "PFNs above the highest PFN the architecture can address"),
    "pfn-duplicate": ("error", "a PFN listed more than once in the directory"),
    "pfn-unsorted": ("error", "the PFN directory is not in ascending order"),
    "map-checksum-mismatch": ("warning", "the map's e820 checksum differs from the image's: "
                                         "the labels may not describe the machine that wrote it"),
    "map-checksum-unverifiable": ("info", "the map is the kernel's view (iomem), not the "
                                          "firmware table: its checksum cannot be compared"),
    "map-ram-differs": ("warning", "the maps given disagree about RAM"),
    "crc32-mismatch": ("error", "--verify: the image CRC32 does not match its data"),
    "chunk-unreadable": ("error", "a data chunk cannot be read or decompressed (found by "
                                  "--verify or by the kernel-banner search)"),
    "verify-incomplete": ("error", "--verify: fewer stream pages than swsusp_info.pages"),
    "kpageflags-partial": ("info", "the kpageflags file does not cover every saved PFN"),
    "system-map-mismatch": ("info", "the System.map is not the image's kernel (x86: no "
                                    "restore_registers at jump_address; arm64: _cpu_resume "
                                    "differs from reenter_kernel)"),
}


@dataclass(frozen=True)
class PfnRange:
    """A contiguous run of saved PFNs inside one map region (``end_pfn`` inclusive)."""

    start_pfn: int
    end_pfn: int
    pages: int
    region: str | None
    type: int | None
    page_size: int = 4096

    @property
    def start_address(self) -> int:
        return self.start_pfn * self.page_size

    @property
    def end_address(self) -> int:
        return (self.end_pfn + 1) * self.page_size - 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "start_pfn": self.start_pfn,
            "end_pfn": self.end_pfn,
            "pages": self.pages,
            "start_address": self.start_address,
            "end_address": self.end_address,
            "region": self.region,
            "type": self.type,
        }


@dataclass(frozen=True)
class AuditFinding:
    """One finding: stable code, severity, words, pages and where they are.

    ``ranges`` may be cut short for display (``ranges_total`` says how many there are).
    """

    severity: str
    code: str
    message: str
    pages: int = 0
    ranges: tuple[PfnRange, ...] = ()
    ranges_total: int = 0
    note: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "pages": self.pages,
            "ranges": [r.to_dict() for r in self.ranges],
            "ranges_total": self.ranges_total,
            "note": self.note,
            "details": self.details,
        }


@dataclass(frozen=True)
class MapInfo:
    """The memory map the labels come from (several inputs are merged into one)."""

    source: str
    format: str
    checksum_matches_image: bool | None
    checksum_kind: str | None
    image_checksum: int | None
    map_checksum: int | None
    checksum_meaningful: bool
    inputs: tuple[tuple[str, str], ...]  # (source, format) of every map given
    regions: int
    max_ram_pfn: int | None  # first PFN after the highest RAM (the kernel's max_pfn)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "checksum_matches_image": self.checksum_matches_image,
            "checksum": {
                "kind": self.checksum_kind,
                "image": self.image_checksum,
                "map": self.map_checksum,
                "meaningful": self.checksum_meaningful,
            },
            "inputs": [{"source": s, "format": f} for s, f in self.inputs],
            "regions": self.regions,
            "max_ram_pfn": self.max_ram_pfn,
        }


@dataclass(frozen=True)
class PfnStats:
    """The PFN directory in numbers."""

    saved: int
    zero: int
    min_pfn: int | None
    max_pfn: int | None
    num_physpages: int
    above_num_physpages: int  # saved PFNs >= num_physpages (normal: it counts pages)
    sorted: bool
    duplicates: int
    arch_limit_pfn: int | None  # first PFN the architecture cannot address

    def to_dict(self) -> dict[str, Any]:
        return {
            "saved": self.saved,
            "zero": self.zero,
            "min_pfn": self.min_pfn,
            "max_pfn": self.max_pfn,
            "num_physpages": self.num_physpages,
            "above_num_physpages": self.above_num_physpages,
            "sorted": self.sorted,
            "duplicates": self.duplicates,
            "arch_limit_pfn": self.arch_limit_pfn,
        }


@dataclass(frozen=True)
class Strip:
    """Saved pages across physical address space, in equal columns (pages per label)."""

    start_pfn: int
    end_pfn: int  # exclusive
    columns: tuple[dict[str, int], ...]  # per column: label -> pages, "saved", "ram_pages"
    bounds: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"start_pfn": self.start_pfn, "end_pfn": self.end_pfn,
                "bounds": list(self.bounds), "columns": list(self.columns)}


@dataclass(frozen=True)
class Report(JsonModel):
    """Everything the audit found about one image; ``to_dict()`` is the JSON document body."""

    image: ImageSummary
    map: MapInfo | None
    evidence: dict[str, Any]
    labels: dict[str, int] | None
    unsafe_pages: int
    findings: tuple[AuditFinding, ...]
    pfn_stats: PfnStats
    strip: Strip | None
    page_size: int
    classification: Classification | None = field(default=None, repr=False, compare=False)

    @property
    def worst_severity(self) -> str | None:
        sev = [SEVERITIES.index(f.severity) for f in self.findings]
        return SEVERITIES[max(sev)] if sev else None

    def exit_code(self, strict: bool = False) -> int:
        """0: no unsafe save and integrity fine; 1: an error finding (``strict``: or a
        warning)."""
        worst = self.worst_severity
        if worst == "error" or (strict and worst == "warning"):
            return ExitCode.FINDINGS
        return ExitCode.OK

    def findings_with(self, code: str) -> list[AuditFinding]:
        return [f for f in self.findings if f.code == code]

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image.to_dict(),
            "map": None if self.map is None else self.map.to_dict(),
            "evidence": self.evidence,
            "labels": self.labels,
            "unsafe_pages": self.unsafe_pages,
            "worst_severity": self.worst_severity,
            "findings": [f.to_dict() for f in self.findings],
            "pfns": self.pfn_stats.to_dict(),
            "strip": None if self.strip is None else self.strip.to_dict(),
        }

    def csv_rows(self) -> Iterator[tuple[int, int, int, str, str, str]]:
        """One row per run of saved PFNs: (start_pfn, end_pfn, pages, label, region, type).

        Runs never cross a map region; without a map the label is empty (unknown) except for
        nosave pages.
        """
        c = self.classification
        if c is None:
            return
        t = c.table
        r = runs(c)
        for i in range(len(r)):
            code = int(r.code[i])
            k = int(r.interval[i])
            a = int(t.area[k])
            area = t.areas[a] if a >= 0 else None
            label = CODE_LABEL[code] if (t.has_map or code != NORMAL) else ""
            yield (int(r.start[i]), int(r.end[i]), int(r.count[i]), label,
                   area.describe() if area else "",
                   "" if area is None or area.type is None else str(area.type))
