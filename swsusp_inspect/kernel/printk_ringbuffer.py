"""The 5.10+ lockless printk ring buffer, read out of the hibernated kernel's memory.

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

The walk is bounded by the ring's size; garbage counts, ids or positions end it with a message.
:mod:`~swsusp_inspect.kernel.printk` picks this reader or one of the older ``log_buf`` ones.

References:
    kernel/printk/printk_ringbuffer.{c,h} (5.10 -> now: ``get_data()``, ``DESC_*``,
    ``DATA_*`` macros), kernel/printk/printk.c ``log_buf_vmcoreinfo_setup()`` (5.10 -> now);
    kexec-tools vmcore-dmesg/vmcore-dmesg.c (``dump_dmesg_lockless()``); drgn
    ``drgn/helpers/linux/printk.py`` (read, not copied).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from swsusp_inspect.kernel.memory import KernelDataError
from swsusp_inspect.kernel.pagetables import VirtualMemory
from swsusp_inspect.kernel.vmcoreinfo import VmcoreInfo
from swsusp_inspect.model.kernel import LogRecord

__all__ = ["caller_name", "read_ringbuffer"]


def caller_name(cid: int) -> str:
    """``caller_id`` as the console prints it: ``C<cpu>`` in interrupt context, else
    ``T<pid>`` (``printk_info`` here, ``printk_log`` in 5.1-5.9)."""
    return f"C{cid & 0x7FFFFFFF}" if cid & 0x80000000 else f"T{cid}"


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
            caller=caller_name(int(self.caller_id[i])),
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
