"""The ``info`` / ``verify`` document: what an image holds, composed of its parts.

The parts are separate types (input, layout, stream, PFN directory, integrity, kernel identity)
and the JSON stays one flat object (docs/json.md): each part's keys are merged into it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from swsusp_inspect.model.checksum import INCONSISTENT_MAP, BootChoice, ChecksumVerdict, image_text
from swsusp_inspect.model.details import FormatDetails
from swsusp_inspect.model.image import ArchRecord, Crc32Result, Utsname
from swsusp_inspect.model.serialize import JsonModel, json_field, record

if TYPE_CHECKING:
    from swsusp_inspect.model.export import UnreadableSpan

__all__ = [
    "INCONSISTENT_MAP",
    "DirectoryFacts",
    "HeaderFacts",
    "ImageSummary",
    "InputFacts",
    "IntegrityFacts",
    "KernelIdentity",
    "LayoutFacts",
    "MapCheck",
    "MemoryFacts",
    "StreamFacts",
]


@record
class InputFacts:
    path: str
    transport: str | None  # None, "xz", "gzip", "zstd"
    file_size: int  # the input's bytes (decompressed when it came in a transport)


@record
class HeaderFacts:
    """``swsusp_header`` of a swap container."""

    layout: str
    offset: int
    image: int  # first swap-map page, in device pages
    hw_sig: int | None
    map_pages: int


@record
class LayoutFacts:
    container: str  # "swap" | "stream"
    era: str  # writer family the layout was recognised as
    page_size: int
    word_size: int  # sizeof(long) of the writer
    signature: str | None
    orig_sig: str | None
    flags: tuple[str, ...]  # SF_* names
    flags_value: int | None
    header: HeaderFacts | None
    compression: str  # "none" | "lzo" | "lz4"


@record
class StreamFacts:
    """``swsusp_info``'s counts."""

    num_physpages: int  # a page count, not the highest PFN
    cpus: int
    version_code: int
    image_pages: int  # data pages stored
    pages: int  # stream pages in all (header + metadata + data)
    meta_pages: int


@record
class DirectoryFacts:
    """The PFN directory in numbers."""

    saved_pfns: int  # every PFN listed (zero pages included)
    zero_pages: int  # listed, not stored (6.6+)
    pfn_min: int | None
    pfn_max: int | None


@record
class IntegrityFacts:
    chunks: int | None  # compressed chunks; None for raw data
    pages_beyond_eof: int  # raw stream pages past the end of a trimmed dump (read as zeros)
    crc32: Crc32Result
    verified: bool  # whether every page was read
    verify_ok: bool | None  # the verdict when verified
    unreadable_pages: int | None = None  # salvaging (verify, audit): pages that cannot be read
    unreadable: tuple[UnreadableSpan, ...] = ()  # where, and why


@record
class KernelIdentity:
    """The kernel that wrote the image: its banner, found in the saved pages."""

    release: str | None
    banner: str | None
    found_at_pfn: int | None
    physical_address: int | None
    expected_physical_address: int | None  # System.map's linux_banner, placed in the image
    error: str | None  # a damaged data chunk met by the banner search


@record
class MemoryFacts:
    """What the hibernated kernel's own memory says about itself (``memory`` in ``info``)."""

    osrelease: str | None  # VMCOREINFO's OSRELEASE
    build_id: str | None
    page_size: int | None  # VMCOREINFO's PAGESIZE
    kernel_offset: int | None  # KASLR slide of the kernel image; 0 without KASLR
    page_table_root: int | None  # physical address the translation starts from
    paging: str | None  # e.g. "x86_64 4-level", "i386 PAE", "arm64 4K 48-bit"
    vmcoreinfo_address: int | None  # physical address of the VMCOREINFO note
    symbols_source: str | None  # "kallsyms", "kallsyms-structure", "system-map", ...
    e820_checksum_matches: bool | None  # the firmware table the kernel held vs the record
    log_records: int | None
    errors: tuple[str, ...]  # what could not be read, one line each


@record(kw_only=True)
class MapCheck:
    """Whether a memory map is the one the image's kernel booted with (e820 checksum)."""

    source: str
    format: str
    boot: BootChoice | None = None  # the boot read from a log of several
    kind: str | None  # "crc32" | "md5" | None (the image carries no checksum)
    image_value: int | None
    map_value: int | None
    verdict: ChecksumVerdict = json_field(name="checksum_verdict")
    matches: bool | None = json_field(name="checksum_matches_image", init=False, default=None)
    explanation: str = json_field(init=False, default="")

    def __post_init__(self) -> None:
        match = {ChecksumVerdict.MATCH: True, ChecksumVerdict.MISMATCH: False}
        object.__setattr__(self, "matches", match.get(self.verdict))
        object.__setattr__(
            self,
            "explanation",
            image_text(
                self.verdict,
                kind=self.kind,
                image=self.image_value,
                found=self.map_value,
                fmt=self.format,
            ),
        )


@record
class ImageSummary(JsonModel):
    """Header, PFN directory, integrity and kernel identity of one image."""

    input: InputFacts = json_field(flatten=True)
    layout: LayoutFacts = json_field(flatten=True)
    stream: StreamFacts = json_field(flatten=True)
    directory: DirectoryFacts = json_field(flatten=True)
    integrity: IntegrityFacts = json_field(flatten=True)
    arch: ArchRecord | None
    uts: Utsname | None  # the generic header (architectures without an arch record)
    kernel: KernelIdentity
    details: FormatDetails | None = json_field(default=None, omit="none")
    maps: tuple[MapCheck, ...] = json_field(default=(), omit="empty")
    memory: MemoryFacts | None = None  # None when the kernel's memory was not read

    @property
    def kernel_release(self) -> str | None:
        return self.kernel.release
