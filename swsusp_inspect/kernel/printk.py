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
from collections.abc import Callable, Iterable
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
    col = 0 if ws == 8 else 1

    def off(key: str) -> int:
        s, f = key.split(".")
        v = info.offset(s, f)
        return _RB_DEFAULTS[key][col] if v is None else v

    def size(name: str) -> int:
        v = info.size(name)
        return _RB_SIZES[name][col] if v is None else v

    prb_sym = info.symbol("prb")
    if prb_sym is None:
        raise KernelDataError("printk ring buffer", None, "SYMBOL(prb)", "in VMCOREINFO",
                              "absent")
    rb = vm.read_word(prb_sym, "prb")
    desc_ring = rb + off("printk_ringbuffer.desc_ring")
    text_ring = rb + off("printk_ringbuffer.text_data_ring")
    count_bits = vm.read_u32(desc_ring + off("prb_desc_ring.count_bits"), "prb_desc_ring")
    if not 0 < count_bits <= 24:
        raise KernelDataError("prb_desc_ring", desc_ring, "count_bits", "1..24", count_bits)
    count = 1 << count_bits
    descs = vm.read_word(desc_ring + off("prb_desc_ring.descs"), "prb_desc_ring.descs")
    infos = vm.read_word(desc_ring + off("prb_desc_ring.infos"), "prb_desc_ring.infos")
    head_id = vm.read_word(desc_ring + off("prb_desc_ring.head_id"), "prb_desc_ring.head_id")
    tail_id = vm.read_word(desc_ring + off("prb_desc_ring.tail_id"), "prb_desc_ring.tail_id")
    size_bits = vm.read_u32(text_ring + off("prb_data_ring.size_bits"), "prb_data_ring")
    if not 0 < size_bits <= 28:
        raise KernelDataError("prb_data_ring", text_ring, "size_bits", "1..28", size_bits)
    data = vm.read_word(text_ring + off("prb_data_ring.data"), "prb_data_ring.data")
    data_size = 1 << size_bits

    bits = 8 * ws
    flags_shift = bits - 2
    id_mask = (1 << flags_shift) - 1
    n_ids = ((head_id - tail_id) & id_mask) + 1
    if n_ids > count:
        raise KernelDataError("prb_desc_ring", desc_ring, "tail_id..head_id",
                              f"at most {count} descriptors",
                              f"{tail_id:#x}..{head_id:#x} ({n_ids})")

    desc_size = size("prb_desc")
    info_size = size("printk_info")
    raw_descs = np.frombuffer(vm.read(descs, count * desc_size, "prb descs"), dtype=np.uint8)
    raw_infos = np.frombuffer(vm.read(infos, count * info_size, "printk_info array"),
                              dtype=np.uint8)
    text = vm.read(data, data_size, "printk text data ring")
    wdt = np.dtype("<u8") if ws == 8 else np.dtype("<u4")

    def column(raw: np.ndarray, stride: int, at: int, dt: Any) -> np.ndarray:
        dtt = np.dtype(dt)
        rows = raw.reshape(count, stride)[:, at:at + dtt.itemsize]
        out: np.ndarray = np.ascontiguousarray(rows).view(dtt).ravel().astype(np.uint64)
        return out

    lpos = off("prb_desc.text_blk_lpos")
    sv = column(raw_descs, desc_size, off("prb_desc.state_var"), wdt)
    begin = column(raw_descs, desc_size, lpos + off("prb_data_blk_lpos.begin"), wdt)
    nxt = column(raw_descs, desc_size, lpos + off("prb_data_blk_lpos.next"), wdt)
    seq = column(raw_infos, info_size, off("printk_info.seq"), "<u8")
    ts = column(raw_infos, info_size, off("printk_info.ts_nsec"), "<u8")
    tl_off = off("printk_info.text_len")
    text_len = column(raw_infos, info_size, tl_off, "<u2")
    fac = column(raw_infos, info_size, tl_off + 2, "u1")
    flv = column(raw_infos, info_size, tl_off + 3, "u1")
    cid = column(raw_infos, info_size, off("printk_info.caller_id"), "<u4")

    ids = (np.arange(n_ids, dtype=np.uint64) + np.uint64(tail_id)) & np.uint64(id_mask)
    idx = (ids & np.uint64(count - 1)).astype(np.int64)
    state = (sv[idx] >> np.uint64(flags_shift)) & np.uint64(3)
    valid = ((sv[idx] & np.uint64(id_mask)) == ids) & ((state == 1) | (state == 2))
    records = []
    mask = data_size - 1
    for i in idx[valid].tolist():  # one step per log record
        b, n_ = int(begin[i]), int(nxt[i])
        tlen = int(text_len[i])
        if b & 1:  # data-less: an empty line (EMPTY_LINE_LPOS) or lost text
            body = b""
        else:
            if (b >> size_bits) == (n_ >> size_bits) and b < n_:
                start, span = b & mask, n_ - b
            elif ((b + data_size) >> size_bits) == (n_ >> size_bits):
                start, span = 0, n_ & mask
            else:
                continue  # an illegal block description: the kernel skips it too
            if span < ws or start + span > data_size:
                continue
            body = text[start + ws : start + ws + min(tlen, span - ws)]
        records.append(LogRecord(
            seq=int(seq[i]), ts_nsec=int(ts[i]), level=int(flv[i]) >> 5,
            facility=int(fac[i]), caller=_caller(int(cid[i])),
            text=body.decode("utf-8", "replace")))
    records.sort(key=lambda r: r.seq if r.seq is not None else 0)
    return records


