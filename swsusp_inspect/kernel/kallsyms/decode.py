"""The kallsyms table decoded at once: names expanded from their tokens with numpy, and the
addresses in each of their forms (relative, absolute-percpu, PC-relative, absolute).

References:
    scripts/kallsyms.c ``write_src()`` (big symbols 6.1, 73bbb94466fd; ``kallsyms_addresses``
    gone in 6.11), kernel/kallsyms.c ``kallsyms_expand_symbol()``, ``kallsyms_sym_address()``,
    kernel/kallsyms_internal.h.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from swsusp_inspect.kernel.kallsyms.location import KallsymsLocation
from swsusp_inspect.kernel.memory import KernelDataError
from swsusp_inspect.kernel.pagetables import VirtualMemory

__all__ = [
    "MAX_NAMES_BYTES",
    "MAX_SYMS",
    "KallsymsTable",
    "decode_addresses",
    "decode_kallsyms",
    "name_offsets",
    "token_strings",
]

MAX_SYMS = 1 << 22  # a kernel has ~200k; more is corrupt
MAX_NAMES_BYTES = 64 << 20
_TYPE_LETTERS = frozenset(b"AaBbCcDdGgiINnpRrSsTtUuVvWw?-")


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


def token_strings(vm: VirtualMemory, loc: KallsymsLocation) -> list[bytes]:
    index = np.frombuffer(vm.read(loc.token_index, 512, "kallsyms_token_index"), dtype="<u2")
    if int(index[0]) != 0 or np.any(np.diff(index.astype(np.int64)) <= 0):
        raise KernelDataError(
            "kallsyms_token_index",
            loc.token_index,
            None,
            "256 increasing offsets from 0",
            f"{index[:4].tolist()}...",
        )
    size = int(index[-1]) + 256
    table = vm.read(loc.token_table, size, "kallsyms_token_table")
    tokens = []
    for i, off in enumerate(index.tolist()):
        end = table.find(b"\0", off)
        if end < 0 or end == off:
            raise KernelDataError(
                "kallsyms_token_table",
                loc.token_table + off,
                f"token {i}",
                "a non-empty NUL-terminated string",
                repr(table[off : off + 16]),
            )
        tokens.append(table[off:end])
    return tokens


def name_offsets(names: bytes, count: int, base: int) -> tuple[list[int], list[int], int]:
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
        raise KernelDataError(
            "kallsyms_names",
            base,
            None,
            f"{count} names within {size:#x} bytes",
            f"{len(lens)} names ending at {off:#x}",
        )
    if min(lens, default=1) == 0:
        raise KernelDataError(
            "kallsyms_names",
            base,
            None,
            "no empty names",
            f"an empty name at symbol {lens.index(0)}",
        )
    return heads, lens, off


def decode_kallsyms(
    names: bytes, count: int, tokens: list[bytes], *, base: int = 0
) -> tuple[list[str], str, int]:
    """Expand ``count`` compressed names: ``(names, type letters, bytes used)``.

    Vectorised: each length byte becomes a separator pseudo-token, every token byte is
    replaced by its token with numpy, and the result is split once.
    """
    heads_l, lens_l, used = name_offsets(names, count, base)
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
        raise KernelDataError(
            "kallsyms_names", base, None, "under 64 MiB of names", f"{total} bytes"
        )
    first = np.cumsum(out_len, dtype=np.int64).astype(np.int32) - out_len
    index = np.repeat(tok_start[codes] - first, out_len)
    index += np.arange(total, dtype=np.int32)
    parts = tok_blob[index].tobytes().split(b"\n")[1:]
    if len(parts) != count or any(not p for p in parts):
        raise KernelDataError(
            "kallsyms_names", base, None, "a type letter in every name", "an empty expansion"
        )
    types = bytes(p[0] for p in parts)
    bad = len(types) - sum(types.count(bytes([c])) for c in _TYPE_LETTERS)
    if bad > max(8, count // 100):
        raise KernelDataError(
            "kallsyms_names", base, None, "nm type letters", f"{bad} of {count} names without one"
        )
    return (
        [p[1:].decode("ascii", "replace") for p in parts],
        types.decode("ascii", "replace"),
        used,
    )


def decode_addresses(
    vm: VirtualMemory, loc: KallsymsLocation, count: int
) -> tuple[npt.NDArray[np.uint64], str]:
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
            out = np.where(
                neg,
                (np.uint64(base - 1) - offs.astype(np.int64).astype(np.uint64)),
                offs.astype(np.uint64),
            )
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
    raise KernelDataError(
        "kallsyms",
        None,
        None,
        "kallsyms_offsets + kallsyms_relative_base or kallsyms_addresses",
        "neither",
    )
