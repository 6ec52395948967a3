"""``page->flags`` of every saved PFN at the snapshot, and the ``PG_reserved`` bit.

Where a PFN's ``struct page`` is (sizes and offsets from VMCOREINFO: ``SIZE(page)``,
``OFFSET(page.flags)``):

vmemmap (``SYMBOL(vmemmap)``, x86_64 6.x)
    ``vmemmap + pfn * SIZE(page)``; with KASLR ``vmemmap_base`` is randomised, and VMCOREINFO
    gives the running value.
sparse ``mem_section`` (``SYMBOL(mem_section)``, ``NUMBER(SECTION_SIZE_BITS)``,
``SIZE(mem_section)``, ``OFFSET(mem_section.section_mem_map)``, ``LENGTH(mem_section)``)
    section ``nr = pfn >> (SECTION_SIZE_BITS - PAGE_SHIFT)``; with CONFIG_SPARSEMEM_EXTREME
    (``LENGTH(mem_section) * PAGE_SIZE / SIZE(mem_section)`` = ``2^(MAX_PHYSMEM_BITS -
    SECTION_SIZE_BITS)``) ``SYMBOL(mem_section)`` is the value of ``struct mem_section
    **mem_section`` and the section is ``mem_section[nr / per_root][nr % per_root]``, else
    ``SYMBOL(mem_section)`` is the static array.  ``section_mem_map`` holds the encoded
    ``mem_map - section_start_pfn`` with flag bits below ``SECTION_MAP_LAST_BIT`` (5 or 6
    bits depending on version and CONFIG_ZONE_DEVICE; the encoded pointer is page aligned, so
    the low 6 bits are cleared here) and ``SECTION_HAS_MEM_MAP`` (bit 1); ``page = map + pfn *
    SIZE(page)``.  This covers vmemmap kernels too (x86_64 6.1 has no ``SYMBOL(vmemmap)``;
    arm64 has none).
flat ``mem_map`` (``SYMBOL(mem_map)``, i386 FLATMEM)
    ``mem_map`` is a pointer variable; ``page = mem_map + pfn * SIZE(page)`` (x86's
    ``ARCH_PFN_OFFSET`` is 0).

All addresses are translated and read vectorised (one page-table walk per level for all of
them, one read per distinct page), so 50k PFNs cost a few milliseconds.

``PG_reserved`` (its bit number moves: 12 in 6.1, 13 in 6.12) comes from, in order:

1. the kernel's own BTF: ``enum pageflags`` between ``__start_BTF`` and ``__stop_BTF``;
2. VMCOREINFO ``NUMBER(PG_private) - 1``: ``PG_reserved`` directly precedes ``PG_private`` in
   ``enum pageflags`` (include/linux/page-flags.h; checked in 6.1 and 6.12, where
   ``PG_private`` is 13 and 14, and proven against the samples' kpageflags);
3. nothing: the flags are still read, ``pg_reserved`` is None.

References:
    include/linux/mmzone.h (``SECTION_*``, ``__section_mem_map_addr()``), mm/sparse.c
    ``sparse_encode_mem_map()``, include/asm-generic/memory_model.h (``__pfn_to_page``),
    include/linux/page-flags.h ``enum pageflags``, kernel/vmcore_info.c (crash_core.c before
    6.9) ``crash_save_vmcoreinfo_init()``; makedumpfile ``get_mm_sparsemem()``; fs/proc/page.c
    ``stable_page_flags()`` (``KPF_RESERVED`` from ``PG_reserved``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from swsusp_inspect.arrays import unique
from swsusp_inspect.kernel.btf import btf_enum_value
from swsusp_inspect.kernel.memory import KernelDataError, KernelMemoryError
from swsusp_inspect.kernel.pagetables import VirtualMemory
from swsusp_inspect.kernel.vmcoreinfo import VmcoreInfo

__all__ = ["PageFlags", "page_addresses", "pg_reserved_bit", "read_page_flags"]

U64 = np.uint64
SECTION_HAS_MEM_MAP = 1 << 1
SECTION_FLAG_BITS = 6


@dataclass(frozen=True)
class PageFlags:
    """``page->flags`` per PFN.

    Attributes:
        pfns: the PFNs asked for (``uint64``).
        flags: ``page->flags`` of each (``uint64``; 0 where not ``readable``).
        readable: whether the ``struct page`` was in the image and mapped.
        memmap: how struct pages were located (``"vmemmap"``, ``"sparse"``, ``"flat"``).
        pg_reserved: the ``PG_reserved`` bit number, or None when it could not be established.
        pg_reserved_source: where the bit number came from (``"BTF enum pageflags"``,
            ``"VMCOREINFO NUMBER(PG_private) - 1"``) or why it is missing.
    """

    pfns: npt.NDArray[np.uint64]
    flags: npt.NDArray[np.uint64]
    readable: npt.NDArray[np.bool_]
    memmap: str
    pg_reserved: int | None
    pg_reserved_source: str

    def bit(self, bit: int) -> npt.NDArray[np.bool_]:
        """Where flag ``bit`` is set (False where not readable)."""
        return np.asarray(((self.flags >> U64(bit)) & U64(1)).astype(bool) & self.readable)

    @property
    def reserved(self) -> npt.NDArray[np.bool_] | None:
        """``PageReserved`` per PFN, or None when the bit number is unknown."""
        return None if self.pg_reserved is None else self.bit(self.pg_reserved)


def _need(info: VmcoreInfo, kind: str, name: str) -> int:
    table = {
        "SIZE": info.sizes,
        "NUMBER": info.numbers,
        "SYMBOL": info.symbols,
        "LENGTH": info.lengths,
    }[kind]
    v = table.get(name)
    if v is None:
        raise KernelDataError(
            "VMCOREINFO", info.address, f"{kind}({name})", "present", "absent", space="phys"
        )
    return v


def page_addresses(
    vm: VirtualMemory, info: VmcoreInfo, pfns: npt.ArrayLike, *, page_size: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_], str]:
    """Virtual address of each PFN's ``struct page``: ``(addresses, ok, memmap kind)``.

    Raises:
        KernelDataError: VMCOREINFO lacks what every memory model needs.
    """
    p = np.asarray(pfns, dtype=np.uint64)
    size = U64(_need(info, "SIZE", "page"))
    if not 16 <= int(size) <= 512:
        raise KernelDataError(
            "VMCOREINFO", info.address, "SIZE(page)", "16..512", int(size), space="phys"
        )
    vmemmap = info.symbol("vmemmap")
    if vmemmap is not None:
        return U64(vmemmap) + p * size, np.ones(p.shape, dtype=bool), "vmemmap"
    if info.symbol("mem_section") is not None and info.number("SECTION_SIZE_BITS") is not None:
        return (*_sparse(vm, info, p, size, page_size), "sparse")
    mem_map = info.symbol("mem_map")
    if mem_map is not None:
        base = vm.read_word(mem_map, "mem_map")
        return U64(base) + p * size, np.ones(p.shape, dtype=bool), "flat"
    raise KernelDataError(
        "VMCOREINFO",
        info.address,
        "memory model",
        "SYMBOL(vmemmap), SYMBOL(mem_section) or SYMBOL(mem_map)",
        "none",
        space="phys",
    )


def _sparse(
    vm: VirtualMemory, info: VmcoreInfo, p: npt.NDArray[np.uint64], size: np.uint64, page_size: int
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
    w = vm.word_size
    page_shift = page_size.bit_length() - 1
    sec_bits = _need(info, "NUMBER", "SECTION_SIZE_BITS") - page_shift
    ms_size = _need(info, "SIZE", "mem_section")
    ms_off = info.offset("mem_section", "section_mem_map") or 0
    base = _need(info, "SYMBOL", "mem_section")
    length = info.length("mem_section")
    physmem_bits = info.number("MAX_PHYSMEM_BITS")
    if not 0 < sec_bits < 40 or not 8 <= ms_size <= page_size:
        raise KernelDataError(
            "VMCOREINFO",
            info.address,
            "SECTION_SIZE_BITS / SIZE(mem_section)",
            "plausible",
            f"{sec_bits + page_shift} / {ms_size}",
            space="phys",
        )
    per_root = page_size // ms_size
    extreme = (
        length is not None
        and physmem_bits is not None
        and length * per_root == 1 << (physmem_bits - sec_bits - page_shift)
    )
    nr = p >> U64(sec_bits)
    unr, inverse = np.unique(nr, return_inverse=True)
    if extreme:
        roots = unique(unr // U64(per_root))
        if length is not None and roots.size and int(roots[-1]) >= length:
            raise KernelDataError("mem_section", base, "root", f"< {length}", int(roots[-1]))
        root_ptr, root_ok = vm.gather_words(U64(base) + roots * U64(w))
        ptr = np.zeros(unr.size, dtype=np.uint64)
        ok = np.zeros(unr.size, dtype=bool)
        where = np.searchsorted(roots, unr // U64(per_root))
        ptr[:] = root_ptr[where]
        ok[:] = root_ok[where] & (ptr != 0)
        sec_addr = ptr + (unr % U64(per_root)) * U64(ms_size)
    else:
        sec_addr = U64(base) + unr * U64(ms_size)
        ok = np.ones(unr.size, dtype=bool)
    smm, got = vm.gather_words(np.where(ok, sec_addr + U64(ms_off), U64(0)))
    ok &= got & ((smm & U64(SECTION_HAS_MEM_MAP)) != 0)
    mem_map = smm & ~U64((1 << SECTION_FLAG_BITS) - 1)
    addr = mem_map[inverse.ravel()] + p * size
    if w == 4:
        addr &= U64(0xFFFFFFFF)
    return addr, ok[inverse.ravel()]


def pg_reserved_bit(
    vm: VirtualMemory, info: VmcoreInfo | None, lookup: Callable[[str], int | None] | None
) -> tuple[int | None, str]:
    """``(PG_reserved bit, source)``; the bit is None when nothing establishes it."""
    why = []
    if lookup is not None:
        start, stop = lookup("__start_BTF"), lookup("__stop_BTF")
        if start is not None and stop is not None:
            try:
                bit = btf_enum_value(vm, start, stop, "pageflags", "PG_reserved")
            except KernelMemoryError as exc:
                why.append(f"BTF: {exc}")
            else:
                if bit is not None and 0 <= bit < 8 * vm.word_size:
                    return bit, "BTF enum pageflags"
                why.append("BTF has no enum pageflags PG_reserved")
        else:
            why.append("no __start_BTF/__stop_BTF symbols")
    if info is not None:
        private = info.number("PG_private")
        if private is not None and 1 <= private < 8 * vm.word_size:
            return private - 1, "VMCOREINFO NUMBER(PG_private) - 1"
        why.append("VMCOREINFO has no NUMBER(PG_private)")
    return None, "; ".join(why) or "no BTF and no VMCOREINFO"


def read_page_flags(
    vm: VirtualMemory,
    info: VmcoreInfo,
    pfns: npt.ArrayLike,
    *,
    page_size: int,
    lookup: Callable[[str], int | None] | None = None,
) -> PageFlags:
    """``page->flags`` for ``pfns`` (vectorised) and the ``PG_reserved`` bit.

    Raises:
        KernelDataError: VMCOREINFO lacks the memory model.
    """
    p = np.asarray(pfns, dtype=np.uint64)
    addrs, ok, kind = page_addresses(vm, info, p, page_size=page_size)
    off = info.offset("page", "flags") or 0
    flags, got = vm.gather_words(np.where(ok, addrs + U64(off), U64(0)))
    readable = ok & got
    flags = np.where(readable, flags, U64(0)).astype(np.uint64)
    bit, source = pg_reserved_bit(vm, info, lookup)
    return PageFlags(p, flags, readable, kind, bit, source)
