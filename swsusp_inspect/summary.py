"""The ``info`` / ``verify`` model: what an image holds, one object for JSON and the terminal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from swsusp_inspect.errors import FormatError
from swsusp_inspect.image import best_banner
from swsusp_inspect.model import ArchRecord, Banner, Crc32Result, JsonModel, Utsname, to_data
from swsusp_inspect.model.details import FormatDetails, UswsuspDetails

if TYPE_CHECKING:
    from swsusp_inspect.e820 import MemoryMap
    from swsusp_inspect.image import HibernationImage, VerifyResult
    from swsusp_inspect.inputs.system_map import SystemMap

INCONSISTENT_MAP = "Hibernate inconsistent memory map detected!"


@dataclass(frozen=True)
class MapCheck:
    """Whether a memory map is the one the image's kernel booted with (e820 checksum)."""

    source: str
    format: str
    kind: str | None  # "crc32" | "md5" | None (the image carries no checksum)
    image_value: int | None
    map_value: int | None
    matches: bool | None

    @property
    def explanation(self) -> str:
        if self.matches is None:
            return "the image carries no e820 checksum to compare"
        if self.matches:
            return "the map's e820 checksum equals the image's: this is the map it was made with"
        return (
            "the map's e820 checksum differs from the image's: the kernel that wrote this image "
            f"would refuse to resume on this map with \"{INCONSISTENT_MAP}\""
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "kind": self.kind,
            "image_value": self.image_value,
            "map_value": self.map_value,
            "checksum_matches_image": self.matches,
            "explanation": self.explanation,
        }


def check_map(image: HibernationImage, memmap: MemoryMap) -> MapCheck:
    arch = image.info.arch
    kind = arch.e820_checksum_kind if arch else None
    if kind == "crc32" and arch is not None:
        mine = memmap.checksum_crc32()
        theirs = arch.e820_checksum
    elif kind == "md5" and arch is not None and arch.e820_digest is not None:
        if arch.e820_digest == bytes(16):
            # all zero: the kernel had no MD5 and accepts any map
            return MapCheck(memmap.source, memmap.format, "md5", 0, None, None)
        mine = int.from_bytes(memmap.checksum_md5(), "big")
        theirs = int.from_bytes(arch.e820_digest, "big")
    else:
        return MapCheck(memmap.source, memmap.format, None, None, None, None)
    return MapCheck(memmap.source, memmap.format, kind, theirs, mine, mine == theirs)


@dataclass(frozen=True)
class ImageSummary(JsonModel):
    """Header, PFN directory statistics, integrity and kernel identity of one image."""

    path: str
    transport: str | None
    file_size: int
    container: str
    page_size: int
    word_size: int
    signature: str | None
    orig_sig: str | None
    flags: list[str]
    flags_value: int | None
    header_layout: str | None
    header_offset: int | None
    first_map_page: int | None
    map_pages: int
    hw_sig: int | None
    compression: str
    num_physpages: int
    cpus: int
    image_pages: int
    pages: int
    meta_pages: int
    saved_pfns: int
    zero_pages: int
    pfn_min: int | None
    pfn_max: int | None
    chunks: int | None
    crc32: Crc32Result
    verified: bool
    verify_ok: bool | None
    arch: ArchRecord | None
    uts: Utsname | None
    version_code: int
    banner: Banner | None
    pages_beyond_eof: int = 0  # raw stream pages past the end of a trimmed dump (read as zeros)
    era: str = "2.6.20+"  # writer family the layout was recognised as
    details: FormatDetails | None = None  # format-specific facts
    banner_expected_at: int | None = None  # physical address of linux_banner per System.map
    banner_error: str | None = None  # a data chunk the banner search could not read
    map_checks: list[MapCheck] = field(default_factory=list)

    @property
    def kernel_release(self) -> str | None:
        if self.banner is not None:
            return self.banner.release
        if self.uts is not None:
            return self.uts.release or None
        return None

    def to_dict(self) -> dict[str, Any]:
        kernel: dict[str, Any] = {
            "release": self.kernel_release,
            "banner": self.banner.banner if self.banner else None,
            "found_at_pfn": self.banner.found_at_pfn if self.banner else None,
            "physical_address": self.banner.physical_address if self.banner else None,
            "expected_physical_address": self.banner_expected_at,
            "error": self.banner_error,
        }
        out: dict[str, Any] = {
            "path": self.path,
            "transport": self.transport,
            "file_size": self.file_size,
            "container": self.container,
            "era": self.era,
            "page_size": self.page_size,
            "word_size": self.word_size,
            "signature": self.signature,
            "orig_sig": self.orig_sig,
            "flags": self.flags,
            "flags_value": self.flags_value,
            "header": {
                "layout": self.header_layout,
                "offset": self.header_offset,
                "image": self.first_map_page,
                "hw_sig": self.hw_sig,
                "map_pages": self.map_pages,
            }
            if self.container == "swap"
            else None,
            "compression": self.compression,
            "num_physpages": self.num_physpages,
            "cpus": self.cpus,
            "version_code": self.version_code,
            "image_pages": self.image_pages,
            "pages": self.pages,
            "meta_pages": self.meta_pages,
            "saved_pfns": self.saved_pfns,
            "zero_pages": self.zero_pages,
            "pfn_min": self.pfn_min,
            "pfn_max": self.pfn_max,
            "chunks": self.chunks,
            "pages_beyond_eof": self.pages_beyond_eof,
            "crc32": to_data(self.crc32),
            "verified": self.verified,
            "verify_ok": self.verify_ok,
            "arch": to_data(self.arch),
            "uts": to_data(self.uts),
            "kernel": kernel,
        }
        if self.details is not None:
            out["details"] = to_data(self.details)
        if self.map_checks:
            out["maps"] = [m.to_dict() for m in self.map_checks]
        return out


