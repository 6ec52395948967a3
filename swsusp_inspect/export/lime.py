"""LiME: ranges of physical memory, each a 32-byte header and the range's bytes.

References:
    LiME (Linux Memory Extractor) ``src/lime.h``: ``lime_mem_range_header { unsigned int
        magic (0x4C694D45, "EMiL" on disk); unsigned int version (1); unsigned long long
        s_addr; unsigned long long e_addr (inclusive); unsigned char reserved[8]; }``, little
        endian, ranges one after another.  Volatility 3 ``framework/layers/lime.py`` reads
        them as its physical layer.

A range is a run of consecutive saved frames with data or saved as zero pages (those are
zeros in the range: a hole in a file); unreadable frames and memory not saved fall between
ranges.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

import numpy as np

from swsusp_inspect.export.plan import Plan, data_index_of_entries
from swsusp_inspect.export.vmcoreinfo import Note
from swsusp_inspect.image.pages import PageStates, pfn_runs

if TYPE_CHECKING:
    from swsusp_inspect.image.hibernation import HibernationImage

__all__ = ["LIME_MAGIC", "plan_lime"]

LIME_MAGIC = 0x4C694D45
LIME_VERSION = 1
HEADER = struct.Struct("<IIQQ8s")


def plan_lime(image: HibernationImage, states: PageStates) -> Plan:
    """Ranges in directory order: data and zero pages that can be had, split where the PFNs
    stop following one another."""
    n = image.page_size
    keep = np.flatnonzero(states.readable | states.zero)
    pfns = states.pfns[keep].astype(np.int64)
    starts, lengths = pfn_runs(pfns)
    run_of = np.repeat(np.arange(starts.size, dtype=np.int64), lengths)
    entry_off = HEADER.size * (run_of + 1) + np.arange(keep.size, dtype=np.int64) * n
    offsets = np.full(image.info.image_pages, -1, np.int64)
    data = ~states.zero[keep]
    offsets[data_index_of_entries(states.zero)[keep[data]]] = entry_off[data]
    size = HEADER.size * int(starts.size) + int(keep.size) * n
    head_off = (HEADER.size * np.arange(starts.size, dtype=np.int64) + starts * n).tolist()
    first = pfns[starts].tolist() if starts.size else []
    counts = lengths.tolist()

    def pieces(_note: Note | None) -> list[tuple[int, bytes]]:
        return [
            (off, HEADER.pack(LIME_MAGIC, LIME_VERSION, p * n, (p + c) * n - 1, bytes(8)))
            for off, p, c in zip(head_off, first, counts, strict=True)
        ]

    return Plan("lime", offsets, size, pieces, ranges=int(starts.size))
