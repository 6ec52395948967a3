"""Extraction: a raw physical-memory file (byte offset = physical address, holes sparse)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from swsusp_inspect.image import HibernationImage
from swsusp_inspect.model.serialize import JsonModel, json_field, record


@record
class ExtractResult(JsonModel):
    """What ``extract`` wrote (the ``extract --json`` document)."""

    path: str = json_field(name="output")
    size: int
    pages_written: int
    zero_pages: int


def extract_raw(image: HibernationImage, out_path: str | os.PathLike[str], *,
                progress: Any = None, jobs: int | None = 1) -> ExtractResult:
    """Write every saved page at ``pfn * page_size`` of ``out_path``.

    Pages saved as zero pages and memory not saved are holes (read back as zeros).  The
    output must not be the input.  With ``jobs > 1`` a compressed image's chunks are
    decompressed and written by forked workers, each to its own pages of the output.
    """
    n = image.page_size
    pd = image.pagedir
    size = (int(pd.pfns.max()) + 1) * n if pd.pfns.size else 0
    if os.path.exists(out_path) and os.path.samefile(out_path, image.path):
        raise ValueError("the output is the input")
    written = 0
    n_chunks = len(image.chunk_table) if image.compression != "none" else 0
    with open(out_path, "wb") as out:
        out.truncate(size)
        if jobs is None:
            from swsusp_inspect.image.parallel import auto_jobs

            jobs = auto_jobs(image.info.pages * image.page_size)
        if jobs > 1 and n_chunks >= 8 * jobs:
            out.flush()
            for count in image.map_chunk_ranges(_extract_range, jobs, os.fspath(out_path)):
                written += count
                if progress is not None:
                    progress(count)
        else:
            for pfns, data in image.iter_data_pages():
                written += write_pages(out.fileno(), pfns, data, n)
                if progress is not None:
                    progress(int(pfns.size))
    return ExtractResult(os.fspath(out_path), size, written, pd.zero_pages)


def write_pages(fd: int, pfns: np.ndarray, data: bytes | memoryview, page_size: int) -> int:
    """``pwrite`` each page of ``data`` at ``pfn * page_size``; runs of consecutive PFNs in
    one call.  Returns the number of pages written."""
    if not pfns.size:
        return 0
    mv = memoryview(data)
    n = page_size
    breaks = np.flatnonzero(np.diff(pfns.astype(np.int64)) != 1) + 1
    starts = np.concatenate([[0], breaks]).tolist()
    ends = np.concatenate([breaks, [pfns.size]]).tolist()
    for a, b in zip(starts, ends, strict=True):
        os.pwrite(fd, mv[a * n : b * n], int(pfns[a]) * n)
    return int(pfns.size)


def _extract_range(image: HibernationImage, lo: int, hi: int, out_path: str) -> int:
    """Worker: decompress chunks ``lo..hi-1`` and write their data pages into ``out_path``."""
    fd = os.open(out_path, os.O_WRONLY)
    try:
        count = 0
        for k in range(lo, hi):
            pfns, pages = image.chunk_data_pages(k, image.decompress_chunk(k, cache=False))
            count += write_pages(fd, pfns, pages, image.page_size)
        return count
    finally:
        os.close(fd)