def summarize(
    image: HibernationImage,
    *,
    verify: bool = False,
    system_map: SystemMap | None = None,
    maps: list[MemoryMap] | None = None,
    find_banner: bool = True,
    progress: Any = None,
    jobs: int = 1,
) -> ImageSummary:
    """Build the summary; ``verify`` reads and decompresses every chunk and checks the CRC32."""
    pd = image.pagedir
    result: VerifyResult | None = image.verify(progress, jobs=jobs) if verify else None
    hdr = image.header
    info = image.info
    arch = info.arch
    banner: Banner | None = None
    expected: int | None = None
    if system_map is not None:
        expected = system_map.physical("linux_banner", arch)
    banner_error: str | None = None
    try:
        # the banner is in the data pages: a damaged chunk there is reported, not fatal to
        # `info` (which reads the headers and the PFN directory; `verify` reads the data)
        if expected is not None:
            banner = image.banner_near(expected)
        if banner is None and result is not None:
            banner = best_banner(result.banners)
        elif banner is None and find_banner:
            banner = image.find_banner()
    except FormatError as exc:
        banner_error = str(exc)
    crc = result.crc32 if result is not None else Crc32Result(hdr.crc32 if hdr else None)
    uswsusp = image.details if isinstance(image.details, UswsuspDetails) else None
    chunks = len(image.chunk_table) if image.compression != "none" else None
    return ImageSummary(
        path=image.path,
        transport=image.source.transport,
        # uswsusp: the input's size, not the decoded stream's
        file_size=image.input_size,
        container=image.container,
        page_size=image.page_size,
        word_size=image.word_size,
        # uswsusp: a stream inside a container with a signature of its own
        signature=hdr.sig if hdr else uswsusp.signature if uswsusp else None,
        orig_sig=hdr.orig_sig if hdr else uswsusp.orig_sig if uswsusp else None,
        flags=hdr.flag_names if hdr else [],
        flags_value=hdr.flags if hdr else None,
        header_layout=hdr.layout if hdr else None,
        header_offset=hdr.offset if hdr else None,
        first_map_page=hdr.image if hdr else None,
        map_pages=len(image.map_pages),
        hw_sig=hdr.hw_sig if hdr else None,
        compression=image.compression,
        num_physpages=info.num_physpages,
        cpus=info.cpus,
        image_pages=info.image_pages,
        pages=info.pages,
        meta_pages=info.meta_pages,
        saved_pfns=pd.saved_pfns,
        zero_pages=pd.zero_pages,
        pfn_min=int(pd.pfns.min()) if pd.pfns.size else None,
        pfn_max=int(pd.pfns.max()) if pd.pfns.size else None,
        chunks=chunks,
        crc32=crc,
        verified=result is not None,
        verify_ok=result.ok if result is not None else None,
        arch=arch,
        uts=info.uts,
        version_code=info.version_code,
        banner=banner,
        pages_beyond_eof=image.pages_beyond_eof,
        era=image.era,
        details=image.details,
        banner_expected_at=expected,
        banner_error=banner_error,
        map_checks=[check_map(image, m) for m in (maps or [])],
    )