# -- 3.5 -> 5.9: struct printk_log records -------------------------------------------------------


def read_log_buf(vm: VirtualMemory, info: VmcoreInfo,
                 lookup: Callable[[str], int | None] | None = None) -> list[LogRecord]:
    """Records of the 3.5-5.9 ``log_buf`` (``struct printk_log`` / ``struct log``).

    ``lookup`` (optional) resolves ``log_first_seq`` to number the records.

    Raises:
        KernelDataError: indices or lengths the kernel could not have written.
    """
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

    o_ts, o_len = off("ts_nsec", 0), off("len", 8)
    o_tlen, o_dlen = off("text_len", 10), off("dict_len", 12)
    o_cid = info.offset(struct_name, "caller_id")
    buf = vm.read_word(info.symbols["log_buf"], "log_buf")
    buf_len = vm.read_u32(info.symbols["log_buf_len"], "log_buf_len")
    if not hdr < buf_len <= MAX_LOG_BUF:
        raise KernelDataError("log_buf_len", info.symbols["log_buf_len"], None,
                              f"{hdr + 1:#x}..{MAX_LOG_BUF:#x}", buf_len)
    first = vm.read_u32(info.symbols["log_first_idx"], "log_first_idx")
    nxt = vm.read_u32(info.symbols["log_next_idx"], "log_next_idx")
    if first >= buf_len or nxt >= buf_len:
        raise KernelDataError("log_buf", buf, "log_first_idx / log_next_idx",
                              f"< {buf_len:#x}", f"{first:#x} / {nxt:#x}")
    data = vm.read(buf, buf_len, "log_buf")
    seq: int | None = None
    if lookup is not None:
        addr = lookup("log_first_seq")
        if addr is not None:
            try:
                seq = vm.read_u64(addr, "log_first_seq")
            except KernelMemoryError:
                seq = None
    records = []
    idx = first
    wrapped = False
    for _ in range(buf_len // hdr + 2):  # every record is at least a header long
        if idx == nxt:
            break
        if idx + hdr > buf_len:
            raise KernelDataError("log_buf", buf + idx, struct_name, "a record header",
                                  "the end of the buffer")
        length = int.from_bytes(data[idx + o_len: idx + o_len + 2], "little")
        if length == 0:  # the writer wrapped: the next record is at index 0
            if wrapped:
                raise KernelDataError("log_buf", buf + idx, "len", "one wrap", "two")
            wrapped = True
            idx = 0
            continue
        if length < hdr or idx + length > buf_len:
            raise KernelDataError("log_buf", buf + idx, f"{struct_name}.len",
                                  f"{hdr}..{buf_len - idx:#x}", length)
        tlen = int.from_bytes(data[idx + o_tlen: idx + o_tlen + 2], "little")
        int.from_bytes(data[idx + o_dlen: idx + o_dlen + 2], "little")
        ts = int.from_bytes(data[idx + o_ts: idx + o_ts + 8], "little")
        fac = data[idx + o_dlen + 2]
        level = data[idx + o_dlen + 3] >> 5
        caller = None
        if o_cid is not None:
            caller = _caller(int.from_bytes(data[idx + o_cid: idx + o_cid + 4], "little"))
        text = data[idx + hdr: idx + hdr + min(tlen, length - hdr)]
        records.append(LogRecord(seq, ts, level, fac, caller, text.decode("utf-8", "replace")))
        if seq is not None:
            seq += 1
        idx += length
    else:
        raise KernelDataError("log_buf", buf, "log_first_idx..log_next_idx",
                              "a chain that reaches log_next_idx", "none")
    return records


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
        raise KernelDataError("log_buf_len", info.symbols["log_buf_len"], None,
                              "a power of two", buf_len)
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


def read_log(vm: VirtualMemory, info: VmcoreInfo,
             lookup: Callable[[str], int | None] | None = None) -> tuple[list[LogRecord], str]:
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
    raise KernelDataError("kernel log", None, None,
                          "SYMBOL(prb), SYMBOL(log_first_idx) or SYMBOL(log_end) in VMCOREINFO",
                          "none")
