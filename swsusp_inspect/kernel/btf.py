"""The kernel's own BTF (BPF Type Format), read from the image: enum values by name.

A kernel built with CONFIG_DEBUG_INFO_BTF (Debian since 5.x) carries its type information in
the ``.BTF`` section, between the linker symbols ``__start_BTF`` and ``__stop_BTF``, loaded
with the rest of .rodata (so it is in the image).  This module reads just enough of it to get
an enumerator's value, e.g. ``PG_reserved`` of ``enum pageflags``, whose bit number changes
between kernel versions (12 in 6.1, 13 in 6.12).

Layout (include/uapi/linux/btf.h): ``struct btf_header {u16 magic = 0xeB9F; u8 version = 1;
u8 flags; u32 hdr_len; u32 type_off; u32 type_len; u32 str_off; u32 str_len;}``, offsets
relative to the end of the header; the type section is a sequence of ``struct btf_type
{u32 name_off; u32 info; u32 size_or_type;}`` (``info`` bits 24..28 = kind, 0..15 = vlen),
each followed by kind-specific data: for ``BTF_KIND_ENUM`` (6) ``vlen`` ``struct btf_enum
{u32 name_off; s32 val;}``; for ``BTF_KIND_ENUM64`` (19, 6.0+) ``struct btf_enum64 {u32
name_off; u32 val_lo32; u32 val_hi32;}``.  The string section is NUL-separated names.

Instead of walking every type (100k+ in a distribution kernel), the enum is found by its
name: the string offsets of ``pageflags`` and ``PG_reserved`` are looked up in the string
section, then the 4-byte-aligned words of the type section are searched (numpy) for a
``btf_type`` with that name and kind ENUM, and its entries for the enumerator.

References:
    include/uapi/linux/btf.h (4.18 -> now); Documentation/bpf/btf.rst; kernel/bpf/btf.c
    (``btf_parse_vmlinux()``, ``__start_BTF``); include/asm-generic/vmlinux.lds.h (``.BTF``).
"""

from __future__ import annotations

import struct

import numpy as np

from swsusp_inspect.kernel.memory import KernelDataError
from swsusp_inspect.kernel.pagetables import VirtualMemory

__all__ = ["BTF_MAGIC", "btf_enum_value", "enum_value_in"]

BTF_MAGIC = 0xEB9F
BTF_KIND_ENUM = 6
BTF_KIND_ENUM64 = 19
MAX_BTF = 64 << 20


def _string_offset(strings: bytes, name: str) -> int | None:
    key = b"\0" + name.encode() + b"\0"
    at = strings.find(key)
    return None if at < 0 else at + 1


def _header(blob: bytes, size: int, address: int) -> tuple[int, int, int, int]:
    """``(types start, types length, strings start, strings length)`` from the header."""
    if len(blob) < 24:
        raise KernelDataError("BTF header", address, None, "24 bytes", f"{len(blob)} bytes")
    magic, version, _flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
        "<HBBIIIII", blob
    )
    if magic != BTF_MAGIC or version != 1 or not 24 <= hdr_len <= 256:
        raise KernelDataError(
            "BTF header",
            address,
            "magic/version/hdr_len",
            "0xeb9f/1/24..256",
            f"{magic:#x}/{version}/{hdr_len}",
        )
    t0, s0 = hdr_len + type_off, hdr_len + str_off
    if t0 + type_len > size or s0 + str_len > size or type_off % 4:
        raise KernelDataError(
            "BTF header",
            address,
            "type/string sections",
            f"within {size:#x} bytes",
            f"types {t0:#x}+{type_len:#x}, strings {s0:#x}+{str_len:#x}",
        )
    return t0, type_len, s0, str_len


def _enum_in_words(
    words: np.ndarray, enum_off: int, name_off: int, first: int
) -> tuple[int | None, int]:
    """Search ``words[first:]`` for the enum; ``(value or None, words needed)``.

    ``words needed`` > ``len(words)`` means a candidate's entries run past what was read.
    """
    kinds = (words >> np.uint32(24)) & np.uint32(0x1F)
    lo = max(first, 0)
    cand = (
        np.flatnonzero(
            (words[lo:-1] == enum_off)
            & ((kinds[lo + 1 :] == BTF_KIND_ENUM) | (kinds[lo + 1 :] == BTF_KIND_ENUM64))
        )
        + lo
    )
    for i in cand.tolist():
        info = int(words[i + 1])
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        step = 2 if kind == BTF_KIND_ENUM else 3
        end = i + 3 + step * vlen
        if end > words.size:
            return None, end
        entries = words[i + 3 : end]
        hit = np.flatnonzero(entries[0::step] == name_off)
        if hit.size:
            k = int(hit[0]) * step
            if kind == BTF_KIND_ENUM:
                return int(entries[k + 1].astype(np.int32)), 0
            return int(entries[k + 1]) | (int(entries[k + 2]) << 32), 0
    return None, 0


