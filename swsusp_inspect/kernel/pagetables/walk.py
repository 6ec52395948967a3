"""The page-table walker shared by every architecture: :class:`Paging` and :class:`Level`.

A format is a tuple of levels (index bits of the virtual address, whether a large page /
block may end the walk there), an entry size and a decoder saying, per entry, "present",
"leaf", the output address and "reserved descriptor".  :meth:`Paging.walk` walks many
addresses at once (one gather per level); :meth:`Paging.translate_leaf` walks one and names
the level and reason when it fails.

References:
    Intel SDM vol. 3A ch. 4 (paging); ARM ARM D8 (VMSAv8-64 translation).  drgn
    ``libdrgn/arch_x86_64.c`` / ``arch_aarch64.c`` ``linux_kernel_pgtable_iterator_next``;
    crash ``x86_64.c`` / ``arm64.c`` ``*_kvtop``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from swsusp_inspect.kernel.memory import (
    KernelDataError,
    NotInImageError,
    PhysicalMemory,
    TranslationError,
)

__all__ = ["Decoder", "Level", "Paging"]

U64 = np.uint64

# reasons a walk ends without an address (codes in the vector walk)
OK, NOT_IN_IMAGE, NOT_PRESENT, ABSURD, NON_CANONICAL, BAD_DESCRIPTOR = range(6)
_REASONS = {
    NOT_IN_IMAGE: "page-table page not in the image",
    NOT_PRESENT: "entry not present",
    ABSURD: "entry points past the largest physical address",
    NON_CANONICAL: "address outside the translated range",
    BAD_DESCRIPTOR: "reserved descriptor type",
}


@dataclass(frozen=True)
class Level:
    """One page-table level: index bits ``[shift, shift + bits)`` of the virtual address."""

    name: str
    shift: int
    bits: int
    leaf_ok: bool  # a large page / block may end the walk here


Decoder = Callable[
    [npt.NDArray[np.uint64], int, bool],
    tuple[
        npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.uint64], npt.NDArray[np.bool_]
    ],
]


class Paging:
    """A page-table format and root: translate virtual addresses of the hibernated kernel.

    Attributes:
        name: e.g. ``"x86_64 4-level"``, ``"i386 PAE"``, ``"arm64 4K 48-bit"``.
        root: physical address of the top-level table.
        levels: the levels, top first.
        entry_size: bytes per entry.
        va_bits: translated virtual address bits (addresses must be sign-extended from it,
            or lie below it for the 32-bit formats).
        max_phys: physical addresses at or above this are absurd.
    """

    def __init__(
        self,
        mem: PhysicalMemory,
        name: str,
        root: int,
        *,
        levels: tuple[Level, ...],
        entry_size: int,
        va_bits: int,
        decode: Decoder,
        max_phys: int,
        canonical: str = "sign",
        root_align: int | None = None,
    ) -> None:
        self.mem = mem
        self.name = name
        self.root = int(root)
        self.levels = levels
        self.entry_size = entry_size
        self.va_bits = va_bits
        self.max_phys = max_phys
        self._decode = decode
        self._canonical = canonical  # "sign" (x86_64), "upper" (arm64 TTBR1), "none" (i386)
        self._dtype = np.dtype("<u8") if entry_size == 8 else np.dtype("<u4")
        align = root_align if root_align is not None else mem.page_size
        if root < 0 or root >= max_phys or root % align:
            raise KernelDataError(
                f"{name} page-table root",
                root,
                None,
                f"aligned to {align:#x} below {max_phys:#x}",
                root,
                space="phys",
            )

    def _canonical_mask(self, va: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
        if self._canonical == "none":
            return np.asarray(va < U64(1 << self.va_bits))
        if self._canonical == "upper":  # arm64 TTBR1: bits va_bits..63 all ones
            return np.asarray((va >> U64(self.va_bits)) == U64((1 << (64 - self.va_bits)) - 1))
        # x86_64: bits va_bits-1..63 all equal (sign extension)
        top = va >> U64(self.va_bits - 1)
        ones = U64((1 << (64 - self.va_bits + 1)) - 1)
        return np.asarray((top == 0) | (top == ones))

    def walk(
        self, vas: npt.ArrayLike
    ) -> tuple[
        npt.NDArray[np.uint64],
        npt.NDArray[np.bool_],
        npt.NDArray[np.int8],
        npt.NDArray[np.int8],
        npt.NDArray[np.uint64],
    ]:
        """Vectorised walk: ``(phys, ok, reason, level_index, leaf_shift)`` per address.

        ``reason`` is 0 where ``ok``; ``level_index`` is the level that ended the walk;
        ``leaf_shift`` the log2 size of the mapping found (12, 21, 30, ...).
        """
        va = np.asarray(vas, dtype=np.uint64).ravel()
        n = va.size
        phys = np.zeros(n, dtype=np.uint64)
        reason = np.zeros(n, dtype=np.int8)
        level_at = np.zeros(n, dtype=np.int8)
        leaf_shift = np.zeros(n, dtype=np.uint64)
        alive = self._canonical_mask(va)
        reason[~alive] = NON_CANONICAL
        table = np.full(n, self.root, dtype=np.uint64)
        last = len(self.levels) - 1
        for li, lvl in enumerate(self.levels):
            idx = np.flatnonzero(alive)
            if idx.size == 0:
                break
            index = (va[idx] >> U64(lvl.shift)) & U64((1 << lvl.bits) - 1)
            ea = table[idx] + index * U64(self.entry_size)
            e, got = self.mem.gather(ea, self._dtype)
            e = e.astype(np.uint64)
            level_at[idx] = li
            miss = ~got
            present, leaf, addr, bad = self._decode(e, li, li == last)
            if li != last and not lvl.leaf_ok:
                bad = bad | leaf  # a large page / block where the format has none
            fail = np.full(idx.size, OK, dtype=np.int8)
            fail[~present] = NOT_PRESENT
            fail[bad & present] = BAD_DESCRIPTOR
            fail[miss] = NOT_IN_IMAGE
            good = fail == OK
            is_leaf = good if li == last else good & leaf
            absurd = good & (addr >= U64(self.max_phys))
            fail[absurd] = ABSURD
            good &= ~absurd
            is_leaf &= good
            # leaves: base | offset within the mapping
            off_mask = U64((1 << lvl.shift) - 1)
            li_idx = idx[is_leaf]
            phys[li_idx] = (addr[is_leaf] & ~off_mask) | (va[li_idx] & off_mask)
            leaf_shift[li_idx] = lvl.shift
            # tables: continue
            cont = good & ~is_leaf
            table[idx[cont]] = addr[cont]
            reason[idx[fail != OK]] = fail[fail != OK]
            alive[idx[fail != OK]] = False
            alive[li_idx] = False
        ok = (reason == OK) & (leaf_shift > 0)
        return phys, ok, reason, level_at, leaf_shift

    def translate_many(
        self, vas: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
        """Vectorised translation: ``(phys, ok)``; phys is 0 where not ok."""
        phys, ok, _, _, _ = self.walk(vas)
        return phys, ok

    def translate_leaf(self, va: int) -> tuple[int, int]:
        """``(phys, leaf_shift)`` for one virtual address (a scalar walk).

        Raises:
            TranslationError: the walk ended without a mapping (names the level and why).
        """
        one = np.array([va & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64)
        if not bool(self._canonical_mask(one)[0]):
            raise TranslationError(va, f"{_REASONS[NON_CANONICAL]} ({self.name})")
        table = self.root
        last = len(self.levels) - 1
        read = self.mem.read_u64 if self.entry_size == 8 else self.mem.read_u32
        for li, lvl in enumerate(self.levels):
            ea = table + ((va >> lvl.shift) & ((1 << lvl.bits) - 1)) * self.entry_size
            try:
                raw = read(ea)
            except NotInImageError:
                raise TranslationError(
                    va, f"{_REASONS[NOT_IN_IMAGE]} ({self.name})", level=lvl.name, entry_address=ea
                ) from None
            e = np.array([raw], dtype=np.uint64)
            present, leaf, addr_a, bad = self._decode(e, li, li == last)
            if li != last and not lvl.leaf_ok:
                bad = bad | leaf
            if not present[0]:
                raise TranslationError(
                    va, f"{_REASONS[NOT_PRESENT]} ({self.name})", level=lvl.name, entry_address=ea
                )
            if bad[0]:
                raise TranslationError(
                    va,
                    f"{_REASONS[BAD_DESCRIPTOR]} {raw:#x} ({self.name})",
                    level=lvl.name,
                    entry_address=ea,
                )
            addr = int(addr_a[0])
            if addr >= self.max_phys:
                raise TranslationError(
                    va,
                    f"{_REASONS[ABSURD]}: {raw:#x} ({self.name})",
                    level=lvl.name,
                    entry_address=ea,
                )
            if li == last or leaf[0]:
                off = (1 << lvl.shift) - 1
                return (addr & ~off) | (va & off), lvl.shift
            table = addr
        raise TranslationError(va, f"no mapping ({self.name})")  # pragma: no cover

    def translate(self, va: int) -> int:
        """Physical address of one virtual address (see :meth:`translate_leaf`)."""
        return self.translate_leaf(va)[0]
