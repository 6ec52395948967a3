"""A raw physical-memory file: byte offset = physical address, memory not saved a hole.

Zero pages (6.6+) and unreadable pages of a salvaged image are holes too (sparse in a file,
zeros in a stream): the format cannot tell them apart from memory not saved, so the record
(``extract --json``, the ``OUT.json`` sidecar) names them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from swsusp_inspect.export.plan import Plan
from swsusp_inspect.export.vmcoreinfo import Note
from swsusp_inspect.image.pages import PageStates
from swsusp_inspect.model.export import ExtractRecord

if TYPE_CHECKING:
    from swsusp_inspect.image.hibernation import HibernationImage

__all__ = ["ExtractResult", "extract_raw", "plan_raw"]

ExtractResult = ExtractRecord  # the name before ELF and LiME


def plan_raw(image: HibernationImage, states: PageStates) -> Plan:
    """Each data page at ``pfn * page_size``; the size ends after the highest saved PFN."""
    n = image.page_size
    pfns = states.pfns
    size = (int(pfns.max()) + 1) * n if pfns.size else 0
    offsets = image.pagedir.data_pfns.astype("int64") * n

    def pieces(_note: Note | None) -> list[tuple[int, bytes]]:
        return []

    return Plan("raw", offsets, size, pieces)


def extract_raw(
    image: HibernationImage,
    out_path: str | os.PathLike[str],
    *,
    progress: Any = None,
    jobs: int | None = 1,
) -> ExtractRecord:
    """Write every saved page at ``pfn * page_size`` of ``out_path`` (replaced if it exists;
    never the input).  With ``jobs > 1`` a compressed image's chunks are decompressed and
    written by forked workers."""
    from swsusp_inspect.export.extract import extract
    from swsusp_inspect.export.sink import OutputError

    try:
        return extract(image, out_path, "raw", force=True, jobs=jobs, progress=progress)
    except OutputError as exc:
        raise ValueError("the output is the input") from exc
