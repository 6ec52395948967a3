"""What an image holds (the ``info`` / ``verify`` document), and whether a map is its own."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from swsusp_inspect.errors import FormatError
from swsusp_inspect.image import best_banner
from swsusp_inspect.model.checksum import verdict
from swsusp_inspect.model.details import UswsuspDetails
from swsusp_inspect.model.image import Banner, Crc32Result
from swsusp_inspect.model.summary import (
    DirectoryFacts,
    HeaderFacts,
    ImageSummary,
    InputFacts,
    IntegrityFacts,
    KernelIdentity,
    LayoutFacts,
    MapCheck,
    MemoryFacts,
    StreamFacts,
)

if TYPE_CHECKING:
    from swsusp_inspect.e820 import MemoryMap
    from swsusp_inspect.image import HibernationImage, VerifyResult
    from swsusp_inspect.inputs.system_map import SystemMap
    from swsusp_inspect.kernel import KernelState

__all__ = ["check_map", "memory_facts", "pick_boot", "summarize"]


def _image_checksum(image: HibernationImage) -> tuple[str | None, int | None]:
    """The kind and value of the e820 checksum in the image's arch record (None: none)."""
    arch = image.info.arch
    kind = arch.e820_checksum_kind if arch else None
    if kind == "crc32" and arch is not None:
        return kind, arch.e820_checksum
    if kind == "md5" and arch is not None and arch.e820_digest is not None:
        if arch.e820_digest == bytes(16):
            return kind, None  # all zero: the kernel had no MD5
        return kind, int.from_bytes(arch.e820_digest, "big")
    return None, None


def check_map(image: HibernationImage, memmap: MemoryMap) -> MapCheck:
    """Whether ``memmap``'s e820 checksum equals the one the image's arch record carries: the
    verdict ``info``, ``audit`` and ``map diff`` share (:mod:`swsusp_inspect.model.checksum`)."""
    kind, theirs = _image_checksum(image)
    mine = None
    if kind == "crc32":
        mine = memmap.checksum_crc32()
    elif kind == "md5" and theirs is not None:
        mine = int.from_bytes(memmap.checksum_md5(), "big")
    return MapCheck(
        source=memmap.source,
        format=memmap.format,
        boot=memmap.boot_choice,
        kind=kind if theirs is not None else None,
        image_value=theirs,
        map_value=mine,
        verdict=verdict(theirs, mine, memmap.has_checksum),
    )


def pick_boot(image: HibernationImage, memmap: MemoryMap) -> MemoryMap:
    """For a log of several boots: the boot whose firmware table has the image's checksum."""
    if memmap.boots is None:
        return memmap
    from swsusp_inspect.e820 import choose_boot

    kind, value = _image_checksum(image)
    what = f"e820 {kind} {value:#x}" if value is not None else "e820 checksum"
    return choose_boot(memmap, lambda m: check_map(image, m).verdict, what)


def _layout(image: HibernationImage) -> LayoutFacts:
    hdr = image.header
    usw = image.details if isinstance(image.details, UswsuspDetails) else None
    header = (
        None
        if hdr is None
        else HeaderFacts(hdr.layout, hdr.offset, hdr.image, hdr.hw_sig, len(image.map_pages))
    )
    return LayoutFacts(
        container=image.container,
        era=image.era,
        page_size=image.page_size,
        word_size=image.word_size,
        # uswsusp: a stream inside a container with a signature of its own
        signature=hdr.sig if hdr else usw.signature if usw else None,
        orig_sig=hdr.orig_sig if hdr else usw.orig_sig if usw else None,
        flags=tuple(hdr.flag_names) if hdr else (),
        flags_value=hdr.flags if hdr else None,
        header=header if image.container == "swap" else None,
        compression=image.compression,
    )


def _kernel(
    image: HibernationImage, banner: Banner | None, expected: int | None, error: str | None
) -> KernelIdentity:
    uts = image.info.uts
    release = banner.release if banner else (uts.release or None) if uts else None
    return KernelIdentity(
        release=release,
        banner=banner.banner if banner else None,
        found_at_pfn=banner.found_at_pfn if banner else None,
        physical_address=banner.physical_address if banner else None,
        expected_physical_address=expected,
        error=error,
    )


