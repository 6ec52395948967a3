"""The ``map`` and ``map diff`` documents."""

from __future__ import annotations

from dataclasses import dataclass

from swsusp_inspect.model.checksum import BootChoice
from swsusp_inspect.model.findings import Finding
from swsusp_inspect.model.report import PfnSpan, ReservedRange
from swsusp_inspect.model.serialize import JsonModel

__all__ = ["BootChoice", "MapChecksums", "MapDocument", "MapEntry"]


@dataclass(frozen=True)
class MapEntry:
    """One table entry as the kernel prints it (``end`` inclusive, ``name`` as dmesg names
    the type)."""

    start: int
    end: int
    type: int
    name: str


@dataclass(frozen=True)
class MapChecksums:
    crc32: int
    md5: str  # hex digest
    meaningful: bool  # False for iomem and node ranges (the kernel's view, not the firmware's)


@dataclass(frozen=True)
class MapDocument(JsonModel):
    """A memory map as ``map --json`` prints it."""

    source: str
    format: str
    boot: BootChoice | None
    entries: tuple[MapEntry, ...]  # the firmware table
    modified: tuple[MapEntry, ...] | None  # the kernel-edited table, when the input shows edits
    checksum: MapChecksums
    nosave: tuple[PfnSpan, ...]
    nosave_source: str
    nosave_rules: str | None
    nosave_derived: dict[str, tuple[PfnSpan, ...]]
    reserved_ram_evidence: tuple[ReservedRange, ...]
    findings: tuple[Finding, ...]
