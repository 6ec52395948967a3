"""What a writer decides before any data is written: where each data page goes, the output's
size, and the fixed pieces (headers) around the data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from swsusp_inspect.export.vmcoreinfo import Note

__all__ = ["Plan", "data_index_of_entries"]


@dataclass(frozen=True)
class Plan:
    """One output's layout.

    Attributes:
        format: ``"raw"``, ``"elf"`` or ``"lime"``.
        offsets: output offset of each data page (by data-page index; -1: not written).
        size: bytes of the output.
        pieces: the fixed bytes and their offsets, given the VMCOREINFO note (or None).
        wants_note: the pieces hold the note (ELF).
        load_segments, zero_segments: ELF program headers (PT_LOAD, and those of zero pages).
        elf_class, machine: ELF identity.
        ranges: LiME ranges.
    """

    format: str
    offsets: np.ndarray
    size: int
    pieces: Callable[[Note | None], list[tuple[int, bytes]]]
    wants_note: bool = False
    load_segments: int = 0
    zero_segments: int = 0
    elf_class: int = 0
    machine: int = 0
    ranges: int = 0


def data_index_of_entries(zero: np.ndarray) -> np.ndarray:
    """For each directory entry, the index of its data page (meaningless for zero pages)."""
    out: np.ndarray = np.cumsum(~zero) - 1
    return out
