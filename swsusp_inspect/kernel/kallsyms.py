"""kallsyms: the kernel's own symbol table, decoded from the saved memory.

``scripts/kallsyms`` compiles the symbol table into the kernel's .rodata:

``kallsyms_num_syms``
    ``unsigned int`` count.
``kallsyms_names``
    per symbol: a length byte (6.1+ "big symbols": ULEB128, two bytes when the high bit is
    set, ``len = (b0 & 0x7f) | (b1 << 7)``), then ``len`` token numbers.
``kallsyms_markers``
    ``unsigned int`` offset into ``kallsyms_names`` of every 256th symbol.
``kallsyms_token_table`` / ``kallsyms_token_index``
    256 NUL-terminated token strings, and a ``u16`` offset of each.  A name is the
    concatenation of its tokens; its first character is the symbol's type letter (``T``,
    ``t``, ``D``, ``b``, ...).
``kallsyms_offsets`` + ``kallsyms_relative_base`` (CONFIG_KALLSYMS_BASE_RELATIVE, 4.6+; the
only form from 6.11)
    ``int`` per symbol: ``relative_base + (u32)offset``, or with
    CONFIG_KALLSYMS_ABSOLUTE_PERCPU (x86_64 SMP until 6.15) a non-negative offset is the
    absolute value itself (per-CPU symbols) and a negative one is ``relative_base - 1 -
    offset``.  The mode is not recorded anywhere: a table with any negative offset is read
    as absolute-percpu (relative offsets are below 2 GiB, so never negative in the other
    mode); the caller checks the result against VMCOREINFO's ``SYMBOL(_stext)``.
``kallsyms_offsets`` without ``kallsyms_relative_base`` (7.x; seen on Debian 7.2.13)
    PC-relative: symbol ``i`` is at ``&kallsyms_offsets[i] + (s32)kallsyms_offsets[i]``
    (``offset_to_ptr()``); neither the table nor VMCOREINFO has a base any more.  Checked on
    the 7.2 sample: ``_text``, ``linux_banner``, ``e820_table_firmware`` land on System.map.
``kallsyms_addresses`` (before 4.6, and later configurations without BASE_RELATIVE)
    ``unsigned long`` address per symbol.

``relative_base`` and ``kallsyms_addresses`` are relocated at boot, so the decoded addresses
are the running (KASLR-slid) ones.  From 6.0 VMCOREINFO gives the addresses of these arrays
("vmcoreinfo: include kallsyms symbols", 5fd8fea935a1, and ``kallsyms_num_syms``,
f09bddbd8661).  Older kernels: :func:`find_kallsyms` looks for the table by its shape (as
vmlinux-to-elf does): the token table holds the ten digits as single-character tokens in a
row (``"0\\0" "1\\0" ... "9\\0"``), the token index that follows it gives each token's
offset, and the names end where the markers begin.

Debian's i386 and arm64 kernels are built without CONFIG_KALLSYMS_ALL: their kallsyms has the
text symbols (and a few linker symbols) only.

References:
    scripts/kallsyms.c ``write_src()`` (2.6.x -> now; big symbols 6.1, 73bbb94466fd;
    ``kallsyms_seqs_of_names`` 6.2 and 6.1.y stable; ``kallsyms_addresses`` gone in 6.11),
    kernel/kallsyms.c ``kallsyms_expand_symbol()``, ``kallsyms_sym_address()``,
    kernel/kallsyms_internal.h; kernel/vmcore_info.c (crash_core.c before 6.9)
    ``crash_save_vmcoreinfo_init()``.  drgn ``libdrgn/kallsyms.c``; vmlinux-to-elf
    ``kallsyms_finder.py`` (read, not copied).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from swsusp_inspect.kernel.memory import KernelDataError, KernelMemoryError
from swsusp_inspect.kernel.pagetables import VirtualMemory
from swsusp_inspect.kernel.vmcoreinfo import VmcoreInfo

__all__ = [
    "Kallsyms",
    "KallsymsLocation",
    "KallsymsTable",
    "decode_kallsyms",
    "find_kallsyms",
    "kallsyms_location",
    "read_kallsyms",
]

MAX_SYMS = 1 << 22  # a kernel has ~200k; more is corrupt
MAX_NAMES_BYTES = 64 << 20
_TYPE_LETTERS = frozenset(b"AaBbCcDdGgiINnpRrSsTtUuVvWw?-")


@dataclass(frozen=True)
class KallsymsLocation:
    """Where the kallsyms arrays are (kernel virtual addresses)."""

    num_syms: int
    names: int
    token_table: int
    token_index: int
    offsets: int | None = None
    relative_base: int | None = None
    addresses: int | None = None
    names_end: int | None = None  # an upper bound for the names (next array), if known
    found_by: str = "VMCOREINFO"


@dataclass(frozen=True)
class KallsymsTable:
    """The decoded table, in kallsyms order (sorted by address).

    Attributes:
        names: symbol names.
        types: nm type letters (``T``, ``t``, ``D``, ...).
        addresses: ``uint64`` running addresses.
        mode: ``"relative"``, ``"absolute-percpu"`` or ``"absolute"`` (kallsyms_addresses).
        location: where the arrays were.
    """

    names: tuple[str, ...]
    types: str
    addresses: npt.NDArray[np.uint64]
    mode: str
    location: KallsymsLocation

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[tuple[int, str, str]]:
        """``(address, type, name)`` per symbol."""
        for a, t, n in zip(self.addresses.tolist(), self.types, self.names, strict=True):
            yield int(a), t, n

    def mapping(self) -> tuple[dict[str, int], dict[str, str]]:
        """name -> address and name -> type: a global (upper-case) entry wins over local
        ones of the same name, else the first (as ``load_system_map`` keeps them)."""
        addrs: dict[str, int] = {}
        kinds: dict[str, str] = {}
        for a, t, n in self:
            kept = kinds.get(n)
            if kept is None or (kept.islower() and t.isupper()):
                addrs[n] = a
                kinds[n] = t
        return addrs, kinds


def kallsyms_location(info: VmcoreInfo) -> KallsymsLocation | None:
    """The arrays' addresses from VMCOREINFO (6.0+), or None when it has none."""
    sym = info.symbols
    need = ("kallsyms_num_syms", "kallsyms_names", "kallsyms_token_table",
            "kallsyms_token_index")
    if not all(k in sym for k in need):
        return None
    names = sym["kallsyms_names"]
    others = [v for k, v in sym.items() if k.startswith("kallsyms_") and v > names]
    return KallsymsLocation(
        num_syms=sym["kallsyms_num_syms"], names=names,
        token_table=sym["kallsyms_token_table"], token_index=sym["kallsyms_token_index"],
        offsets=sym.get("kallsyms_offsets"), relative_base=sym.get("kallsyms_relative_base"),
        addresses=sym.get("kallsyms_addresses"),
        names_end=min(others) if others else None)


