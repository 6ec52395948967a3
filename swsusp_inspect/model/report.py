"""The audit document: labels, evidence, findings, PFN statistics and the address-space strip,
and a batch's rows."""

from __future__ import annotations

from typing import Any

from swsusp_inspect.exitcodes import ExitCode
from swsusp_inspect.model.checksum import BootChoice, ChecksumVerdict
from swsusp_inspect.model.findings import Finding, Severity
from swsusp_inspect.model.serialize import JsonModel, json_field, record
from swsusp_inspect.model.summary import ImageSummary

__all__ = [
    "BatchDocument",
    "BatchInputs",
    "BatchRow",
    "BatchSummary",
    "Evidence",
    "IgnoredInput",
    "KpageflagsStats",
    "LabelCounts",
    "MapChecksum",
    "MapInfo",
    "MapInput",
    "NonRamEvidence",
    "NosaveEvidence",
    "PageFlagsStats",
    "PfnSpan",
    "PfnStats",
    "Report",
    "ReservedRamEvidence",
    "ReservedRange",
    "SkippedFiles",
    "Strip",
    "StripColumn",
]


@record
class PfnSpan:
    """PFNs ``start_pfn..end_pfn`` (inclusive)."""

    start_pfn: int
    end_pfn: int


@record
class MapInput:
    source: str
    format: str
    boot: BootChoice | None = None  # the boot read from a log of several, and why


@record
class MapChecksum:
    kind: str | None  # "crc32" | "md5" | None
    image: int | None
    map: int | None
    meaningful: bool  # False for iomem and node ranges (the kernel's view)


@record
class MapInfo:
    """The memory map the labels come from (several inputs are merged into one)."""

    source: str
    format: str
    checksum_matches_image: bool | None  # None unless the verdict is match or mismatch
    checksum_verdict: ChecksumVerdict  # the same verdict `info --map` and `map diff` give
    checksum: MapChecksum
    inputs: tuple[MapInput, ...]
    regions: int
    max_ram_pfn: int | None  # first PFN after the highest RAM (the kernel's max_pfn)


@record
class NonRamEvidence:
    map: str
    format: str
    inputs: tuple[MapInput, ...]
    what: str


@record
class NosaveEvidence:
    source: str  # "System.map", "log", "pre-2025 rules", "post-2025 rules", "none"
    file: str
    what: str
    usable: bool
    ranges: tuple[PfnSpan, ...]


@record
class ReservedRange:
    """Reserved-RAM evidence from a map: ``start..end`` (inclusive bytes) and its label."""

    start: int
    end: int
    label: str


@record
class KpageflagsStats:
    file: str
    pfns: int  # PFNs the file covers
    covered: int  # saved PFNs it covers
    reserved: int
    nopage: int
    buddy: int


@record
class PageFlagsStats:
    """The kernel's own ``page->flags`` of the saved pages, read from the image."""

    pg_reserved: int | None  # the PG_reserved bit number of this kernel
    bit_source: str  # how the bit number was established (BTF, VMCOREINFO)
    memmap: str  # how struct pages were found: "vmemmap", "sparse", "flat"
    covered: int  # saved PFNs whose struct page was read
    reserved: int  # ... with PG_reserved set
    unreadable: int  # saved PFNs whose struct page is not in the image


@record
class ReservedRamEvidence:
    source: str | None  # "kpageflags", "image", "iomem", "e820-type-128", ..., None
    files: tuple[str, ...]
    pages_by_evidence: dict[str, int]
    ranges: tuple[ReservedRange, ...]
    kpageflags: KpageflagsStats | None
    cannot_see: str
    page_flags: PageFlagsStats | None = json_field(default=None, omit="none")


@record
class Evidence:
    """What each label rests on."""

    reserved_non_ram: NonRamEvidence | None = json_field(name="reserved-non-ram")
    nosave: tuple[NosaveEvidence, ...]
    reserved_ram: ReservedRamEvidence = json_field(name="reserved-ram")
    normal: str | None


@record
class LabelCounts:
    """Saved pages per label."""

    normal: int
    reserved_ram: int = json_field(name="reserved-ram")
    reserved_non_ram: int = json_field(name="reserved-non-ram")
    nosave: int

    def items(self) -> list[tuple[str, int]]:
        return [
            ("normal", self.normal),
            ("reserved-ram", self.reserved_ram),
            ("reserved-non-ram", self.reserved_non_ram),
            ("nosave", self.nosave),
        ]


@record
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


