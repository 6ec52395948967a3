"""Stage 1, integrity: the image's summary, and what reading it found wrong."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from swsusp_inspect.auditor.notes import finding, plural
from swsusp_inspect.errors import FormatError
from swsusp_inspect.model.details import UswsuspDetails
from swsusp_inspect.model.findings import Finding, PfnRange
from swsusp_inspect.model.summary import ImageSummary
from swsusp_inspect.summary import summarize

if TYPE_CHECKING:
    from swsusp_inspect.e820 import MemoryMap
    from swsusp_inspect.image import HibernationImage
    from swsusp_inspect.inputs.system_map import SystemMap
    from swsusp_inspect.kernel import KernelState

__all__ = ["IntegrityStage", "integrity_stage"]

MAX_RANGES = 256  # ranges listed in a finding (ranges_total counts them all)


@dataclass(frozen=True)
class IntegrityStage:
    summary: ImageSummary
    findings: tuple[Finding, ...]


def _chunk_unreadable(how: str, error: str) -> Finding:
    return finding("chunk-unreadable", f"image data cannot be read ({how}): {error}")


def _unreadable(summary: ImageSummary) -> Finding:
    """Salvaging: the saved pages that cannot be read, where, and the first reason."""
    spans = summary.integrity.unreadable
    pages = summary.integrity.unreadable_pages or 0
    how = "read around" if summary.integrity.verified else "found opening it; --verify reads all"
    ranges = tuple(
        PfnRange(
            start_pfn=s.start_pfn,
            end_pfn=s.end_pfn,
            pages=s.pages,
            page_size=summary.layout.page_size,
        )
        for s in spans[:MAX_RANGES]
    )
    return finding(
        "chunk-unreadable",
        f"{plural(pages, 'saved page')} cannot be read ({how}), in {len(spans)} ranges: "
        f"{spans[0].reason if spans else ''}",
        pages=pages,
        ranges=ranges,
        ranges_total=len(spans),
    )


def _checksum_findings(summary: ImageSummary) -> list[Finding]:
    """``--verify``'s verdict: the CRC32, uswsusp's MD5, or pages missing."""
    crc = summary.integrity.crc32
    details = summary.details
    if crc.ok is False:
        return [
            finding(
                "crc32-mismatch",
                f"image CRC32 mismatch: stored {crc.stored:#010x}, computed {crc.computed:#010x}: "
                "the data is not what the kernel wrote",
            )
        ]
    if (
        isinstance(details, UswsuspDetails)
        and details.checksum is not None
        and not details.checksum.ok
    ):
        md5 = details.checksum
        return [
            finding(
                "md5-mismatch",
                f"uswsusp image MD5 mismatch: stored {md5.stored}, computed {md5.computed}: the "
                "data is not what s2disk wrote",
            )
        ]
    if summary.integrity.verify_ok is False and not summary.integrity.unreadable_pages:
        return [
            finding(
                "verify-incomplete",
                f"verify read fewer stream pages than swsusp_info.pages ({summary.stream.pages})",
            )
        ]
    return []


def integrity_stage(
    image: HibernationImage,
    *,
    verify: bool,
    system_map: SystemMap | None,
    maps: list[MemoryMap],
    progress: Any = None,
    kernel: KernelState | None = None,
) -> IntegrityStage:
    """The summary (``verify``: every page read, the checksum checked).

    A damaged data chunk is a finding, not the end: the labels need only the headers and the
    PFN directory, so the audit goes on; if those cannot be read, this raises.
    """
    try:
        summary = summarize(
            image,
            verify=verify,
            system_map=system_map,
            maps=maps,
            progress=progress,
            kernel=kernel,
            read_memory=False,
        )
    except FormatError as exc:
        summary = summarize(
            image,
            verify=False,
            system_map=system_map,
            maps=maps,
            find_banner=False,
            kernel=kernel,
            read_memory=False,
        )
        return IntegrityStage(summary, (_chunk_unreadable("while verifying", str(exc)),))
    findings: list[Finding] = []
    if summary.integrity.unreadable_pages:
        findings.append(_unreadable(summary))
    if summary.kernel.error and not summary.integrity.unreadable_pages:
        # the banner search reports a damaged chunk in the summary instead of raising
        findings.append(
            _chunk_unreadable("while looking for the kernel banner", summary.kernel.error)
        )
    if verify:
        findings += _checksum_findings(summary)
    return IntegrityStage(summary, tuple(findings))
