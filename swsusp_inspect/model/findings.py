"""Findings: one type for everything the tool reports about an image or a map.

A finding has a stable ``code`` (documented in docs/audit.md and docs/maps.md), a
:class:`Severity`, words, and where it applies: saved pages and their runs of PFNs (audit
findings) or the line of the input (memory-map findings).
"""

from __future__ import annotations

from enum import Enum

from swsusp_inspect.model.serialize import json_field, record

__all__ = [
    "DescentDetails",
    "ErrorLines",
    "EvidenceCounts",
    "Finding",
    "FindingDetails",
    "FlagDisagreement",
    "NoDetails",
    "NonRamDetails",
    "NosaveSources",
    "PfnRange",
    "Severity",
]


class Severity(Enum):
    """How bad a finding is; the worst one decides the exit code."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


@record(kw_only=True)
class PfnRange:
    """A contiguous run of saved PFNs inside one map region (``end_pfn`` inclusive)."""

    start_pfn: int
    end_pfn: int
    pages: int
    start_address: int = json_field(init=False, default=0)
    end_address: int = json_field(init=False, default=0)  # inclusive
    region: str | None = None  # e.g. "reserved 0xf0000-0xfffff"
    type: int | None = None  # the region's e820 type
    page_size: int = json_field(default=4096, skip=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start_address", self.start_pfn * self.page_size)
        object.__setattr__(self, "end_address", (self.end_pfn + 1) * self.page_size - 1)


@record
class NoDetails:
    """A finding with nothing more to say (``details: {}``)."""


@record
class DescentDetails:
    """``pfn-unsorted``: how often the directory goes down, and where first."""

    descents: int
    first_index: int


@record
class NonRamDetails:
    """``saved-non-ram``: how many of those pages also lie in nosave regions."""

    also_nosave: int


@record
class NosaveSources:
    """``saved-nosave``: which nosave evidence the pages fall in."""

    sources: tuple[str, ...]


@record
class EvidenceCounts:
    """``saved-reserved-ram``: pages by the evidence that says they are reserved."""

    by_evidence: dict[str, int]


@record
class ErrorLines:
    """``kernel-memory-partial``: what could not be read, one line each."""

    errors: tuple[str, ...]


@record
class FlagDisagreement:
    """``kpageflags-differs-from-image``: saved PFNs reserved per one source, not the other."""

    only_kpageflags: int
    only_image: int


FindingDetails = (
    NoDetails
    | DescentDetails
    | NonRamDetails
    | NosaveSources
    | EvidenceCounts
    | ErrorLines
    | FlagDisagreement
)


@record
class Finding:
    """One finding: stable code, severity, words, and where it applies.

    ``ranges`` may be cut short for display (``ranges_total`` says how many there are);
    ``line`` is the input line of a memory-map finding.
    """

    severity: Severity
    code: str
    message: str
    line: int | None = None
    pages: int = 0
    ranges: tuple[PfnRange, ...] = ()
    ranges_total: int = 0
    note: str | None = None
    details: FindingDetails = json_field(default_factory=NoDetails)
