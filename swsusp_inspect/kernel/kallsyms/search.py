"""The kallsyms table found by its shape, for kernels whose VMCOREINFO does not locate it
(before 6.0), as vmlinux-to-elf does.

References:
    scripts/kallsyms.c ``write_src()`` (the layouts before 6.2, 6.1.y, 6.2+ and 7.x);
    vmlinux-to-elf ``kallsyms_finder.py`` (read, not copied).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from swsusp_inspect.kernel.kallsyms.decode import decode_addresses, name_offsets
from swsusp_inspect.kernel.kallsyms.location import KallsymsLocation
from swsusp_inspect.kernel.memory import KernelDataError, KernelMemoryError
from swsusp_inspect.kernel.pagetables import VirtualMemory

__all__ = ["find_kallsyms", "replace_loc"]

_DIGITS = b"".join(bytes([c]) + b"\0" for c in b"0123456789")


def find_kallsyms(
    vm: VirtualMemory, start: int, size: int, *, word_size: int, step: int = 4 << 20
) -> KallsymsLocation:
    """Look for the kallsyms arrays in ``[start, start + size)`` of kernel virtual memory.

    The region is normally the kernel image (text, then .rodata); it is read ``step`` bytes
    at a time (with overlap) and the search stops at the first table that checks out.
    Layouts (scripts/kallsyms.c ``write_src()``, each label aligned to the word size):

    * before 6.2 (and 6.1.y): ``offsets relative_base num_syms names markers
      [seqs_of_names] token_table token_index`` (or ``addresses num_syms ...``);
    * 6.2+: ``num_syms names markers token_table token_index offsets relative_base
      seqs_of_names``.

    Checks: the token index is 256 increasing offsets whose tokens ``0x30..0x39`` are the
    digits; the markers are ``ceil(num_syms / 256)`` increasing offsets from 0 and
    ``markers[1]`` is where name 256 starts; the addresses are sorted.

    Raises:
        KernelDataError: nothing in the region has the shape of a kallsyms table.
        KernelMemoryError: the region could not be read.
    """
    overlap = 1 << 20
    for run_start, run_size in vm.readable_runs(start, size):
        pos = run_start
        end = run_start + run_size
        while pos < end:
            take = min(step + overlap, end - pos)
            blob = vm.read(pos, take, "kernel image (kallsyms search)")
            at = blob.find(_DIGITS)
            while at >= 0:
                found = _table_at(vm, blob, pos, at, word_size)
                if found is not None:
                    return found
                at = blob.find(_DIGITS, at + 1)
            pos += step
    raise KernelDataError(
        "kallsyms",
        start,
        None,
        "a token table with the ten digit tokens",
        "none",
        detail=f"{size:#x} bytes of kernel memory searched",
    )


def _table_at(
    vm: VirtualMemory, blob: bytes, base: int, at: int, word_size: int
) -> KallsymsLocation | None:
    # the token index follows the table: 256 increasing u16, [0x30] = offset of "0"
    pos = at
    for _ in range(256 - 0x30):
        end = blob.find(b"\0", pos)
        if end < 0 or end == pos or end - pos > 128:
            return None
        pos = end + 1
    for idx_off in range(pos + (pos % 2), pos + 2 * word_size + 2, 2):
        if idx_off + 512 > len(blob) or (base + idx_off) % 4:
            continue
        index = np.frombuffer(blob, dtype="<u2", count=256, offset=idx_off)
        if int(index[0]) != 0 or np.any(np.diff(index.astype(np.int64)) <= 0):
            continue
        table_off = at - int(index[0x30])
        if table_off < 0 or (base + table_off) % 4:
            continue
        if any(
            blob[table_off + int(index[c]) : table_off + int(index[c]) + 2] != bytes([c]) + b"\0"
            for c in b"0123456789"
        ):
            continue
        head = _names_before(vm, base + table_off, word_size)
        if head is None:
            continue
        num_addr, names_addr, markers_addr, count = head
        loc = KallsymsLocation(
            num_syms=num_addr,
            names=names_addr,
            token_table=base + table_off,
            token_index=base + idx_off,
            names_end=markers_addr,
            found_by="structure",
        )
        return _with_addresses(vm, loc, count, word_size)
    return None


def _names_before(
    vm: VirtualMemory, table: int, word_size: int
) -> tuple[int, int, int, int] | None:
    """``(num_syms, names, markers, count)`` before the token table at ``table``."""
    before = _read_before(vm, table, word_size)
    if before is None:
        return None
    words = before.words
    # markers[0] == 0 and markers[1] in 256..256*0x4001 (bytes of 256 names) and increasing
    m0 = np.flatnonzero(
        (words[:-2] == 0)
        & (words[1:-1] >= 512)
        & (words[1:-1] <= 256 * 0x4001)
        & (words[2:] > words[1:-1])
    )
    for m in m0[::-1].tolist():  # nearest to the table first
        k = _marker_count(before, m)
        if k is None:
            continue
        head = _head_before_markers(before, m, k)
        if head is not None:
            return head
    return None


@dataclass(frozen=True)
class _Before:
    """The readable memory that ends at the token table, as bytes and as ``u32`` words."""

    blob: bytes
    words: npt.NDArray[np.uint32]
    lo: int  # virtual address of blob[0]
    table: int  # virtual address of the token table (the end of blob)
    word_size: int


def _read_before(vm: VirtualMemory, table: int, word_size: int) -> _Before | None:
    """Up to 16 MiB of saved, mapped memory that ends at ``table`` (None when none is)."""
    span = min(16 << 20, table)
    runs = [r for r in vm.readable_runs(table - span, span) if r[0] + r[1] == table]
    if not runs:
        return None
    lo, span = runs[0]
    try:
        blob = vm.read(lo, span, "kallsyms (before the token table)")
    except KernelMemoryError:
        return None
    words = np.frombuffer(blob, dtype="<u4", count=len(blob) // 4)
    return _Before(blob, words, lo, table, word_size)


def _marker_count(before: _Before, m: int) -> int | None:
    """How many markers start at word ``m``, or None when no count fits the table's place."""
    vals = before.words[m:]
    steps = np.diff(vals.astype(np.int64))
    bad = np.flatnonzero((steps < 256) | (steps > 256 * 0x4001))
    run = int(bad[0]) + 1 if bad.size else int(vals.size)
    markers_addr = before.lo + 4 * m
    # the markers end just before the token table (or before 6.1.y's seqs_of_names,
    # 3 bytes per symbol, which end just before it); the run may take in a word more
    for k in (run, run - 1, run - 2):
        if k < 2:
            continue
        gap = before.table - (markers_addr + 4 * k)
        if 0 <= gap < 2 * before.word_size or (
            3 * 256 * (k - 1) < gap <= 3 * 256 * k + 2 * before.word_size
        ):
            return k
    return None


