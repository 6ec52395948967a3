"""One candidate reading of a legacy image, and the helpers every era's reader shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from swsusp_inspect.errors import FormatError, TruncatedError
from swsusp_inspect.formats import pagedir as fpagedir
from swsusp_inspect.formats.legacy import addresses
from swsusp_inspect.formats.legacy.structs import UTS_LEN, swp_offset, swp_offsets, swp_types
from swsusp_inspect.formats.opened import OpenedImage, PageTransform
from swsusp_inspect.formats.parse import cstring
from swsusp_inspect.formats.signatures import SignatureHit
from swsusp_inspect.model.details import LegacyDetails
from swsusp_inspect.model.image import SnapshotInfo, SwsuspHeader, Utsname

# -- reading context -----------------------------------------------------------------------


@dataclass
class Ctx:
    """One candidate reading: file, swap area, word size, pointer encoding."""

    buf: Any
    base: int  # file offset of the swap header page
    n: int  # page size
    word: int  # sizeof(long)
    device_pages: int | None  # absolute pages of the device when the swap header says
    page_offset: int | None = None  # --page-offset
    base_page: int = field(init=False)
    file_pages: int = field(init=False)

    def __post_init__(self) -> None:
        self.base_page = self.base // self.n
        self.file_pages = len(self.buf) // self.n

    @property
    def dtype(self) -> np.dtype[Any]:
        return np.dtype("<u8") if self.word == 8 else np.dtype("<u4")

    def word_at(self, offset: int) -> int:
        return int.from_bytes(bytes(self.buf[offset : offset + self.word]), "little")

    def pointer(
        self,
        value: int,
        encoding: str,
        where: tuple[str, int, str],
        target: str,
        *,
        in_file: bool = True,
    ) -> int:
        """Absolute page a pointer names; errors name the pointer's own location."""
        structure, at, fld = where
        off = swp_offset(value, self.word, encoding)
        if off == 0:
            raise FormatError(structure, at, fld, f"a nonzero swap page ({target})", value)
        page = self.base_page + off
        if self.device_pages is not None and page >= self.device_pages:
            raise FormatError(
                structure,
                at,
                fld,
                f"a swap page below {self.device_pages - self.base_page:#x} "
                f"(swap header last_page + 1; {target})",
                off,
            )
        if in_file and page >= self.file_pages:
            raise TruncatedError(target, page * self.n, self.n, len(self.buf))
        return page

    def words(self, page: int) -> np.ndarray:
        return np.frombuffer(
            self.buf, dtype=self.dtype, count=self.n // self.word, offset=page * self.n
        )

    def gather(self, pages: list[int]) -> np.ndarray:
        return np.concatenate([self.words(p) for p in pages]) if pages else np.zeros(0, self.dtype)


def swap_info(buf: Any, base: int, n: int) -> tuple[int | None, int | None]:
    """``(version, device_pages)`` from ``union swap_header`` (version 1 has last_page)."""
    if base + 1036 > len(buf):
        return None, None
    version = int.from_bytes(bytes(buf[base + 1024 : base + 1028]), "little")
    last_page = int.from_bytes(bytes(buf[base + 1028 : base + 1032]), "little")
    if version == 1 and last_page:
        return 1, base // n + last_page + 1
    return version, None


def utsname(raw: bytes) -> Utsname:
    return Utsname(*[cstring(raw[i * UTS_LEN : (i + 1) * UTS_LEN]) for i in range(6)])


def release(version_code: int) -> str:
    return f"{version_code >> 16}.{(version_code >> 8) & 0xFF}.{version_code & 0xFF}"


def plausible_version(version_code: int) -> bool:
    return version_code >> 16 == 2 and (version_code >> 8) & 0xFF in (4, 5, 6)


# -- result and filling the image ----------------------------------------------------------


@dataclass
class Read:
    """What one era's reader found; ``fill`` hands it to the image."""

    era: str
    header: SwsuspHeader
    info: SnapshotInfo
    entries: np.ndarray  # absolute pages: [info/header page, stream pages...]
    pfns: np.ndarray
    map_pages: tuple[int, ...]
    details: dict[str, Any]  # LegacyDetails' fields, gathered on the way
    transform: PageTransform | None = None