def _tokens(vm: VirtualMemory, loc: KallsymsLocation) -> list[bytes]:
    index = np.frombuffer(vm.read(loc.token_index, 512, "kallsyms_token_index"), dtype="<u2")
    if int(index[0]) != 0 or np.any(np.diff(index.astype(np.int64)) <= 0):
        raise KernelDataError("kallsyms_token_index", loc.token_index, None,
                              "256 increasing offsets from 0",
                              f"{index[:4].tolist()}...")
    size = int(index[-1]) + 256
    table = vm.read(loc.token_table, size, "kallsyms_token_table")
    tokens = []
    for i, off in enumerate(index.tolist()):
        end = table.find(b"\0", off)
        if end < 0 or end == off:
            raise KernelDataError("kallsyms_token_table", loc.token_table + off, f"token {i}",
                                  "a non-empty NUL-terminated string",
                                  repr(table[off:off + 16]))
        tokens.append(table[off:end])
    return tokens


def _name_offsets(names: bytes, count: int, base: int) -> tuple[list[int], list[int], int]:
    """Offset of each symbol's length byte and its token count; the end offset."""
    heads: list[int] = []
    lens: list[int] = []
    off = 0
    size = len(names)
    for _ in range(count):  # one step per symbol: each length depends on the one before
        if off >= size:
            break
        heads.append(off)
        n = names[off]
        if n & 0x80:
            if off + 1 >= size:
                break
            n = (n & 0x7F) | (names[off + 1] << 7)
            off += 2 + n
        else:
            off += 1 + n
        lens.append(n)
    if len(lens) != count or off > size:
        raise KernelDataError("kallsyms_names", base, None,
                              f"{count} names within {size:#x} bytes",
                              f"{len(lens)} names ending at {off:#x}")
    if min(lens, default=1) == 0:
        raise KernelDataError("kallsyms_names", base, None, "no empty names",
                              f"an empty name at symbol {lens.index(0)}")
    return heads, lens, off


