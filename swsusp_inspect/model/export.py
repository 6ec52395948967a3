"""What ``extract`` wrote: the ``extract --json`` document and its ``OUT.json`` sidecar."""

from __future__ import annotations

from swsusp_inspect.model.serialize import JsonModel, json_field, record

__all__ = ["ElfFacts", "ExtractRecord", "PfnSpan", "UnreadableSpan", "VmcoreinfoFacts"]


@record
class PfnSpan:
    """Consecutive page frames, ``end_pfn`` inclusive."""

    start_pfn: int
    end_pfn: int
    pages: int


@record
class UnreadableSpan:
    """Saved page frames whose data could not be read, and why (one line: structure, file
    offset, expected vs found)."""

    start_pfn: int
    end_pfn: int
    pages: int
    reason: str


@record
class VmcoreinfoFacts:
    """The kernel's VMCOREINFO note, as found among the saved pages."""

    found: bool
    physical_address: int | None
    size: int | None  # bytes of the note (header, name, text, padding)
    osrelease: str | None
    explanation: str | None  # why there is none, when there is none


@record
class ElfFacts:
    """The ELF core's shape."""

    elf_class: int  # 32 or 64
    machine: int  # e_machine
    load_segments: int  # PT_LOAD program headers (data runs and zero-page runs)
    zero_segments: int  # of those, zero pages: memory with no file bytes
    vmcoreinfo: VmcoreinfoFacts


@record
class ExtractRecord(JsonModel):
    """What one ``extract`` wrote."""

    format: str  # "raw" | "elf" | "lime"
    path: str = json_field(name="output")  # "-" for stdout
    input: str
    size: int  # bytes of the output
    pages_written: int  # data pages written
    zero_pages: int  # saved as zero pages (6.6+)
    unreadable_pages: int
    saved: tuple[PfnSpan, ...]  # PFNs whose data was written
    zero: tuple[PfnSpan, ...]  # PFNs saved as zero pages
    unreadable: tuple[UnreadableSpan, ...]
    pages_beyond_eof: int  # raw pages past the end of a trimmed dump, read as zeros
    problems: tuple[str, ...]  # damage read around in the swap map
    input_sha256: str
    output_sha256: str
    elf: ElfFacts | None = json_field(default=None, omit="none")
    lime_ranges: int | None = json_field(default=None, omit="none")