def opened(r: Read, ctx: Ctx) -> OpenedImage:
    """The image one era's reader found (its PFN directory decoded already)."""
    return OpenedImage(
        container="swap",
        era=r.era,
        page_size=ctx.n,
        buf=ctx.buf,
        header=r.header,
        info=r.info,
        entries=r.entries,
        map_pages=r.map_pages,
        device_pages=ctx.device_pages,
        pagedir=fpagedir.PfnDirectory(r.pfns.astype(np.uint64), np.zeros(r.pfns.size, bool), True),
        transform=r.transform,
        details=LegacyDetails(**r.details),
    )


def translate(
    ctx: Ctx,
    vas: np.ndarray,
    locate: addresses.Locate,
    num_physpages: int,
    details: dict[str, Any],
    *,
    highmem_copied: bool,
) -> np.ndarray:
    pfns, tr = addresses.translate(vas, ctx.word, ctx.n, page_offset=ctx.page_offset, locate=locate)
    details.update(tr.to_details())
    details["metadata"] = "kernel virtual addresses (pbe->orig_address), PA = VA - PAGE_OFFSET"
    if highmem_copied:
        note = addresses.highmem_note(ctx.word, ctx.n, tr.page_offset, num_physpages)
        if note is not None:
            details["highmem"] = note
    return pfns


def make_header(ctx: Ctx, layout: str, sig: str, orig_sig: str, image: int) -> SwsuspHeader:
    return SwsuspHeader(
        offset=ctx.base,
        page_size=ctx.n,
        sector_size=ctx.word,
        layout=layout,
        sig=sig,
        orig_sig=orig_sig,
        flags=None,
        image=image,
        crc32=None,
        hw_sig=None,
    )


NO_CHECKSUM = "no checksum in this era: verify reads every page"


def check_data(
    ctx: Ctx,
    raw: np.ndarray,
    encoding: str,
    want_type: int | None,
    locate: Callable[[int], tuple[str, int]],
    *,
    fld: str,
) -> np.ndarray:
    """Absolute pages of data-page pointers ``raw`` (bounds, type)."""
    offs = swp_offsets(raw, ctx.word, encoding)
    zero = np.flatnonzero(offs == 0)
    if zero.size:
        i = int(zero[0])
        s, at = locate(i)
        raise FormatError(s, at, fld, "a nonzero swap page (a data page)", int(raw[i]))
    types = swp_types(raw, ctx.word, encoding)
    if types is not None and want_type is not None:
        other = np.flatnonzero(types != np.uint64(want_type))
        if other.size:
            i = int(other[0])
            s, at = locate(i)
            raise FormatError(
                s, at, fld, f"swap type {want_type} (the resume device)", int(types[i])
            )
    pages = offs + np.uint64(ctx.base_page)
    if ctx.device_pages is not None:
        over = np.flatnonzero(pages >= np.uint64(ctx.device_pages))
        if over.size:
            i = int(over[0])
            s, at = locate(i)
            raise FormatError(
                s,
                at,
                fld,
                f"a swap page below {ctx.device_pages - ctx.base_page:#x} "
                "(swap header last_page + 1)",
                int(offs[i]),
            )
    return pages


def under_signature(exc: FormatError, hit: SignatureHit, layout: str) -> FormatError:
    """Say which signature the failing structure hangs from (its name is no longer unique)."""
    sig = hit.raw[: 10 if hit.signature.name == "pmdisk" else 6].decode("ascii", "replace")
    what = f"under the {sig} signature at {hit.offset:#x} ({layout})"
    exc.detail = f"{exc.detail}; {what}" if exc.detail else what
    exc.args = (exc._message(),)
    return exc


def first_working(attempts: list[Callable[[], Read]]) -> Read:
    """The first attempt that reads; else the first attempt's error."""
    first: FormatError | None = None
    for attempt in attempts:
        try:
            return attempt()
        except FormatError as exc:
            first = first or exc
    assert first is not None
    raise first
