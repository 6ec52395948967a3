"""Reads of the hibernated kernel's virtual memory through its page tables.

References:
    :mod:`.walk` for the translation and its references.
"""

from __future__ import annotations

import itertools
import struct
from typing import Any

import numpy as np
import numpy.typing as npt

from swsusp_inspect.kernel.memory import KernelDataError, NotInImageError, TranslationError
from swsusp_inspect.kernel.pagetables.walk import U64, Paging

__all__ = ["VirtualMemory"]


class VirtualMemory:
    """Read the hibernated kernel's virtual memory through a :class:`Paging`.

    Translations are cached per mapping (4 KiB page, 2 MiB / 1 GiB large page, arm64 block),
    so reading a large contiguous range walks the tables once per mapping.
    """

    def __init__(self, paging: Paging) -> None:
        self.paging = paging
        self.phys = paging.mem
        self.word_size = paging.mem.word_size
        self._word = "<Q" if self.word_size == 8 else "<I"
        self._leaves: dict[int, dict[int, int]] = {}  # leaf shift -> {va >> shift: phys base}
        self._limit = 1 << 16

    def translate(self, va: int) -> int:
        """Physical address of ``va``; TranslationError when unmapped."""
        for shift, table in self._leaves.items():
            base = table.get(va >> shift)
            if base is not None:
                return base | (va & ((1 << shift) - 1))
        phys, shift = self.paging.translate_leaf(va)
        table = self._leaves.setdefault(shift, {})
        if len(table) >= self._limit:
            table.clear()
        table[va >> shift] = phys & ~((1 << shift) - 1)
        return phys

    def translate_many(
        self, vas: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
        return self.paging.translate_many(vas)

    def read(self, va: int, size: int, what: str | None = None) -> bytes:
        """``size`` bytes of kernel virtual memory at ``va``.

        A range of more than a few pages is translated in one vectorised walk and read in
        physically contiguous runs.

        Raises:
            TranslationError: part of the range is unmapped.
            NotInImageError: part of the range is in a page the image did not save.
        """
        if size <= 0:
            return b""
        n = self.phys.page_size
        if size > self.phys.saved_bytes:
            raise KernelDataError(
                what or "read",
                va,
                "size",
                f"<= {self.phys.saved_bytes:#x} (all the memory the image saved)",
                size,
            )
        first = va - va % n
        count = (va + size - first + n - 1) // n
        if count <= 4:
            out = []
            pos, end = va, va + size
            while pos < end:
                take = min(end - pos, n - pos % n)
                out.append(self.phys.read(self.translate(pos), take, what))
                pos += take
            return out[0] if len(out) == 1 else b"".join(out)
        vas = np.uint64(first) + np.arange(count, dtype=np.uint64) * np.uint64(n)
        phys, ok = self.paging.translate_many(vas)
        if not ok.all():
            bad = int(vas[int(np.flatnonzero(~ok)[0])])
            self.translate(max(bad, va))  # raises with the reason
        # runs of physically contiguous pages
        breaks = np.flatnonzero(np.diff(phys.astype(np.int64)) != n) + 1
        bounds = [0, *breaks.tolist(), count]
        parts = []
        for a, b in itertools.pairwise(bounds):
            lo = max(int(vas[a]), va)
            hi = min(int(vas[b - 1]) + n, va + size)
            parts.append(self.phys.read(int(phys[a]) + (lo - int(vas[a])), hi - lo, what))
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read_u8(self, va: int, what: str | None = None) -> int:
        return self.read(va, 1, what)[0]

    def read_u16(self, va: int, what: str | None = None) -> int:
        return int(struct.unpack("<H", self.read(va, 2, what))[0])

    def read_u32(self, va: int, what: str | None = None) -> int:
        return int(struct.unpack("<I", self.read(va, 4, what))[0])

    def read_s32(self, va: int, what: str | None = None) -> int:
        return int(struct.unpack("<i", self.read(va, 4, what))[0])

    def read_u64(self, va: int, what: str | None = None) -> int:
        return int(struct.unpack("<Q", self.read(va, 8, what))[0])

    def read_word(self, va: int, what: str | None = None) -> int:
        return int(struct.unpack(self._word, self.read(va, self.word_size, what))[0])

    def read_cstring(self, va: int, limit: int = 256, what: str | None = None) -> bytes:
        """A NUL-terminated string of at most ``limit`` bytes (without the NUL)."""
        n = self.phys.page_size
        out = b""
        pos = va
        while len(out) < limit:
            chunk = self.read(pos, min(limit - len(out), n - pos % n), what)
            cut = chunk.find(b"\0")
            if cut >= 0:
                return out + chunk[:cut]
            out += chunk
            pos += len(chunk)
        return out

    def gather(
        self, vas: npt.ArrayLike, dtype: npt.DTypeLike
    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_]]:
        """Vectorised reads of one ``dtype`` value per virtual address: ``(values, ok)``."""
        phys, ok = self.paging.translate_many(vas)
        values, got = self.phys.gather(np.where(ok, phys, U64(0)), dtype)
        ok = ok & got
        values[~ok] = 0
        return values, ok

    def gather_words(
        self, vas: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
        """Vectorised ``unsigned long`` reads at virtual addresses, widened to uint64."""
        values, ok = self.gather(vas, "<u8" if self.word_size == 8 else "<u4")
        return values.astype(np.uint64), ok

    def readable_runs(self, start: int, size: int) -> list[tuple[int, int]]:
        """``(va, size)`` runs of ``[start, start + size)`` that are mapped and saved.

        For searches over a region with holes (a kernel image whose freed init or gap pages
        were not saved): each run can be read without an error.
        """
        n = self.phys.page_size
        first = start - start % n
        count = (start + size - first + n - 1) // n
        if count <= 0:
            return []
        vas = np.uint64(first) + np.arange(count, dtype=np.uint64) * np.uint64(n)
        phys, ok = self.paging.translate_many(vas)
        ok &= self.phys.is_saved(phys >> np.uint64(self.phys.page_shift))
        runs = []
        edges = np.flatnonzero(np.diff(np.concatenate(([0], ok.astype(np.int8), [0]))))
        for a, b in zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True):
            lo = max(int(vas[a]), start)
            hi = min(int(vas[b - 1]) + n, start + size)
            if hi > lo:
                runs.append((lo, hi - lo))
        return runs

    def is_mapped(self, va: int) -> bool:
        try:
            self.translate(va)
        except (TranslationError, NotInImageError):
            return False
        return True