def _find_banner(
    image: HibernationImage, result: VerifyResult | None, expected: int | None, search: bool
) -> tuple[Banner | None, str | None]:
    """The banner: at System.map's address, else met by verify, else searched for.

    A damaged chunk met here is reported, not fatal to ``info`` (which reads the headers and
    the PFN directory; ``verify`` reads the data).
    """
    banner: Banner | None = None
    try:
        if expected is not None:
            banner = image.banner_near(expected)
        if banner is None and result is not None:
            banner = best_banner(result.banners)
        elif banner is None and search:
            banner = image.find_banner()
    except FormatError as exc:
        return None, str(exc)
    return banner, None


def memory_facts(state: KernelState) -> MemoryFacts:
    """The ``memory`` object: every part ``info`` shows read now, errors included."""
    info = state.vmcoreinfo
    paging = state.paging
    facts = MemoryFacts(
        osrelease=state.osrelease,
        build_id=state.build_id,
        page_size=info.page_size if info is not None else None,
        kernel_offset=state.kernel_offset,
        page_table_root=state.page_table_root,
        paging=paging.name if paging is not None else None,
        vmcoreinfo_address=info.address if info is not None else None,
        symbols_source=state.symbols_source,
        e820_checksum_matches=state.e820_checksum_matches,
        log_records=state.log_records,
        errors=(),
    )
    # the errors last: every part above has been read (and has said what failed)
    return dataclasses.replace(facts, errors=tuple(state.errors))


def summarize(
    image: HibernationImage,
    *,
    verify: bool = False,
    system_map: SystemMap | None = None,
    maps: list[MemoryMap] | None = None,
    find_banner: bool = True,
    progress: Any = None,
    jobs: int | None = 1,
    kernel: KernelState | None = None,
    read_memory: bool = True,
) -> ImageSummary:
    """The summary; ``verify`` reads and decompresses every chunk and checks the CRC32
    (``jobs`` processes; None: chosen from the image's size and the cores free).

    ``kernel`` is the image's kernel memory when the caller has it already; otherwise it is
    read here (``read_memory=False`` leaves ``memory`` out).
    """
    pd = image.pagedir
    if jobs is None:
        from swsusp_inspect.image.parallel import jobs_for

        jobs = jobs_for(image)
    result = image.verify(progress, jobs=jobs) if verify else None
    hdr = image.header
    info = image.info
    expected = system_map.physical("linux_banner", info.arch) if system_map else None
    banner, banner_error = _find_banner(image, result, expected, find_banner)
    unreadable = image.page_states().unreadable_pages if image.salvage else 0
    crc = result.crc32 if result is not None else Crc32Result(hdr.crc32 if hdr else None)
    if kernel is None and read_memory:
        from swsusp_inspect.kernel import read_kernel

        kernel = read_kernel(image, system_map, source=image.path)
    return ImageSummary(
        input=InputFacts(image.path, image.source.transport, image.input_size),
        layout=_layout(image),
        stream=StreamFacts(
            info.num_physpages,
            info.cpus,
            info.version_code,
            info.image_pages,
            info.pages,
            info.meta_pages,
        ),
        directory=DirectoryFacts(
            pd.saved_pfns,
            pd.zero_pages,
            int(pd.pfns.min()) if pd.pfns.size else None,
            int(pd.pfns.max()) if pd.pfns.size else None,
        ),
        integrity=IntegrityFacts(
            chunks=len(image.chunk_table) if image.compression != "none" else None,
            pages_beyond_eof=image.pages_beyond_eof,
            crc32=crc,
            verified=result is not None,
            verify_ok=(result.ok and not unreadable) if result is not None else None,
            unreadable_pages=unreadable if image.salvage else None,
            unreadable=image.page_states().unreadable_spans() if unreadable else (),
        ),
        arch=info.arch,
        uts=info.uts,
        kernel=_kernel(image, banner, expected, banner_error),
        details=image.details,
        maps=tuple(check_map(image, m) for m in (maps or [])),
        memory=memory_facts(kernel) if kernel is not None else None,
    )