@record
class StripColumn:
    """One column of the strip: pages per label, saved pages, RAM pages."""

    normal: int
    reserved_ram: int = json_field(name="reserved-ram")
    reserved_non_ram: int = json_field(name="reserved-non-ram")
    nosave: int
    saved: int
    ram_pages: int

    def label(self, name: str) -> int:
        return {
            "normal": self.normal,
            "reserved-ram": self.reserved_ram,
            "reserved-non-ram": self.reserved_non_ram,
            "nosave": self.nosave,
        }[name]


@record
class Strip:
    """Saved pages across physical address space, in equal columns."""

    start_pfn: int
    end_pfn: int  # exclusive
    bounds: tuple[int, ...]
    columns: tuple[StripColumn, ...]


def worst_of(findings: tuple[Finding, ...]) -> Severity | None:
    return max((f.severity for f in findings), key=lambda s: s.rank, default=None)


@record(kw_only=True)
class Report(JsonModel):
    """Everything the audit found about one image (the ``audit --json`` document).

    ``classification`` (per-PFN label codes, numpy) is kept out of the JSON; the CSV rows and
    the library use it.
    """

    image: ImageSummary
    map: MapInfo | None
    evidence: Evidence
    labels: LabelCounts | None
    unsafe_pages: int
    worst_severity: Severity | None = json_field(init=False, default=None)
    findings: tuple[Finding, ...]
    pfn_stats: PfnStats = json_field(name="pfns")
    strip: Strip | None
    page_size: int = json_field(skip=True)
    classification: Any = json_field(default=None, skip=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "worst_severity", worst_of(self.findings))

    def exit_code(self, strict: bool = False) -> ExitCode:
        """0: no unsafe save and integrity fine; 1: an error finding (``strict``: or a
        warning)."""
        worst = self.worst_severity
        if worst is Severity.ERROR or (strict and worst is Severity.WARNING):
            return ExitCode.FINDINGS
        return ExitCode.OK

    def findings_with(self, code: str) -> list[Finding]:
        return [f for f in self.findings if f.code == code]


@record
class IgnoredInput:
    """A sidecar found by its name that could not be read as what its name says."""

    file: str
    error: str


@record
class BatchInputs:
    """The files a batch row's audit used, and where its maps came from."""

    maps: tuple[str, ...]
    kpageflags: str | None
    system_map: str | None
    resume_offset: int | None = json_field(default=None, omit="none")
    page_offset: int | None = json_field(default=None, omit="none")
    map_source: str = "none"  # "option" (--map), "manifest", "sidecar" or "none"
    ignored: tuple[IgnoredInput, ...] = ()  # sidecars that could not be read (not used)


@record
class FailedAudit:
    """The audit keys of a row whose image could not be audited."""

    image: None = None
    map: None = None
    evidence: None = None
    labels: None = None
    unsafe_pages: None = None
    findings: tuple[Finding, ...] = ()


@record(kw_only=True)
class BatchRow(JsonModel):
    """One image of a batch: its audit (as ``audit --json``) or its error."""

    report: Report | FailedAudit = json_field(flatten=True)
    path: str
    error: str | None
    exit_code: int
    inputs: BatchInputs

    @property
    def has_map(self) -> bool:
        return isinstance(self.report, Report) and self.report.map is not None


@record
class SkippedFiles:
    """Files of the directories searched that were not taken as images (by content)."""

    not_images: int = 0  # logs, archives, configs, sidecars: no hibernation image inside
    plain_swap_areas: int = 0  # a swap signature and no image (resumed, or never written)
    unreadable: int = 0  # could not be opened or read

    @property
    def total(self) -> int:
        return self.not_images + self.plain_swap_areas + self.unreadable


@record
class BatchSummary:
    """The batch in numbers: exit codes, images without a map, files skipped."""

    images: int
    ok: int  # exit code 0
    unsafe: int  # exit code 1
    errors: int  # exit code 2 or 3
    without_map: int  # audited without any memory map: no labels, unsafe saves not checked
    worst_exit_code: int
    skipped: SkippedFiles

    @classmethod
    def of(cls, rows: list[BatchRow], skipped: SkippedFiles) -> BatchSummary:
        codes = [r.exit_code for r in rows]
        return cls(
            len(rows),
            codes.count(0),
            codes.count(1),
            sum(1 for c in codes if c >= 2),
            sum(1 for r in rows if r.error is None and not r.has_map),
            max(codes, default=0),
            skipped,
        )


@record(kw_only=True)
class BatchDocument(JsonModel):
    """``batch --json``: every row (as ``--jsonl`` prints them) and the summary."""

    images: tuple[BatchRow, ...]
    summary: BatchSummary
