"""The kernel log as it stood at the snapshot, read from the printk buffer in the image.

Three formats, each described by VMCOREINFO (as kexec-tools' vmcore-dmesg reads a kdump):

5.10+ lockless ring buffer (``SYMBOL(prb)``, kernel/printk/printk_ringbuffer.h)
    ``prb`` points at a ``struct printk_ringbuffer``: a descriptor ring (``count_bits``,
    ``descs``, ``infos``, ``head_id``, ``tail_id``) and a text data ring (``size_bits``,
    ``data``, ``head_lpos``, ``tail_lpos``).  Descriptor ids run from ``tail_id`` to
    ``head_id``; ``descs[id % count].state_var`` holds the id (low bits) and the state (top two
    bits: reserved 0, committed 1, finalized 2, reusable 3); a committed or finalized
    descriptor whose id matches is a record.  Its ``text_blk_lpos`` (``begin``, ``next``)
    locates a data block ``{unsigned long id; char text[]}`` (a block that wraps starts at
    offset 0; ``begin`` with bit 0 set has no data, ``EMPTY_LINE_LPOS`` = 3 an empty line).
    ``infos[id % count]`` is the ``struct printk_info``: ``u64 seq``, ``u64 ts_nsec``, ``u16
    text_len``, ``u8 facility``, ``u8 flags:5, level:3``, ``u32 caller_id`` (``0x80000000 |
    cpu`` in interrupt context, else the task's pid).
3.5 -> 5.9 variable-length records (``SYMBOL(log_buf)``, ``SIZE(printk_log)``; ``struct log``
    and ``SIZE(log)`` in 3.5-3.10)
    ``char *log_buf`` holds ``struct printk_log {u64 ts_nsec; u16 len; u16 text_len; u16
    dict_len; u8 facility; u8 flags:5, level:3; [u32 caller_id, 5.1+ CONFIG_PRINTK_CALLER]}``
    records followed by text and dictionary, walked from ``log_first_idx`` to
    ``log_next_idx`` by ``len``; a record of ``len`` 0 means "wrap to index 0".
before 3.5: plain text (``SYMBOL(log_end)``, ``SYMBOL(logged_chars)``)
    a ``log_buf_len`` byte circular buffer of ``<level>[  seconds.micro] text`` lines ending at
    ``log_end`` (a running count), ``logged_chars`` of them valid.

The snapshot is taken inside ``swsusp_save()`` after it printed ``Need to copy N pages``;
``Image created (...)`` comes after the copy and is never in the saved log.

Every walk is bounded by the ring's size; garbage indices or lengths end it with a message.

References:
    kernel/printk/printk_ringbuffer.{c,h} (5.10 -> now: ``get_data()``, ``DESC_*``,
    ``DATA_*`` macros), kernel/printk/printk.c ``log_buf_vmcoreinfo_setup()`` (3.5 -> now),
    ``print_time()`` (``[%5lu.%06lu]``); kexec-tools vmcore-dmesg/vmcore-dmesg.c
    (``dump_dmesg_lockless()``, ``dump_dmesg_structured()``, ``dump_dmesg_legacy()``); drgn
    ``drgn/helpers/linux/printk.py`` (read, not copied).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from swsusp_inspect.kernel.memory import KernelDataError, KernelMemoryError
from swsusp_inspect.kernel.pagetables import VirtualMemory
from swsusp_inspect.kernel.vmcoreinfo import VmcoreInfo
from swsusp_inspect.model.kernel import LogRecord

__all__ = [
    "LogRecord",
    "format_dmesg",
    "read_log",
    "read_log_buf",
    "read_log_legacy",
    "read_ringbuffer",
]

MAX_LOG_BUF = 1 << 28  # log_buf_len is at most 2^25 in practice; 256 MiB is absurd
LEVELS = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")


def _caller(cid: int) -> str:
    return f"C{cid & 0x7FFFFFFF}" if cid & 0x80000000 else f"T{cid}"


def format_dmesg(records: Iterable[LogRecord], *, caller: bool = False) -> list[str]:
    """``dmesg`` lines: ``[seconds.micro] text`` (``[%5lu.%06lu]``), one per text line.

    With ``caller`` the caller id is added as the kernel's console does with
    CONFIG_PRINTK_CALLER (``[    T1]``).
    """
    out = []
    for r in records:
        prefix = ""
        if r.ts_nsec is not None:
            sec, ns = divmod(r.ts_nsec, 1_000_000_000)
            prefix = f"[{sec:5d}.{ns // 1000:06d}]"
        if caller and r.caller is not None:
            prefix += f"[{r.caller:>6}]"
        lines = r.text.split("\n") if r.text else [""]
        for line in lines:
            out.append(f"{prefix} {line}" if prefix else line)
    return out


# -- 5.10+ ring buffer ---------------------------------------------------------------------------

# struct layouts of 5.10 -> 6.x (kernel/printk/printk_ringbuffer.h), used where VMCOREINFO
# lacks an entry; (64-bit, 32-bit)
_RB_DEFAULTS: dict[str, tuple[int, int]] = {
    "printk_ringbuffer.desc_ring": (0, 0),
    "printk_ringbuffer.text_data_ring": (48, 24),
    "prb_desc_ring.count_bits": (0, 0),
    "prb_desc_ring.descs": (8, 4),
    "prb_desc_ring.infos": (16, 8),
    "prb_desc_ring.head_id": (24, 12),
    "prb_desc_ring.tail_id": (32, 16),
    "prb_desc.state_var": (0, 0),
    "prb_desc.text_blk_lpos": (8, 4),
    "prb_data_blk_lpos.begin": (0, 0),
    "prb_data_blk_lpos.next": (8, 4),
    "printk_info.seq": (0, 0),
    "printk_info.ts_nsec": (8, 8),
    "printk_info.text_len": (16, 16),
    "printk_info.caller_id": (20, 20),
    "prb_data_ring.size_bits": (0, 0),
    "prb_data_ring.data": (8, 4),
    "prb_data_ring.head_lpos": (16, 8),
    "prb_data_ring.tail_lpos": (24, 12),
}
_RB_SIZES: dict[str, tuple[int, int]] = {"prb_desc": (24, 12), "printk_info": (88, 80)}


def read_ringbuffer(vm: VirtualMemory, info: VmcoreInfo) -> list[LogRecord]:
    """Records of the 5.10+ lockless ring buffer, by sequence number.

    Raises:
        KernelDataError: counts, ids or positions the kernel could not have written.
        KernelMemoryError: the ring is in pages the image did not save or unmapped.
    """
    ws = vm.word_size
    lay = _RbLayout(info, 0 if ws == 8 else 1)
    ring = _read_ring(vm, info, lay)
    flags_shift = 8 * ws - 2
    id_mask = (1 << flags_shift) - 1
    n_ids = ((ring.head_id - ring.tail_id) & id_mask) + 1
    if n_ids > ring.count:
        raise KernelDataError(
            "prb_desc_ring",
            ring.desc_ring,
            "tail_id..head_id",
            f"at most {ring.count} descriptors",
            f"{ring.tail_id:#x}..{ring.head_id:#x} ({n_ids})",
        )
    descs = _read_descs(vm, ring, lay)
    infos = _read_infos(vm, ring, lay)
    text = vm.read(ring.data, ring.data_size, "printk text data ring")
    ids = (np.arange(n_ids, dtype=np.uint64) + np.uint64(ring.tail_id)) & np.uint64(id_mask)
    idx = (ids & np.uint64(ring.count - 1)).astype(np.int64)
    state = (descs.state_var[idx] >> np.uint64(flags_shift)) & np.uint64(3)
    valid = ((descs.state_var[idx] & np.uint64(id_mask)) == ids) & (
        (state == 1) | (state == 2)
    )  # committed or finalized
    records = []
    for i in idx[valid].tolist():  # one step per log record
        body = _block_text(
            text,
            int(descs.begin[i]),
            int(descs.next[i]),
            int(infos.text_len[i]),
            size_bits=ring.size_bits,
            word_size=ws,
        )
        if body is not None:
            records.append(infos.record(i, body))
    records.sort(key=lambda r: r.seq if r.seq is not None else 0)
    return records


@dataclass(frozen=True)
class _RbLayout:
    """Offsets and sizes of the ring's structs: VMCOREINFO's, else the 5.10 -> 6.x defaults
    (``col`` 0 for 64-bit kernels, 1 for 32-bit)."""

    info: VmcoreInfo
    col: int

    def off(self, key: str) -> int:
        s, f = key.split(".")
        v = self.info.offset(s, f)
        return _RB_DEFAULTS[key][self.col] if v is None else v

    def size(self, name: str) -> int:
        v = self.info.size(name)
        return _RB_SIZES[name][self.col] if v is None else v


@dataclass(frozen=True)
class _Ring:
    """The fields of ``struct printk_ringbuffer`` (``desc_ring``, ``text_data_ring``) read."""

    desc_ring: int
    count_bits: int
    descs: int
    infos: int
    head_id: int
    tail_id: int
    size_bits: int
    data: int

    @property
    def count(self) -> int:
        return 1 << self.count_bits

    @property
    def data_size(self) -> int:
        return 1 << self.size_bits


def _read_ring(vm: VirtualMemory, info: VmcoreInfo, lay: _RbLayout) -> _Ring:
    """``*prb``: the descriptor ring's and the text data ring's fields, checked."""
    prb_sym = info.symbol("prb")
    if prb_sym is None:
        raise KernelDataError("printk ring buffer", None, "SYMBOL(prb)", "in VMCOREINFO", "absent")
    off = lay.off
    rb = vm.read_word(prb_sym, "prb")
    desc_ring = rb + off("printk_ringbuffer.desc_ring")
    text_ring = rb + off("printk_ringbuffer.text_data_ring")
    count_bits = vm.read_u32(desc_ring + off("prb_desc_ring.count_bits"), "prb_desc_ring")
    if not 0 < count_bits <= 24:
        raise KernelDataError("prb_desc_ring", desc_ring, "count_bits", "1..24", count_bits)
    descs = vm.read_word(desc_ring + off("prb_desc_ring.descs"), "prb_desc_ring.descs")
    infos = vm.read_word(desc_ring + off("prb_desc_ring.infos"), "prb_desc_ring.infos")
    head_id = vm.read_word(desc_ring + off("prb_desc_ring.head_id"), "prb_desc_ring.head_id")
    tail_id = vm.read_word(desc_ring + off("prb_desc_ring.tail_id"), "prb_desc_ring.tail_id")
    size_bits = vm.read_u32(text_ring + off("prb_data_ring.size_bits"), "prb_data_ring")
    if not 0 < size_bits <= 28:
        raise KernelDataError("prb_data_ring", text_ring, "size_bits", "1..28", size_bits)
    data = vm.read_word(text_ring + off("prb_data_ring.data"), "prb_data_ring.data")
    return _Ring(
        desc_ring=desc_ring,
        count_bits=count_bits,
        descs=descs,
        infos=infos,
        head_id=head_id,
        tail_id=tail_id,
        size_bits=size_bits,
        data=data,
    )


def _column(raw: np.ndarray, count: int, stride: int, at: int, dt: Any) -> np.ndarray:
    """Field ``dt`` at offset ``at`` of each of ``count`` structs of ``stride`` bytes."""
    dtt = np.dtype(dt)
    rows = raw.reshape(count, stride)[:, at : at + dtt.itemsize]
    out: np.ndarray = np.ascontiguousarray(rows).view(dtt).ravel().astype(np.uint64)
    return out


@dataclass(frozen=True)
class _Descs:
    """``struct prb_desc`` columns: ``state_var`` and ``text_blk_lpos`` (begin, next)."""

    state_var: np.ndarray
    begin: np.ndarray
    next: np.ndarray


def _read_descs(vm: VirtualMemory, ring: _Ring, lay: _RbLayout) -> _Descs:
    stride = lay.size("prb_desc")
    raw = np.frombuffer(vm.read(ring.descs, ring.count * stride, "prb descs"), dtype=np.uint8)
    wdt = np.dtype("<u8") if vm.word_size == 8 else np.dtype("<u4")
    lpos = lay.off("prb_desc.text_blk_lpos")
    return _Descs(
        state_var=_column(raw, ring.count, stride, lay.off("prb_desc.state_var"), wdt),
        begin=_column(raw, ring.count, stride, lpos + lay.off("prb_data_blk_lpos.begin"), wdt),
        next=_column(raw, ring.count, stride, lpos + lay.off("prb_data_blk_lpos.next"), wdt),
    )


@dataclass(frozen=True)
class _Infos:
    """``struct printk_info`` columns: ``seq``, ``ts_nsec``, ``text_len``, ``facility``,
    ``flags:5, level:3``, ``caller_id``."""

    seq: np.ndarray
    ts_nsec: np.ndarray
    text_len: np.ndarray
    facility: np.ndarray
    flags_level: np.ndarray
    caller_id: np.ndarray

    def record(self, i: int, body: bytes) -> LogRecord:
        return LogRecord(
            seq=int(self.seq[i]),
            ts_nsec=int(self.ts_nsec[i]),
            level=int(self.flags_level[i]) >> 5,
            facility=int(self.facility[i]),
            caller=_caller(int(self.caller_id[i])),
            text=body.decode("utf-8", "replace"),
        )


def _read_infos(vm: VirtualMemory, ring: _Ring, lay: _RbLayout) -> _Infos:
    stride = lay.size("printk_info")
    raw = np.frombuffer(
        vm.read(ring.infos, ring.count * stride, "printk_info array"), dtype=np.uint8
    )
    n = ring.count
    tl_off = lay.off("printk_info.text_len")
    return _Infos(
        seq=_column(raw, n, stride, lay.off("printk_info.seq"), "<u8"),
        ts_nsec=_column(raw, n, stride, lay.off("printk_info.ts_nsec"), "<u8"),
        text_len=_column(raw, n, stride, tl_off, "<u2"),
        facility=_column(raw, n, stride, tl_off + 2, "u1"),
        flags_level=_column(raw, n, stride, tl_off + 3, "u1"),
        caller_id=_column(raw, n, stride, lay.off("printk_info.caller_id"), "<u4"),
    )


def _block_text(
    text: bytes, begin: int, nxt: int, text_len: int, *, size_bits: int, word_size: int
) -> bytes | None:
    """The text of the data block ``text_blk_lpos`` = ``(begin, nxt)`` locates (after its
    ``unsigned long id``), at most ``text_len`` bytes; None for an illegal block (the kernel
    skips those too)."""
    if begin & 1:  # data-less: an empty line (EMPTY_LINE_LPOS) or lost text
        return b""
    data_size = 1 << size_bits
    if (begin >> size_bits) == (nxt >> size_bits) and begin < nxt:
        start, span = begin & (data_size - 1), nxt - begin
    elif ((begin + data_size) >> size_bits) == (nxt >> size_bits):
        start, span = 0, nxt & (data_size - 1)  # the block wrapped: it starts at 0
    else:
        return None
    if span < word_size or start + span > data_size:
        return None
    return text[start + word_size : start + word_size + min(text_len, span - word_size)]


# -- 3.5 -> 5.9: struct printk_log records -------------------------------------------------------


def read_log_buf(
    vm: VirtualMemory, info: VmcoreInfo, lookup: Callable[[str], int | None] | None = None
) -> list[LogRecord]:
    """Records of the 3.5-5.9 ``log_buf`` (``struct printk_log`` / ``struct log``).

    ``lookup`` (optional) resolves ``log_first_seq`` to number the records.

    Raises:
        KernelDataError: indices or lengths the kernel could not have written.
    """
    lay = _log_layout(info)
    buf, buf_len, first, nxt = _log_buf_indices(vm, info, lay.size)
    data = vm.read(buf, buf_len, "log_buf")
    seq = _log_first_seq(vm, lookup)
    records = []
    for idx, length in _log_buf_chain(data, lay, buf=buf, first=first, nxt=nxt):
        records.append(_log_record(data, idx, length, lay, seq=seq))
        if seq is not None:
            seq += 1
    return records


@dataclass(frozen=True)
class _LogLayout:
    """``struct printk_log`` (``struct log`` in 3.5-3.10): its size and field offsets."""

    name: str
    size: int
    ts_nsec: int
    len: int
    text_len: int
    dict_len: int
    caller_id: int | None


def _log_layout(info: VmcoreInfo) -> _LogLayout:
    """The record header VMCOREINFO describes (5.x defaults for the offsets it lacks)."""
    struct_name = "printk_log" if info.size("printk_log") is not None else "log"
    hdr = info.size(struct_name)
    for name in ("log_buf", "log_buf_len", "log_first_idx", "log_next_idx"):
        if info.symbol(name) is None:
            raise KernelDataError("log_buf", None, f"SYMBOL({name})", "in VMCOREINFO", "absent")
    if hdr is None or not 8 <= hdr <= 64:
        raise KernelDataError("log_buf", None, f"SIZE({struct_name})", "8..64", hdr)

    def off(field: str, default: int) -> int:
        v = info.offset(struct_name, field)
        return default if v is None else v

    return _LogLayout(
        name=struct_name,
        size=hdr,
        ts_nsec=off("ts_nsec", 0),
        len=off("len", 8),
        text_len=off("text_len", 10),
        dict_len=off("dict_len", 12),
        caller_id=info.offset(struct_name, "caller_id"),
    )


def _log_buf_indices(vm: VirtualMemory, info: VmcoreInfo, hdr: int) -> tuple[int, int, int, int]:
    """``(log_buf, log_buf_len, log_first_idx, log_next_idx)``, checked against each other."""
    buf = vm.read_word(info.symbols["log_buf"], "log_buf")
    buf_len = vm.read_u32(info.symbols["log_buf_len"], "log_buf_len")
    if not hdr < buf_len <= MAX_LOG_BUF:
        raise KernelDataError(
            "log_buf_len",
            info.symbols["log_buf_len"],
            None,
            f"{hdr + 1:#x}..{MAX_LOG_BUF:#x}",
            buf_len,
        )
    first = vm.read_u32(info.symbols["log_first_idx"], "log_first_idx")
    nxt = vm.read_u32(info.symbols["log_next_idx"], "log_next_idx")
    if first >= buf_len or nxt >= buf_len:
        raise KernelDataError(
            "log_buf",
            buf,
            "log_first_idx / log_next_idx",
            f"< {buf_len:#x}",
            f"{first:#x} / {nxt:#x}",
        )
    return buf, buf_len, first, nxt


def _log_first_seq(vm: VirtualMemory, lookup: Callable[[str], int | None] | None) -> int | None:
    """``log_first_seq`` (the first record's number), when a symbol lookup finds it."""
    addr = None if lookup is None else lookup("log_first_seq")
    if addr is None:
        return None
    try:
        return vm.read_u64(addr, "log_first_seq")
    except KernelMemoryError:
        return None


def _log_buf_chain(
    data: bytes, lay: _LogLayout, *, buf: int, first: int, nxt: int
) -> Iterator[tuple[int, int]]:
    """``(index, len)`` of each record from ``first`` to ``nxt``, following one wrap to 0
    (a ``len`` of 0); bounded: every record is at least a header long."""
    buf_len, hdr = len(data), lay.size
    idx = first
    wrapped = False
    for _ in range(buf_len // hdr + 2):
        if idx == nxt:
            return
        if idx + hdr > buf_len:
            raise KernelDataError(
                "log_buf", buf + idx, lay.name, "a record header", "the end of the buffer"
            )
        length = int.from_bytes(data[idx + lay.len : idx + lay.len + 2], "little")
        if length == 0:  # the writer wrapped: the next record is at index 0
            if wrapped:
                raise KernelDataError("log_buf", buf + idx, "len", "one wrap", "two")
            wrapped = True
            idx = 0
            continue
        if length < hdr or idx + length > buf_len:
            raise KernelDataError(
                "log_buf", buf + idx, f"{lay.name}.len", f"{hdr}..{buf_len - idx:#x}", length
            )
        yield idx, length
        idx += length
    raise KernelDataError(
        "log_buf", buf, "log_first_idx..log_next_idx", "a chain that reaches log_next_idx", "none"
    )


def _log_record(
    data: bytes, idx: int, length: int, lay: _LogLayout, *, seq: int | None
) -> LogRecord:
    """The record whose header is at ``data[idx]`` (``length`` bytes with its text)."""
    tlen = int.from_bytes(data[idx + lay.text_len : idx + lay.text_len + 2], "little")
    ts = int.from_bytes(data[idx + lay.ts_nsec : idx + lay.ts_nsec + 8], "little")
    fac = data[idx + lay.dict_len + 2]
    level = data[idx + lay.dict_len + 3] >> 5
    caller = None
    if lay.caller_id is not None:
        at = idx + lay.caller_id
        caller = _caller(int.from_bytes(data[at : at + 4], "little"))
    text = data[idx + lay.size : idx + lay.size + min(tlen, length - lay.size)]
    return LogRecord(seq, ts, level, fac, caller, text.decode("utf-8", "replace"))


# -- before 3.5: plain text ----------------------------------------------------------------------

_LEGACY_LINE = re.compile(r"^(?:<(\d+)>)?(?:\[\s*(\d+)\.(\d+)\] ?)?(.*)$")


def read_log_legacy(vm: VirtualMemory, info: VmcoreInfo) -> list[LogRecord]:
    """Lines of the pre-3.5 text ``log_buf`` (``<level>[ sec.usec] text``)."""
    for name in ("log_buf", "log_end", "log_buf_len", "logged_chars"):
        if info.symbol(name) is None:
            raise KernelDataError("log_buf", None, f"SYMBOL({name})", "in VMCOREINFO", "absent")
    buf = vm.read_word(info.symbols["log_buf"], "log_buf")
    buf_len = vm.read_u32(info.symbols["log_buf_len"], "log_buf_len")
    if not 0 < buf_len <= MAX_LOG_BUF or buf_len & (buf_len - 1):
        raise KernelDataError(
            "log_buf_len", info.symbols["log_buf_len"], None, "a power of two", buf_len
        )
    end = vm.read_u32(info.symbols["log_end"], "log_end")
    chars = min(vm.read_u32(info.symbols["logged_chars"], "logged_chars"), buf_len)
    data = vm.read(buf, buf_len, "log_buf")
    stop = end & (buf_len - 1)
    start = (end - chars) & (buf_len - 1)
    text = data[start:stop] if start < stop or chars == 0 else data[start:] + data[:stop]
    records = []
    for line in text.decode("utf-8", "replace").split("\n"):
        if not line:
            continue
        m = _LEGACY_LINE.match(line)
        assert m is not None  # the pattern matches any line
        level = int(m.group(1)) & 7 if m.group(1) else None
        ts = None
        if m.group(2) is not None:
            ts = int(m.group(2)) * 1_000_000_000 + int(m.group(3).ljust(6, "0")[:6]) * 1000
        records.append(LogRecord(None, ts, level, None, None, m.group(4)))
    return records


def read_log(
    vm: VirtualMemory, info: VmcoreInfo, lookup: Callable[[str], int | None] | None = None
) -> tuple[list[LogRecord], str]:
    """The log in whichever format VMCOREINFO describes: ``(records, format)``.

    ``format`` is ``"printk_ringbuffer"`` (5.10+), ``"printk_log"`` (3.5-5.9) or ``"text"``.

    Raises:
        KernelDataError: no log described, or a log the kernel could not have written.
        KernelMemoryError: the log is not in the image.
    """
    if info.symbol("prb") is not None:
        return read_ringbuffer(vm, info), "printk_ringbuffer"
    if info.symbol("log_first_idx") is not None:
        return read_log_buf(vm, info, lookup), "printk_log"
    if info.symbol("log_end") is not None:
        return read_log_legacy(vm, info), "text"
    raise KernelDataError(
        "kernel log",
        None,
        None,
        "SYMBOL(prb), SYMBOL(log_first_idx) or SYMBOL(log_end) in VMCOREINFO",
        "none",
    )