def _head_before_markers(before: _Before, m: int, k: int) -> tuple[int, int, int, int] | None:
    """``(num_syms, names, markers, count)`` for the ``k`` markers at word ``m``."""
    words, lo = before.words, before.lo
    markers_addr = lo + 4 * m
    last_marker = int(words[m + k - 1])
    # num_syms right before names, names right before the markers (aligned)
    hi_names = markers_addr - last_marker - 2  # names hold at least markers[-1] + 1
    lo_names = markers_addr - last_marker - 256 * (2 + 0x3FFF)
    q_lo = max(0, (lo_names - lo) // 4)
    q_hi = max(0, (hi_names - lo) // 4)
    cand = np.flatnonzero((words[q_lo:q_hi] > 256 * (k - 1)) & (words[q_lo:q_hi] <= 256 * k)) + q_lo
    for q in cand[::-1].tolist():
        num_addr = lo + 4 * q
        count = int(words[q])
        for names_addr in {num_addr + 4, num_addr + before.word_size}:
            if _names_fit(before, names_addr, count, m):
                return num_addr, names_addr, markers_addr, count
    return None


def _names_fit(before: _Before, names_addr: int, count: int, m: int) -> bool:
    """Whether ``count`` names from ``names_addr`` end just before the markers at word ``m``."""
    if names_addr % 4:
        return False
    rel = names_addr - before.lo
    # cheap test first: 256 names from here must end where markers[1] says
    if count > 256 and _skip_names(before.blob, rel, 256, 4 * m) != rel + int(before.words[m + 1]):
        return False
    try:
        _, _, used = name_offsets(before.blob[rel : 4 * m], count, names_addr)
    except KernelDataError:
        return False
    return before.lo + 4 * m - (names_addr + used) < before.word_size


def _skip_names(blob: bytes, off: int, n: int, end: int) -> int | None:
    """Offset after ``n`` compressed names from ``off`` in ``blob`` (None past ``end``)."""
    for _ in range(n):
        if off >= end:
            return None
        b0 = blob[off]
        if b0 & 0x80:
            if off + 1 >= end:
                return None
            off += 2 + ((b0 & 0x7F) | (blob[off + 1] << 7))
        else:
            off += 1 + b0
    return off if off <= end else None


def _with_addresses(
    vm: VirtualMemory, loc: KallsymsLocation, count: int, word_size: int
) -> KallsymsLocation | None:
    """Add the offsets / relative_base (or addresses) of whichever layout checks out."""

    def sorted_ok(cand: KallsymsLocation) -> bool:
        try:
            addrs, _ = decode_addresses(vm, cand, count)
        except KernelMemoryError:
            return False
        return bool(
            addrs.size == count
            and np.all(addrs[1:] >= addrs[:-1])
            and int(addrs[-1]) > int(addrs[0])
        )

    def up(x: int) -> int:
        return -(-x // word_size) * word_size

    cands = []
    # before 6.2: offsets, relative_base, num_syms (each aligned)
    rb = loc.num_syms - word_size
    for pad in range(0, word_size + 1, 4):
        cands.append(replace_loc(loc, offsets=rb - pad - 4 * count, relative_base=rb))
    cands.append(replace_loc(loc, addresses=loc.num_syms - word_size * count))
    # 6.2+: offsets after the token index, relative_base after them
    off = up(loc.token_index + 512)
    cands.append(replace_loc(loc, offsets=off, relative_base=up(off + 4 * count)))
    # 7.x: 4-aligned labels, PC-relative offsets after the token index, no relative_base
    cands.append(replace_loc(loc, offsets=loc.token_index + 512))
    for cand in cands:
        if sorted_ok(cand):
            return cand
    return None


def replace_loc(
    loc: KallsymsLocation,
    *,
    offsets: int | None = None,
    relative_base: int | None = None,
    addresses: int | None = None,
) -> KallsymsLocation:
    return replace(loc, offsets=offsets, relative_base=relative_base, addresses=addresses)