def enum_value_in(blob: bytes, enum: str, name: str, *, address: int = 0) -> int | None:
    """The value of enumerator ``name`` of ``enum ENUM`` in raw BTF ``blob`` (None if absent).

    Raises:
        KernelDataError: the header is not a BTF header or its sections lie outside ``blob``.
    """
    t0, type_len, s0, str_len = _header(blob, len(blob), address)
    strings = blob[s0 : s0 + str_len]
    enum_off = _string_offset(strings, enum)
    name_off = _string_offset(strings, name)
    if enum_off is None or name_off is None:
        return None
    words = np.frombuffer(blob, dtype="<u4", count=type_len // 4, offset=t0)
    return _enum_in_words(words, enum_off, name_off, 0)[0]


def btf_enum_value(
    vm: VirtualMemory, start: int, stop: int, enum: str, name: str, *, step: int = 64 << 10
) -> int | None:
    """Look up an enumerator in the BTF between ``__start_BTF`` and ``__stop_BTF``.

    Reads the string and type sections ``step`` bytes at a time and stops as soon as both
    names and the enum are found (``enum pageflags`` sits in the first 5% of a Debian
    kernel's BTF, so about 100-250 KiB are read instead of 5 MiB).

    Raises:
        KernelDataError: the bounds or the header are not those of a BTF section.
        KernelMemoryError: a part that had to be read is not in the image.
    """
    size = stop - start
    if not 24 < size <= MAX_BTF:
        raise KernelDataError(
            "BTF", start, "__stop_BTF - __start_BTF", f"25..{MAX_BTF:#x} bytes", size
        )
    head = vm.read(start, 24, "BTF header")
    t0, type_len, s0, str_len = _header(head, size, start)
    # strings: grow until both names are found (names never span more than the overlap)
    strings = b""
    offs: dict[str, int | None] = {enum: None, name: None}
    while len(strings) < str_len and any(v is None for v in offs.values()):
        take = min(step, str_len - len(strings))
        strings += vm.read(start + s0 + len(strings), take, "BTF strings")
        for key, value in list(offs.items()):
            if value is None:
                offs[key] = _string_offset(strings, key)
    enum_off, name_off = offs[enum], offs[name]
    if enum_off is None or name_off is None:
        return None
    # types: 64 KiB windows from both ends in turn (the enum sat at 1% of 6.1's and 5% of
    # 6.12's type section, but at 80% of 7.2's); each window overlaps the next by a header
    base = start + t0
    total = 4 * (type_len // 4)
    starts = list(range(0, total, step))
    order = []
    lo_i, hi_i = 0, len(starts) - 1
    while lo_i <= hi_i:
        order.append(starts[lo_i])
        if hi_i != lo_i:
            order.append(starts[hi_i])
        lo_i += 1
        hi_i -= 1
    for lo in order:
        hi = min(lo + step + 12, total)
        value = _search_window(vm, base, total, lo, hi, enum_off=enum_off, name_off=name_off)
        if value is not None:
            return value
    return None


def _search_window(
    vm: VirtualMemory, base: int, total: int, lo: int, hi: int, *, enum_off: int, name_off: int
) -> int | None:
    """The enumerator's value if ``enum`` starts in type-section bytes ``[lo, hi)``."""
    words = np.frombuffer(vm.read(base + lo, hi - lo, "BTF types"), dtype="<u4")
    kinds = (words >> np.uint32(24)) & np.uint32(0x1F)
    cand = np.flatnonzero(
        (words[:-1] == enum_off) & ((kinds[1:] == BTF_KIND_ENUM) | (kinds[1:] == BTF_KIND_ENUM64))
    )
    for i in cand.tolist():
        info = int(words[i + 1])
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        stride = 2 if kind == BTF_KIND_ENUM else 3
        size = 4 * (3 + stride * vlen)
        at = lo + 4 * i
        if at + size > total:
            continue
        entry = np.frombuffer(vm.read(base + at, size, "BTF types"), dtype="<u4")
        value, _ = _enum_in_words(entry, enum_off, name_off, 0)
        if value is not None:
            return value
    return None
