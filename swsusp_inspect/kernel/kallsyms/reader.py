"""Lookups in the kallsyms table by name, decoding a few names each (:class:`Kallsyms`).

References:
    kernel/kallsyms.c ``kallsyms_lookup_name()``, ``kallsyms_expand_symbol()``,
    ``get_symbol_offset()`` (markers), ``kallsyms_seqs_of_names`` (6.2 and 6.1.y);
    scripts/kallsyms.c ``write_src()`` (where markers and seqs_of_names sit).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from swsusp_inspect.kernel.kallsyms.decode import (
    MAX_NAMES_BYTES,
    MAX_SYMS,
    KallsymsTable,
    decode_addresses,
    decode_kallsyms,
    token_strings,
)
from swsusp_inspect.kernel.kallsyms.location import KallsymsLocation
from swsusp_inspect.kernel.memory import KernelDataError, KernelMemoryError
from swsusp_inspect.kernel.pagetables import VirtualMemory

__all__ = ["Kallsyms", "read_kallsyms"]


def read_kallsyms(vm: VirtualMemory, loc: KallsymsLocation) -> KallsymsTable:
    """Decode the whole kallsyms table at ``loc`` (every name; see :class:`Kallsyms` for
    lookups by name without decoding them all).

    Raises:
        KernelDataError: a count, index or name that the kernel could not have written.
        KernelMemoryError: the arrays are in pages the image did not save or unmapped.
    """
    return Kallsyms(vm, loc).table()


class Kallsyms:
    """The kallsyms table of the image's kernel, read lazily.

    Creating it reads the count and the token table only.  :meth:`lookup` finds a name the
    way the kernel's ``kallsyms_lookup_name()`` does (6.2+ and 6.1.y): a binary search over
    ``kallsyms_seqs_of_names`` (symbol numbers sorted by name, 3 big-endian bytes each),
    expanding one name per step from the nearest ``kallsyms_markers`` entry, so a lookup
    reads a few dozen bytes of names and one offset.  Without those arrays (older kernels)
    the first lookup decodes the whole table (:meth:`table`).

    Raises (constructor):
        KernelDataError: a count or token table that the kernel could not have written.
        KernelMemoryError: the arrays are in pages the image did not save or unmapped.
    """

    def __init__(self, vm: VirtualMemory, loc: KallsymsLocation) -> None:
        self.vm = vm
        self.location = loc
        count = vm.read_u32(loc.num_syms, "kallsyms_num_syms")
        if not 0 < count <= MAX_SYMS:
            raise KernelDataError(
                "kallsyms_num_syms", loc.num_syms, None, f"1..{MAX_SYMS:#x}", count
            )
        self.count = count
        self.tokens = token_strings(vm, loc)
        limit = count * (2 + 0x3FFF)
        if loc.names_end is not None and loc.names_end > loc.names:
            limit = min(limit, loc.names_end - loc.names)
        self.names_limit = min(limit, MAX_NAMES_BYTES)
        self._window: tuple[int, bytes] = (0, b"")
        self._addresses: npt.NDArray[np.uint64] | None = None
        self.mode: str | None = None
        self._relative_base: int | None = None
        self._markers: npt.NDArray[np.uint32] | None = None
        self._seqs_at: int | None = None
        self._index_tried = False
        self._full: dict[str, list[tuple[int, str]]] | None = None

    def __len__(self) -> int:
        return self.count

    # -- reading the names a window at a time
    def _names(self, off: int, size: int) -> bytes:
        start, data = self._window
        if start <= off and off + size <= start + len(data):
            return data[off - start : off - start + size]
        if off < 0 or off + size > self.names_limit:
            raise KernelDataError(
                "kallsyms_names",
                self.location.names + off,
                None,
                f"within {self.names_limit:#x} bytes",
                f"{off + size:#x}",
            )
        take = min(max(size, 8192), self.names_limit - off)
        data = self.vm.read(self.location.names + off, take, "kallsyms_names")
        self._window = (off, data)
        return data[:size]

    def _skip(self, off: int, n: int) -> int:
        """Offset of the name ``n`` names after the one at ``off``."""
        self._names(off, 1)
        base, data = self._window
        for _ in range(n):
            rel = off - base
            if rel + 2 > len(data):
                self._names(off, 1)
                base, data = self._window
                rel = 0
            b0 = data[rel]
            if b0 & 0x80:
                if rel + 2 > len(data):
                    raise KernelDataError(
                        "kallsyms_names",
                        self.location.names + off,
                        None,
                        "a two-byte length",
                        "the end of the names",
                    )
                off += 2 + ((b0 & 0x7F) | (data[rel + 1] << 7))
            else:
                off += 1 + b0
        return off

    def _expand_at(self, off: int) -> tuple[str, str]:
        b0 = self._names(off, 1)[0]
        n, head = b0, 1
        if b0 & 0x80:
            n, head = (b0 & 0x7F) | (self._names(off + 1, 1)[0] << 7), 2
        if n == 0:
            raise KernelDataError("kallsyms_names", self.location.names + off, "length", "> 0", 0)
        text = b"".join(self.tokens[c] for c in self._names(off + head, n))
        return chr(text[0]), text[1:].decode("ascii", "replace")

    def _offset_of(self, i: int) -> int:
        markers = self._markers
        assert markers is not None
        return self._skip(int(markers[i >> 8]), i & 0xFF)

    def name_at(self, i: int) -> tuple[str, str]:
        """``(type, name)`` of symbol number ``i`` (kallsyms order)."""
        if not 0 <= i < self.count:
            raise IndexError(i)
        if self._ensure_index():
            return self._expand_at(self._offset_of(i))
        table = self.table()
        return table.types[i], table.names[i]

    # -- addresses
    def address_at(self, i: int) -> int:
        """Running address of symbol number ``i``."""
        if self._addresses is not None:
            return int(self._addresses[i])
        loc, vm = self.location, self.vm
        if loc.offsets is not None and loc.relative_base is None and loc.addresses is None:
            self.mode = "pc-relative"
            at = loc.offsets + 4 * i
            return (at + vm.read_s32(at, "kallsyms_offsets")) & ((1 << (8 * vm.word_size)) - 1)
        if loc.offsets is not None and loc.relative_base is not None:
            if self._relative_base is None:
                self._relative_base = vm.read_word(loc.relative_base, "kallsyms_relative_base")
                # the mode shows in the offsets of the first symbols (per-CPU ones first)
                first = np.frombuffer(
                    vm.read(loc.offsets, 4 * min(self.count, 64), "kallsyms_offsets"), dtype="<i4"
                )
                last = vm.read_s32(loc.offsets + 4 * (self.count - 1), "kallsyms_offsets")
                self.mode = "absolute-percpu" if (first < 0).any() or last < 0 else "relative"
            raw = vm.read_s32(loc.offsets + 4 * i, "kallsyms_offsets")
            wrap = (1 << (8 * vm.word_size)) - 1
            if self.mode == "absolute-percpu":
                return raw if raw >= 0 else (self._relative_base - 1 - raw) & wrap
            return (self._relative_base + (raw & 0xFFFFFFFF)) & wrap
        return int(self.addresses[i])

    @property
    def addresses(self) -> npt.NDArray[np.uint64]:
        """Every symbol's running address (reads the whole offsets array)."""
        if self._addresses is None:
            self._addresses, self.mode = decode_addresses(self.vm, self.location, self.count)
        return self._addresses

    # -- the name index (markers + seqs_of_names)
    def _ensure_index(self) -> bool:
        if self._index_tried:
            return self._seqs_at is not None
        self._index_tried = True
        try:
            self._markers = self._find_markers()
            if self._markers is not None:
                self._seqs_at = self._find_seqs()
        except KernelMemoryError:
            self._seqs_at = None
        if self._seqs_at is None:
            self._markers = None
        return self._seqs_at is not None

    def _markers_ok(self, markers: npt.NDArray[np.uint32]) -> bool:
        if (
            markers.size == 0
            or int(markers[0]) != 0
            or np.any(np.diff(markers.astype(np.int64)) <= 0)
            or int(markers[-1]) >= self.names_limit
        ):
            return False
        try:  # markers[1] and the last marker must be where walking the names gets to
            for k in {1, markers.size - 1} - {0}:
                if self._skip(int(markers[k - 1]), 256) != int(markers[k]):
                    return False
        except (KernelDataError, IndexError):
            return False
        return True

    def _find_markers(self) -> npt.NDArray[np.uint32] | None:
        loc, ws = self.location, self.vm.word_size
        mc = (self.count + 255) // 256
        token = loc.token_table
        cands = [token - 4 * mc - pad for pad in range(0, ws + 1, 4)]  # 6.2+
        for align in dict.fromkeys((ws, 4)):  # labels are word aligned (4-aligned in 7.x)
            seqs = _align_down(token - 3 * self.count, align)  # 6.1.y: markers, seqs, tokens
            for back in range(0, 2 * ws, 4):
                cands.append(seqs - 4 * mc - back)
        for addr in dict.fromkeys(cands):
            if addr % 4 or addr <= loc.names:
                continue
            try:
                raw = self.vm.read(addr, 4 * mc, "kallsyms_markers")
            except KernelMemoryError:
                continue
            markers = np.frombuffer(raw, dtype="<u4").copy()
            if self._markers_ok(markers):
                return markers
        return None

    def _seq(self, at: int, j: int) -> int:
        b = self.vm.read(at + 3 * j, 3, "kallsyms_seqs_of_names")
        return (b[0] << 16) | (b[1] << 8) | b[2]

    def _find_seqs(self) -> int | None:
        loc, ws = self.location, self.vm.word_size
        cands = []
        for align in dict.fromkeys((ws, 4)):  # labels are word aligned (4-aligned in 7.x)
            if loc.relative_base is not None:
                cands.append(_align_up(loc.relative_base + ws, align))  # 6.2+
            if loc.offsets is not None:
                cands.append(_align_up(loc.offsets + 4 * self.count, align))  # 7.x
            if loc.addresses is not None:  # 6.2-6.10 without CONFIG_KALLSYMS_BASE_RELATIVE
                cands.append(_align_up(loc.addresses + ws * self.count, align))
            cands.append(_align_down(loc.token_table - 3 * self.count, align))  # 6.1.y
        n = self.count
        probe = sorted(
            j for j in {0, 1, 2, n // 3, n // 3 + 1, n // 2, n // 2 + 1, n - 2, n - 1} if j < n
        )
        for at in dict.fromkeys(cands):
            try:
                seqs = [self._seq(at, j) for j in probe]
                if max(seqs) >= n:
                    continue
                names = [self._expand_at(self._offset_of(s))[1] for s in seqs]
            except (KernelMemoryError, IndexError):
                continue
            if names == sorted(names):
                return at
        return None

    # -- lookups
    def lookup_all(self, name: str) -> list[tuple[int, str]]:
        """Every ``(address, type)`` listed under ``name``, in kallsyms order."""
        return [(self.address_at(i), kind) for i, kind in self._indices(name)]

    def _indices(self, name: str) -> list[tuple[int, str]]:
        """``(symbol number, type)`` of every symbol named ``name``."""
        if not self._ensure_index():
            where = self._by_name()
            return where.get(name, [])
        at = self._seqs_at
        assert at is not None
        lo, hi = 0, self.count
        while lo < hi:  # first position whose name is >= name
            mid = (lo + hi) // 2
            if self.name_at(self._seq(at, mid))[1] < name:
                lo = mid + 1
            else:
                hi = mid
        hits = []
        while lo < self.count:
            i = self._seq(at, lo)
            kind, got = self.name_at(i)
            if got != name:
                break
            hits.append((i, kind))
            lo += 1
        return sorted(hits)

    def lookup(self, name: str) -> int | None:
        """The address of ``name``: a global (upper-case type) entry wins over local ones,
        else the first (as System.map is read)."""
        hits = self.lookup_all(name)
        if not hits:
            return None
        for addr, kind in hits:
            if kind.isupper():
                return addr
        return hits[0][0]

    def _by_name(self) -> dict[str, list[tuple[int, str]]]:
        """name -> [(symbol number, type)], from the whole table (no name index)."""
        if self._full is None:
            table = self.table()
            where: dict[str, list[tuple[int, str]]] = {}
            for i, (n, t) in enumerate(zip(table.names, table.types, strict=True)):
                where.setdefault(n, []).append((i, t))
            self._full = where
        return self._full

    def table(self) -> KallsymsTable:
        """Every symbol, decoded (vectorised; reads all of the names and offsets)."""
        blob = self.vm.read(self.location.names, self.names_limit, "kallsyms_names")
        names, types, _ = decode_kallsyms(blob, self.count, self.tokens, base=self.location.names)
        addresses = self.addresses
        assert self.mode is not None
        return KallsymsTable(tuple(names), types, addresses, self.mode, self.location)


def _align_up(x: int, a: int) -> int:
    return -(-x // a) * a


def _align_down(x: int, a: int) -> int:
    return x - x % a
