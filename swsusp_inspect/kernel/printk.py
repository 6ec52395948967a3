"""The kernel log as it stood at the snapshot, read from the printk buffer in the image.

Three formats, each described by VMCOREINFO (as kexec-tools' vmcore-dmesg reads a kdump):

5.10+ lockless ring buffer (``SYMBOL(prb)``, kernel/printk/printk_ringbuffer.h)
    a descriptor ring and a text data ring: :mod:`~swsusp_inspect.kernel.printk_ringbuffer`
    describes and reads it.
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

from swsusp_inspect.kernel.memory import KernelDataError, KernelMemoryError
from swsusp_inspect.kernel.pagetables import VirtualMemory
from swsusp_inspect.kernel.printk_ringbuffer import caller_name, read_ringbuffer
from swsusp_inspect.kernel.vmcoreinfo import VmcoreInfo
from swsusp_inspect.model.kernel import LogRecord

__all__ = ["LogRecord", "format_dmesg", "read_log", "read_log_buf", "read_log_legacy"]

MAX_LOG_BUF = 1 << 28  # log_buf_len is at most 2^25 in practice; 256 MiB is absurd
LEVELS = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")


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
        caller = caller_name(int.from_bytes(data[at : at + 4], "little"))
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