def decode_kallsyms(names: bytes, count: int, tokens: list[bytes], *,
                    base: int = 0) -> tuple[list[str], str, int]:
    """Expand ``count`` compressed names: ``(names, type letters, bytes used)``.

    Vectorised: each length byte becomes a separator pseudo-token, every token byte is
    replaced by its token with numpy, and the result is split once.
    """
    heads_l, lens_l, used = _name_offsets(names, count, base)
    heads = np.asarray(heads_l, dtype=np.int64)
    big = np.asarray(lens_l, dtype=np.int64) > 0x7F
    codes = np.frombuffer(names, dtype=np.uint8, count=used).astype(np.uint16)
    codes[heads] = 256  # the length byte: a "\n" separator
    codes[heads[big] + 1] = 257  # second byte of a big length: nothing
    tok_len = np.array([len(t) for t in tokens] + [1, 0], dtype=np.int32)
    tok_blob = np.frombuffer(b"".join(tokens) + b"\n", dtype=np.uint8)
    tok_start = (np.cumsum(tok_len) - tok_len).astype(np.int32)
    out_len = tok_len[codes]
    total = int(out_len.sum())
    if total > 64 * (1 << 20):
        raise KernelDataError("kallsyms_names", base, None, "under 64 MiB of names",
                              f"{total} bytes")
    first = np.cumsum(out_len, dtype=np.int64).astype(np.int32) - out_len
    index = np.repeat(tok_start[codes] - first, out_len)
    index += np.arange(total, dtype=np.int32)
    parts = tok_blob[index].tobytes().split(b"\n")[1:]
    if len(parts) != count or any(not p for p in parts):
        raise KernelDataError("kallsyms_names", base, None, "a type letter in every name",
                              "an empty expansion")
    types = bytes(p[0] for p in parts)
    bad = len(types) - sum(types.count(bytes([c])) for c in _TYPE_LETTERS)
    if bad > max(8, count // 100):
        raise KernelDataError("kallsyms_names", base, None, "nm type letters",
                              f"{bad} of {count} names without one")
    return ([p[1:].decode("ascii", "replace") for p in parts],
            types.decode("ascii", "replace"), used)


def _addresses(vm: VirtualMemory, loc: KallsymsLocation, count: int) -> tuple[
        npt.NDArray[np.uint64], str]:
    """Every address, and the table's mode."""
    wrap = (1 << (8 * vm.word_size)) - 1
    if loc.offsets is not None and loc.relative_base is None and loc.addresses is None:
        offs = np.frombuffer(vm.read(loc.offsets, 4 * count, "kallsyms_offsets"), dtype="<i4")
        where = np.int64(loc.offsets - (1 << 64) if loc.offsets >= 1 << 63 else loc.offsets)
        pcrel = where + 4 * np.arange(count, dtype=np.int64) + offs.astype(np.int64)
        return (pcrel.view(np.uint64) & np.uint64(wrap)).astype(np.uint64), "pc-relative"
    if loc.offsets is not None and loc.relative_base is not None:
        offs = np.frombuffer(vm.read(loc.offsets, 4 * count, "kallsyms_offsets"), dtype="<i4")
        base = vm.read_word(loc.relative_base, "kallsyms_relative_base")
        wrap = (1 << (8 * vm.word_size)) - 1
        if np.any(offs < 0):
            neg = offs < 0
            out = np.where(neg, (np.uint64(base - 1) - offs.astype(np.int64).astype(np.uint64)),
                           offs.astype(np.uint64))
            if vm.word_size == 4:
                out &= np.uint64(wrap)
            return out.astype(np.uint64), "absolute-percpu"
        out = np.uint64(base) + offs.view(np.uint32).astype(np.uint64)
        if vm.word_size == 4:
            out &= np.uint64(wrap)
        return out, "relative"
    if loc.addresses is not None:
        dt = "<u8" if vm.word_size == 8 else "<u4"
        raw = vm.read(loc.addresses, vm.word_size * count, "kallsyms_addresses")
        return np.frombuffer(raw, dtype=dt).astype(np.uint64), "absolute"
    raise KernelDataError("kallsyms", None, None,
                          "kallsyms_offsets + kallsyms_relative_base or kallsyms_addresses",
                          "neither")


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
            raise KernelDataError("kallsyms_num_syms", loc.num_syms, None,
                                  f"1..{MAX_SYMS:#x}", count)
        self.count = count
        self.tokens = _tokens(vm, loc)
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
            raise KernelDataError("kallsyms_names", self.location.names + off, None,
                                  f"within {self.names_limit:#x} bytes", f"{off + size:#x}")
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
                    raise KernelDataError("kallsyms_names", self.location.names + off, None,
                                          "a two-byte length", "the end of the names")
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
            raise KernelDataError("kallsyms_names", self.location.names + off, "length",
                                  "> 0", 0)
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
                first = np.frombuffer(vm.read(loc.offsets, 4 * min(self.count, 64),
                                              "kallsyms_offsets"), dtype="<i4")
                last = vm.read_s32(loc.offsets + 4 * (self.count - 1), "kallsyms_offsets")
                self.mode = ("absolute-percpu" if (first < 0).any() or last < 0
                             else "relative")
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
            self._addresses, self.mode = _addresses(self.vm, self.location, self.count)
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
        if (markers.size == 0 or int(markers[0]) != 0
                or np.any(np.diff(markers.astype(np.int64)) <= 0)
                or int(markers[-1]) >= self.names_limit):
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
        probe = sorted({0, 1, 2, n // 3, n // 3 + 1, n // 2, n // 2 + 1, n - 2, n - 1} & set(
            range(n)))
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
        names, types, _ = decode_kallsyms(blob, self.count, self.tokens,
                                          base=self.location.names)
        addresses = self.addresses
        assert self.mode is not None
        return KallsymsTable(tuple(names), types, addresses, self.mode, self.location)


def _align_up(x: int, a: int) -> int:
    return -(-x // a) * a


def _align_down(x: int, a: int) -> int:
    return x - x % a


# -- finding the table by its shape (kernels without kallsyms in VMCOREINFO) --------------------

_DIGITS = b"".join(bytes([c]) + b"\0" for c in b"0123456789")


def find_kallsyms(vm: VirtualMemory, start: int, size: int, *, word_size: int,
                  step: int = 4 << 20) -> KallsymsLocation:
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
    raise KernelDataError("kallsyms", start, None, "a token table with the ten digit tokens",
                          "none", detail=f"{size:#x} bytes of kernel memory searched")


def _table_at(vm: VirtualMemory, blob: bytes, base: int, at: int,
              word_size: int) -> KallsymsLocation | None:
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
        if any(blob[table_off + int(index[c]): table_off + int(index[c]) + 2]
               != bytes([c]) + b"\0" for c in b"0123456789"):
            continue
        head = _names_before(vm, base + table_off, word_size)
        if head is None:
            continue
        num_addr, names_addr, markers_addr, count = head
        loc = KallsymsLocation(num_syms=num_addr, names=names_addr,
                               token_table=base + table_off, token_index=base + idx_off,
                               names_end=markers_addr, found_by="structure")
        return _with_addresses(vm, loc, count, word_size)
    return None


def _names_before(vm: VirtualMemory, table: int,
                  word_size: int) -> tuple[int, int, int, int] | None:
    """``(num_syms, names, markers, count)`` before the token table at ``table``."""
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
    # markers[0] == 0 and markers[1] in 256..256*0x4001 (bytes of 256 names) and increasing
    m0 = np.flatnonzero((words[:-2] == 0) & (words[1:-1] >= 512)
                        & (words[1:-1] <= 256 * 0x4001) & (words[2:] > words[1:-1]))
    for m in m0[::-1].tolist():  # nearest to the table first
        vals = words[m:]
        steps = np.diff(vals.astype(np.int64))
        bad = np.flatnonzero((steps < 256) | (steps > 256 * 0x4001))
        run = int(bad[0]) + 1 if bad.size else int(vals.size)
        markers_addr = lo + 4 * m
        # the markers end just before the token table (or before 6.1.y's seqs_of_names,
        # 3 bytes per symbol, which end just before it); the run may take in a word more
        for k in (run, run - 1, run - 2):
            if k < 2:
                continue
            gap = table - (markers_addr + 4 * k)
            if 0 <= gap < 2 * word_size or (
                    3 * 256 * (k - 1) < gap <= 3 * 256 * k + 2 * word_size):
                break
        else:
            continue
        last_marker = int(vals[k - 1])
        # num_syms right before names, names right before the markers (aligned)
        hi_names = markers_addr - last_marker - 2  # names hold at least markers[-1] + 1
        lo_names = markers_addr - last_marker - 256 * (2 + 0x3FFF)
        q_lo = max(0, (lo_names - lo) // 4)
        q_hi = max(0, (hi_names - lo) // 4)
        cand = np.flatnonzero((words[q_lo:q_hi] > 256 * (k - 1))
                              & (words[q_lo:q_hi] <= 256 * k)) + q_lo
        for q in cand[::-1].tolist():
            num_addr = lo + 4 * q
            count = int(words[q])
            for names_addr in {num_addr + 4, num_addr + word_size}:
                if names_addr % 4:
                    continue
                rel = names_addr - lo
                # cheap test first: 256 names from here must end where markers[1] says
                if count > 256 and _skip_names(blob, rel, 256, 4 * m) != rel + int(vals[1]):
                    continue
                try:
                    _, _, used = _name_offsets(blob[rel:4 * m], count, names_addr)
                except KernelDataError:
                    continue
                if markers_addr - (names_addr + used) >= word_size:
                    continue
                return num_addr, names_addr, markers_addr, count
    return None


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


def _with_addresses(vm: VirtualMemory, loc: KallsymsLocation, count: int,
                    word_size: int) -> KallsymsLocation | None:
    """Add the offsets / relative_base (or addresses) of whichever layout checks out."""
    def sorted_ok(cand: KallsymsLocation) -> bool:
        try:
            addrs, _ = _addresses(vm, cand, count)
        except KernelMemoryError:
            return False
        return bool(addrs.size == count and np.all(addrs[1:] >= addrs[:-1])
                    and int(addrs[-1]) > int(addrs[0]))

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


def replace_loc(loc: KallsymsLocation, *, offsets: int | None = None,
                relative_base: int | None = None,
                addresses: int | None = None) -> KallsymsLocation:
    return replace(loc, offsets=offsets, relative_base=relative_base, addresses=addresses)
