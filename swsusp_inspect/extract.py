"""Extraction: a raw physical-memory file (byte offset = physical address, holes sparse)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from swsusp_inspect.image import HibernationImage


@dataclass(frozen=True)
class ExtractResult:
    path: str
    size: int
    pages_written: int
    zero_pages: int

    def to_dict(self) -> dict[str, Any]:
        return {"output": self.path, "size": self.size, "pages_written": self.pages_written,
                "zero_pages": self.zero_pages}


def extract_raw(image: HibernationImage, out_path: str | os.PathLike[str], *,
                progress: Any = None) -> ExtractResult:
    """Write every saved page at ``pfn * page_size`` of ``out_path``.

    Pages saved as zero pages and memory not saved are holes (read back as zeros).  The
    output must not be the input.
    """
    n = image.page_size
    pd = image.pagedir
    size = (int(pd.pfns.max()) + 1) * n if pd.pfns.size else 0
    written = 0
    # O_EXCL-free but never truncating the input: refuse the same file
    if os.path.exists(out_path) and os.path.samefile(out_path, image.path):
        raise ValueError("the output is the input")
    with open(out_path, "wb") as out:
        for pfns, data in image.iter_data_pages():
            mv = memoryview(data)
            # write runs of consecutive PFNs with one call
            breaks = np.flatnonzero(np.diff(pfns.astype(np.int64)) != 1) + 1
            starts = np.concatenate([[0], breaks])
            ends = np.concatenate([breaks, [pfns.size]])
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
                out.seek(int(pfns[a]) * n)
                out.write(mv[a * n : b * n])
            written += int(pfns.size)
            if progress is not None:
                progress(int(pfns.size))
        out.truncate(size)
    return ExtractResult(os.fspath(out_path), size, written, pd.zero_pages)
