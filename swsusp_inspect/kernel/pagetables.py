"""Virtual to physical translation through the hibernated kernel's own page tables.

One vectorised walker (numpy: many addresses at once, one read per distinct table page and
level) serves every architecture; an architecture is a list of levels plus how its entries
say "present", "large page / block" and "next table".  A walk has a fixed number of levels, so
a table that points at itself (a loop) cannot make it run forever; an entry pointing past the
largest physical address, or at a page the image did not save, ends that address's walk with a
reason (:class:`~swsusp_inspect.kernel.memory.TranslationError` for a single address).

Supported:
    x86_64, 4-level (48-bit VA) and 5-level (57-bit, ``NUMBER(pgtable_l5_enabled)=1``)
        paging, 1 GiB (PDPTE.PS) and 2 MiB (PDE.PS) pages; entry address bits 12..51,
        without the SME encryption bit (``NUMBER(sme_mask)``).  Root: the arch record's
        ``cr3`` (the kernel CR3 at the snapshot, PCID bits already cleared), else
        ``init_top_pgt`` at ``SYMBOL(init_top_pgt) - __START_KERNEL_map + phys_base``.
    i386 PAE (``CONFIG_X86_PAE=y`` in VMCOREINFO): 4-entry PDPT (32-byte aligned), PD with 2
        MiB pages, PT, 8-byte entries; non-PAE: PD with 4 MiB PSE pages (PSE-36 bits 13..20 =
        physical bits 32..39), PT, 4-byte entries.  Root: the arch record's ``cr3``, else
        ``swapper_pg_dir - PAGE_OFFSET``.
    arm64 (VMSAv8-64 stage 1, TTBR1 half): 4, 16 and 64 KiB granules, VA size from
        ``NUMBER(TCR_EL1_T1SZ)`` (64 - T1SZ) else ``NUMBER(VA_BITS)``; blocks at levels 1 (4
        KiB granule) and 2; table descriptors ``0b11`` above level 3, page descriptors ``0b11``
        at level 3, blocks ``0b01``; output address bits 47..granule (64 KiB granule with
        52-bit PA: descriptor bits 15..12 hold PA bits 51..48).  Root: the arch record's
        ``ttbr1_el1`` (= ``__pa_symbol(swapper_pg_dir)``), else ``swapper_pg_dir -
        kimage_voffset``.  Not handled: FEAT_LPA2 (52-bit PA with 4/16 KiB granules, 6.9+).

KASLR moves the kernel image (``KERNELOFFSET``) and, on x86_64, the direct map
(``page_offset_base``) and ``vmemmap_base``: a walk through the image's own tables needs none of
these numbers, which is why every translation here goes through the tables.

References:
    arch/x86/include/asm/pgtable_types.h (``_PAGE_PRESENT``, ``_PAGE_PSE``), pgtable_64_types.h
    (4/5-level shifts), pgtable-3level_types.h / pgtable-2level_types.h (i386 PAE / non-PAE);
    Intel SDM vol. 3A ch. 4 (paging; PSE-36).  arch/arm64/include/asm/pgtable-hwdef.h
    (``PTE_TYPE_*``, ``PTE_ADDR_HIGH``), ARM ARM D8 (VMSAv8-64 translation).
    arch/x86/power/hibernate.c / hibernate_64.c (``restore_cr3``), arch/arm64/kernel/hibernate.c
    (``arch_hibernation_header_save``: ``ttbr1_el1 = __pa_symbol(swapper_pg_dir)``).
    drgn ``libdrgn/arch_x86_64.c`` / ``arch_aarch64.c`` ``linux_kernel_pgtable_iterator_next``;
    crash ``x86_64.c`` / ``arm64.c`` ``*_kvtop``.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from swsusp_inspect.kernel.memory import (
    KernelDataError,
    NotInImageError,
    PhysicalMemory,
    TranslationError,
)

__all__ = [
    "Level",
    "Paging",
    "VirtualMemory",
    "arm64_paging",
    "i386_paging",
    "x86_64_paging",
]

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


Decoder = Callable[[npt.NDArray[np.uint64], int, bool], tuple[
    npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.uint64], npt.NDArray[np.bool_]]]


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

    def __init__(self, mem: PhysicalMemory, name: str, root: int, levels: tuple[Level, ...],
                 entry_size: int, va_bits: int, decode: Decoder, *, max_phys: int,
                 canonical: str = "sign", root_align: int | None = None) -> None:
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
            raise KernelDataError(f"{name} page-table root", root, None,
                                  f"aligned to {align:#x} below {max_phys:#x}", root,
                                  space="phys")

    def _canonical_mask(self, va: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
        if self._canonical == "none":
            return np.asarray(va < U64(1 << self.va_bits))
        if self._canonical == "upper":  # arm64 TTBR1: bits va_bits..63 all ones
            return np.asarray((va >> U64(self.va_bits)) == U64((1 << (64 - self.va_bits)) - 1))
        # x86_64: bits va_bits-1..63 all equal (sign extension)
        top = va >> U64(self.va_bits - 1)
        ones = U64((1 << (64 - self.va_bits + 1)) - 1)
        return np.asarray((top == 0) | (top == ones))

    def walk(self, vas: npt.ArrayLike) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_],
                                                 npt.NDArray[np.int8], npt.NDArray[np.int8],
                                                 npt.NDArray[np.uint64]]:
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

    def translate_many(self, vas: npt.ArrayLike) -> tuple[npt.NDArray[np.uint64],
                                                           npt.NDArray[np.bool_]]:
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
                raise TranslationError(va, f"{_REASONS[NOT_IN_IMAGE]} ({self.name})",
                                       level=lvl.name, entry_address=ea) from None
            e = np.array([raw], dtype=np.uint64)
            present, leaf, addr_a, bad = self._decode(e, li, li == last)
            if li != last and not lvl.leaf_ok:
                bad = bad | leaf
            if not present[0]:
                raise TranslationError(va, f"{_REASONS[NOT_PRESENT]} ({self.name})",
                                       level=lvl.name, entry_address=ea)
            if bad[0]:
                raise TranslationError(va, f"{_REASONS[BAD_DESCRIPTOR]} {raw:#x} ({self.name})",
                                       level=lvl.name, entry_address=ea)
            addr = int(addr_a[0])
            if addr >= self.max_phys:
                raise TranslationError(va, f"{_REASONS[ABSURD]}: {raw:#x} ({self.name})",
                                       level=lvl.name, entry_address=ea)
            if li == last or leaf[0]:
                off = (1 << lvl.shift) - 1
                return (addr & ~off) | (va & off), lvl.shift
            table = addr
        raise TranslationError(va, f"no mapping ({self.name})")  # pragma: no cover

    def translate(self, va: int) -> int:
        """Physical address of one virtual address (see :meth:`translate_leaf`)."""
        return self.translate_leaf(va)[0]


# -- x86 ---------------------------------------------------------------------------------------

_X86_P = U64(1)
_X86_PS = U64(0x80)


def _x86_decoder(addr_mask: int) -> Decoder:
    mask = U64(addr_mask)

    def decode(e: npt.NDArray[np.uint64], li: int, last: bool) -> tuple[
            npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.uint64],
            npt.NDArray[np.bool_]]:
        present = (e & _X86_P) != 0
        leaf = (e & _X86_PS) != 0
        return present, leaf, e & mask, np.zeros(e.shape, dtype=bool)

    return decode


def x86_64_paging(mem: PhysicalMemory, root: int, *, five_level: bool = False,
                  sme_mask: int = 0, max_physmem_bits: int = 52) -> Paging:
    """x86_64 4- or 5-level paging from the top-level table at physical ``root``."""
    levels: tuple[Level, ...] = (
        Level("PML4", 39, 9, False),
        Level("PDPT", 30, 9, True),
        Level("PD", 21, 9, True),
        Level("PT", 12, 9, False),
    )
    if five_level:
        levels = (Level("PML5", 48, 9, False), *levels)
    mask = 0x000FFFFFFFFFF000 & ~sme_mask
    return Paging(mem, "x86_64 5-level" if five_level else "x86_64 4-level",
                  root & mask, levels, 8, 57 if five_level else 48, _x86_decoder(mask),
                  max_phys=1 << max_physmem_bits)


def _i386_nonpae_decode(e: npt.NDArray[np.uint64], li: int, last: bool) -> tuple[
        npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.uint64],
        npt.NDArray[np.bool_]]:
    present = (e & _X86_P) != 0
    leaf = (e & _X86_PS) != 0 if li == 0 else np.ones(e.shape, dtype=bool)
    table = e & U64(0xFFFFF000)
    # 4 MiB PSE page: bits 22..31, and PSE-36 bits 13..20 = physical bits 32..39
    big = (e & U64(0xFFC00000)) | (((e >> U64(13)) & U64(0xFF)) << U64(32))
    addr = np.where(leaf & (li == 0), big, table)
    return present, leaf, addr, np.zeros(e.shape, dtype=bool)


def i386_paging(mem: PhysicalMemory, root: int, *, pae: bool) -> Paging:
    """i386 paging: PAE (3 levels, 8-byte entries) or the classic 2-level format."""
    levels: tuple[Level, ...]
    if pae:
        levels = (
            Level("PDPT", 30, 2, False),
            Level("PD", 21, 9, True),
            Level("PT", 12, 9, False),
        )
        mask = 0x000FFFFFFFFFF000
        return Paging(mem, "i386 PAE", root & 0xFFFFFFE0, levels, 8, 32, _x86_decoder(mask),
                      max_phys=1 << 52, canonical="none", root_align=32)
    levels = (Level("PD", 22, 10, True), Level("PT", 12, 10, False))
    return Paging(mem, "i386", root & 0xFFFFF000, levels, 4, 32, _i386_nonpae_decode,
                  max_phys=1 << 40, canonical="none")


# -- arm64 ---------------------------------------------------------------------------------------


def _arm64_decoder(page_shift: int) -> Decoder:
    # output address bits 47..page_shift; with 64 KiB pages bits 15..12 hold PA 51..48
    oa = U64(((1 << 48) - 1) & ~((1 << page_shift) - 1))

    def decode(e: npt.NDArray[np.uint64], li: int, last: bool) -> tuple[
            npt.NDArray[np.bool_], npt.NDArray[np.bool_], npt.NDArray[np.uint64],
            npt.NDArray[np.bool_]]:
        kind = e & U64(3)
        present = (kind & U64(1)) != 0
        if last:
            leaf = kind == U64(3)
            bad = kind == U64(1)  # a block descriptor is reserved at level 3
        else:
            leaf = kind == U64(1)
            bad = np.zeros(e.shape, dtype=bool)
        addr = e & oa
        if page_shift == 16:
            addr = addr | (((e >> U64(12)) & U64(0xF)) << U64(48))
        return present, leaf, addr, bad

    return decode


def arm64_paging(mem: PhysicalMemory, root: int, *, page_size: int, va_bits: int) -> Paging:
    """arm64 TTBR1 translation for ``page_size`` granule and ``va_bits`` virtual bits."""
    shift = page_size.bit_length() - 1
    if page_size not in (4096, 16384, 65536) or not 25 <= va_bits <= 52:
        raise KernelDataError("arm64 translation regime", None, "granule / VA bits",
                              "4/16/64 KiB and 25..52 bits", f"{page_size} / {va_bits}")
    per = shift - 3  # index bits per level
    n_levels = -(-(va_bits - shift) // per)
    levels = []
    for k in range(n_levels):
        lvl_no = 4 - n_levels + k  # architectural level number (0..3)
        lshift = shift + per * (n_levels - 1 - k)
        bits = min(per, va_bits - lshift)
        # blocks: level 1 only with 4 KiB granules, level 2 always; never at the top level
        leaf_ok = k > 0 and (lvl_no == 2 or (lvl_no == 1 and page_size == 4096))
        levels.append(Level(f"L{lvl_no}", lshift, bits, leaf_ok))
    # TTBR1_EL1.BADDR: bits 47..1 (CnP in bit 0, ASID in 63..48)
    base = root & 0x0000FFFFFFFFFFFE
    return Paging(mem, f"arm64 {page_size // 1024}K {va_bits}-bit", base, tuple(levels), 8,
                  va_bits, _arm64_decoder(shift), max_phys=1 << 52, canonical="upper",
                  root_align=8)


# -- virtual memory ------------------------------------------------------------------------------


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

    def translate_many(self, vas: npt.ArrayLike) -> tuple[npt.NDArray[np.uint64],
                                                           npt.NDArray[np.bool_]]:
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
            raise KernelDataError(what or "read", va, "size", f"<= {self.phys.saved_bytes:#x} "
                                  "(all the memory the image saved)", size)
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

    def gather(self, vas: npt.ArrayLike, dtype: npt.DTypeLike) -> tuple[
            npt.NDArray[Any], npt.NDArray[np.bool_]]:
        """Vectorised reads of one ``dtype`` value per virtual address: ``(values, ok)``."""
        phys, ok = self.paging.translate_many(vas)
        values, got = self.phys.gather(np.where(ok, phys, U64(0)), dtype)
        ok = ok & got
        values[~ok] = 0
        return values, ok

    def gather_words(self, vas: npt.ArrayLike) -> tuple[npt.NDArray[np.uint64],
                                                         npt.NDArray[np.bool_]]:
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
