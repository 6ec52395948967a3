"""Kernel log text: dmesg (all flavours), journalctl, syslog, serial consoles, mail quotes.

References:
    arch/x86/kernel/e820.c ``e820__print_table()`` (``e820_print_map`` before 4.12):
    `` %s: %016Lx - %016Lx (type)`` (exclusive end; 2.4 -> 3.x) and
    ``%s: [mem %#018Lx-%#018Lx] type`` (inclusive end; 3.x -> now); who = ``BIOS-e820``,
    ``BIOS-88``, ``BIOS-e801``, ``Xen`` (dom0), ``extended`` (SETUP_E820_EXT, replaces the
    firmware table), ``user``/``modified`` (after ``mem=``/``memmap=``/MTRR trimming) and
    ``reserve setup_data`` (``e820__reserve_setup_data``; both print ``e820_table``, not the
    firmware table).  7.x kernels print ``System RAM``/``device reserved`` and ``[gap ...]``.
    ``__e820__range_update()``/``e820__range_remove()``: ``e820: update [mem A-B] old ==> new``,
    ``e820: remove [mem A-B] [old]`` (inclusive); an update followed by ``update
    e820_table_kexec for e820__memblock_alloc_reserved()`` touched only the kexec table.
    ``usable ==> usable`` is RAM -> E820_RESERVED_KERN (setup_data, 2.6.28 -> 6.x).
    kernel/power/snapshot.c ``__register_nosave_region()`` / ``mark_nosave_pages()``:
    ``[swsusp: |PM: |PM: hibernation: ]Registered nosave memory[ region]: %016lx - %016lx``
    (exclusive, 2.6.22 -> 3.10), ``... [mem %#010llx-%#010llx]`` (inclusive, 3.11+),
    ``Marking nosave pages: ...`` (same number formats, merged regions).  x86_64 2.6.19-2.6.21:
    ``Nosave address range: %016lx - %016lx``.
    mm/page_alloc.c ``Early memory node ranges`` / ``node %3d: [mem %#018Lx-%#018Lx]`` (all
    architectures; the only RAM description in arm64 logs).
    Xen hypervisor console: ``(XEN)  %016Lx - %016Lx (type)`` (old) and
    ``(XEN)  [%016Lx, %016Lx] (type)`` (new).

Messages are found anywhere in a line (``re.search``), so any prefix works: timestamps of every
dmesg flavour, caller ids, syslog/journald/RFC 3339 host prefixes, CI line numbers, ``> `` quotes.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from swsusp_inspect.e820.model import (
    Finding,
    MemoryMap,
    NosaveLog,
    RawEntry,
    check_entries,
    clip,
)
from swsusp_inspect.e820.nosave import PAGE_SHIFT, merge_calls
from swsusp_inspect.e820.readers.logpatterns import (
    BOGUS_PRE_TIMER,
    FW_WHO,
    KERNEL_WHO,
    MAX_LINE,
    RE_GAP,
    RE_HEAD,
    RE_HUNK,
    RE_JOURNAL_BOOT,
    RE_KEXEC_ONLY,
    RE_KTIME,
    RE_LINUX_VERSION,
    RE_NEW,
    RE_NODE,
    RE_NOSAVE_HEAD,
    RE_NOSAVE_NEW,
    RE_NOSAVE_OLD,
    RE_OLD,
    RE_QUOTE,
    RE_REMOVE,
    RE_UPDATE,
    RE_UPDATE_HEAD,
    RE_XEN_NEW,
    RE_XEN_OLD,
    U64_MAX,
    Has,
    looks_like_log,
    maybe,
)
from swsusp_inspect.e820.sanitize import U32, U64, apply_remove, apply_update, sanitize
from swsusp_inspect.e820.types import dmesg_name, type_from_log_name
from swsusp_inspect.errors import MapError
from swsusp_inspect.model.findings import Severity

__all__ = ["looks_like_log", "read_log"]

@dataclass
class _Event:
    kind: str  # "entry", "xen", "update", "remove", "kexec", "nosave", "node", "header"
    line: int
    who: str = ""
    start: int = 0
    size: int = 0
    type: int = 0
    name: str = ""
    old: int | None = None
    new: int | None = None
    nosave_kind: str = ""
    exclusive: bool = False


@dataclass
class _Boot:
    first_line: int
    events: list[_Event] = field(default_factory=list)

    def has_map(self) -> bool:
        return any(e.kind in ("entry", "xen", "node") for e in self.events)


def _hex(source: str, line: int, text: str) -> int:
    value = int(text, 16)
    if value > U64_MAX:
        raise MapError(source, line, f"address {clip(text)} does not fit in 64 bits")
    return value


def _continuation(raw: str) -> str | None:
    """The text of a line that continues a wrapped message, or None if it starts a new one."""
    text = RE_QUOTE.sub("", raw).strip()
    if not text or text.startswith("[") or " kernel: " in text or RE_KTIME.match(text):
        return None
    return text


def _complete(text: str) -> bool:
    """False when ``text`` starts a message this reader knows but holds only part of it."""
    has = Has.of(text)
    if has.who and RE_HEAD.search(text):
        m = RE_NEW.search(text) or RE_OLD.search(text)
        return m is not None and type_from_log_name(m.group("type")) is not None
    if has.edit and RE_UPDATE_HEAD.search(text):
        m = RE_UPDATE.search(text)
        if m is not None:
            return (type_from_log_name(m.group("old")) is not None
                    and type_from_log_name(m.group("new")) is not None)
        m = RE_REMOVE.search(text)
        return m is not None and (not m.group("old") or type_from_log_name(m.group("old"))
                                  is not None)
    if has.nosave and RE_NOSAVE_HEAD.search(text):
        return RE_NOSAVE_NEW.search(text) is not None
    return True


def _type_code(source: str, line: int, name: str) -> int:
    code = type_from_log_name(name)
    if code is None:
        if not name:
            raise MapError(source, line, "memory-map line has no type after ']'")
        raise MapError(source, line, f"unknown e820 type name {clip(name)!r}")
    return code


def _either(text: str, inclusive: re.Pattern[str], exclusive: re.Pattern[str]
            ) -> tuple[re.Match[str] | None, bool]:
    """The newer ``[mem a-b]`` form (inclusive end), else the older one (exclusive end):
    the match and whether its end is exclusive."""
    m = inclusive.search(text)
    if m is not None:
        return m, False
    m = exclusive.search(text)
    return m, m is not None


def _range(source: str, line: int, a: str, b: str, *, exclusive: bool) -> tuple[int, int]:
    """(start, size) from a printed range, checking it."""
    start, end = _hex(source, line, a), _hex(source, line, b)
    size = end - start if exclusive else end - start + 1
    if size < 0:
        raise MapError(source, line, f"end {clip(b)} is before start {clip(a)}")
    if start + size > U64_MAX:
        # the exclusive end (2**64 at the most) must fit a u64: the kernel's e820 code adds
        # addr + size in u64, and e820__update_table() refuses a table where that wraps
        raise MapError(source, line, f"range {clip(a)}-{clip(b)} reaches the end of the 64-bit "
                                     "address space: addr + size wraps")
    return start, size


def _parse_lines(source: str, lines: Sequence[str]) -> list[_Boot]:
    boots: list[_Boot] = [_Boot(1)]
    last_ts: float | None = None
    i = 0
    n = len(lines)
    while i < n:
        raw = lines[i]
        lineno = i + 1
        i += 1
        if RE_HUNK.match(raw):
            raise MapError(source, lineno,
                           "a unified diff hunk, not a kernel log: give each side as its own file")
        if len(raw) > MAX_LINE:
            if maybe(raw):
                raise MapError(source, lineno, f"line of {len(raw)} characters: longer than "
                                               f"any kernel log line ({MAX_LINE} at most), not "
                                               "read")
            continue
        # -- boot boundaries
        new_boot = bool(RE_JOURNAL_BOOT.match(raw.strip()))
        m_ts = RE_KTIME.search(raw) if "[" in raw else None
        if m_ts:
            ts = float(f"{m_ts.group(1)}.{m_ts.group(2)}")
            if last_ts is not None and ts == 0.0 and 0.0 < last_ts < BOGUS_PRE_TIMER:
                new_boot = True
            last_ts = ts
        if boots[-1].events and "Linux version" in raw and RE_LINUX_VERSION.search(raw):
            new_boot = True
        if new_boot and boots[-1].events:
            boots.append(_Boot(lineno))
        events = boots[-1].events
        if not maybe(raw):
            continue

        text = raw
        # -- join messages that a mailer or a terminal wrapped onto the next line
        if not _complete(text):
            joined = text
            for j in range(i, min(i + 2, n)):
                cont = _continuation(lines[j])
                if cont is None:
                    break
                sep = "" if joined.rstrip().endswith("-") else " "
                joined = joined.rstrip() + sep + cont
                if _complete(joined):
                    text, i = joined, j + 1
                    break

        has = Has.of(text)
        m, exclusive = _either(text, RE_NEW, RE_OLD) if has.who else (None, False)
        if m is not None:
            name = m.group("type")
            code = _type_code(source, lineno, name)
            start, size = _range(source, lineno, m.group("a"), m.group("b"), exclusive=exclusive)
            events.append(_Event("entry", lineno, who=m.group("who"), start=start, size=size,
                                 type=code, name=name))
            continue
        if has.who and RE_GAP.search(text):
            continue
        if has.who and RE_HEAD.search(text):
            if "[mem" in text and "]" not in text.split("[mem", 1)[1]:
                raise MapError(source, lineno, "memory-map line is cut short: no closing ']' "
                                               "and no type")
            if re.search(r"\]\s*$", text):
                raise MapError(source, lineno, "memory-map line has no type after ']'")
            raise MapError(source, lineno, "memory-map line cannot be read")
        m = (RE_XEN_OLD.search(text) or RE_XEN_NEW.search(text)) if has.xen else None
        if m is not None:
            exclusive = m.re is RE_XEN_OLD
            code = _type_code(source, lineno, m.group("type"))
            start, size = _range(source, lineno, m.group("a"), m.group("b"), exclusive=exclusive)
            events.append(_Event("xen", lineno, who="(XEN)", start=start, size=size, type=code,
                                 name=m.group("type")))
            continue
        m = RE_UPDATE.search(text) if has.edit else None
        if m is not None:
            start, size = _range(source, lineno, m.group("a"), m.group("b"), exclusive=False)
            old = _type_code(source, lineno, m.group("old"))
            new = _type_code(source, lineno, m.group("new"))
            if old == new == 1:
                new = 128  # "usable ==> usable": RAM -> E820_RESERVED_KERN
            events.append(_Event("update", lineno, start=start, size=size, old=old, new=new))
            continue
        m = RE_REMOVE.search(text) if has.edit else None
        if m is not None:
            start, size = _range(source, lineno, m.group("a"), m.group("b"), exclusive=False)
            checked = _type_code(source, lineno, m.group("old")) if m.group("old") else None
            events.append(_Event("remove", lineno, start=start, size=size, old=checked))
            continue
        if has.edit and RE_UPDATE_HEAD.search(text):
            raise MapError(source, lineno, "e820 edit line cannot be read")
        if "e820_table_kexec" in text and RE_KEXEC_ONLY.search(text):
            events.append(_Event("kexec", lineno))
            continue
        m, exclusive = (_either(text, RE_NOSAVE_NEW, RE_NOSAVE_OLD) if has.nosave
                        else (None, False))
        if m is not None:
            start, size = _range(source, lineno, m.group("a"), m.group("b"), exclusive=exclusive)
            kind = "marking" if m.group("kind").startswith("Marking") else "registered"
            events.append(_Event("nosave", lineno, start=start, size=size, nosave_kind=kind,
                                 exclusive=exclusive))
            continue
        if has.nosave and RE_NOSAVE_HEAD.search(text):
            raise MapError(source, lineno, "nosave line cannot be read")
        m = RE_NODE.search(text) if has.node else None
        if m is not None:
            start, size = _range(source, lineno, m.group("a"), m.group("b"), exclusive=False)
            events.append(_Event("node", lineno, start=start, size=size, type=1, name="node"))
            continue
        if "physical RAM map:" in text:
            events.append(_Event("header", lineno, name=text))
    return boots


def _entry(ev: _Event, source: str) -> RawEntry:
    return RawEntry(ev.start, ev.size, ev.type, dmesg_name(ev.type), source, ev.line)


def _blocks(events: list[_Event], kinds: tuple[str, ...]) -> list[list[_Event]]:
    """Consecutive runs of table lines with the same ``who`` (a restart of addresses splits)."""
    blocks: list[list[_Event]] = []
    current: list[_Event] = []
    for ev in events:
        if ev.kind in kinds:
            if current and (ev.who != current[-1].who or ev.start < current[-1].start):
                blocks.append(current)
                current = []
            current.append(ev)
        elif ev.kind in ("update", "remove", "nosave", "header") and current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def _build(source: str, boot: _Boot, index: int, count: int, findings: list[Finding]) -> MemoryMap:
    events = boot.events
    blocks = _blocks(events, ("entry",))
    firmware_blocks = [b for b in blocks if b[0].who in FW_WHO]
    fmt = "dmesg"
    has_checksum = True
    if not firmware_blocks:
        xen = _blocks(events, ("xen",))
        if xen:
            firmware_blocks = xen
            findings.append(Finding(
                Severity.INFO, "hypervisor-map",
                "the map is the Xen hypervisor's (XEN) table; a dom0 kernel hashes its own "
                "'Xen:' table", xen[-1][0].line))
        elif any(b[0].who in KERNEL_WHO for b in blocks):
            firmware_blocks = [b for b in blocks if b[0].who in KERNEL_WHO][:1]
            findings.append(Finding(
                Severity.WARNING, "no-firmware-table",
                f"no BIOS-e820 table; using the kernel's '{firmware_blocks[0][0].who}:' table, "
                "which is not the firmware table the checksum covers", firmware_blocks[0][0].line))
        else:
            nodes = [e for e in events if e.kind == "node"]
            if nodes:
                fmt = "node-ranges"
                has_checksum = False
                findings.append(Finding(
                    Severity.INFO, "node-ranges",
                    "no e820 table (not x86?): RAM from 'node N: [mem ...]' lines, everything "
                    "else is non-RAM", nodes[0].line))
                firmware_blocks = [nodes]
    if not firmware_blocks:
        nosave = sum(1 for e in events if e.kind == "nosave")
        last = events[-1].line if events else boot.first_line
        extra = f" ({nosave} nosave lines, but no table)" if nosave else ""
        raise MapError(source, last, f"no memory map: no BIOS-e820, Xen or node lines{extra}")
    if len(firmware_blocks) > 1:
        superseded = [b for b in firmware_blocks[:-1] if b[0].who != "BIOS-e820"
                      or firmware_blocks[-1][0].who != "extended"]
        if superseded and firmware_blocks[-1][0].who != "extended":
            findings.append(Finding(
                Severity.WARNING, "several-tables",
                f"{len(firmware_blocks)} firmware tables in one boot; using the last",
                firmware_blocks[-1][0].line))
    fw_block = firmware_blocks[-1]
    raw = [_entry(e, source) if e.kind != "node" else
           RawEntry(e.start, e.size, 1, "usable", source, e.line) for e in fw_block]
    # the kernel's table: firmware table, then printed kernel tables and edits, in log order,
    # up to the first Registered nosave line (e820__register_nosave_regions walks it then)
    fw_last_line = fw_block[-1].line
    state = _arrays_of(raw)
    edited = False
    first_nosave = next((e.line for e in events if e.kind == "nosave"
                         and e.nosave_kind == "registered"), None)
    kernel_blocks = {b[0].line: b for b in blocks if b[0].who in KERNEL_WHO
                     and b is not fw_block}
    # an update followed by "update e820_table_kexec for ..." edited only the kexec table
    kexec_only = {a.line for a, b in itertools.pairwise(events) if a.kind == "update"
                  and b.kind == "kexec"}
    for ev in events:
        if ev.line <= fw_last_line or (first_nosave is not None and ev.line > first_nosave):
            continue
        if ev.line in kernel_blocks:
            state = _keep_reserved_kern(
                state, _arrays_of([_entry(x, source) for x in kernel_blocks[ev.line]], clean=False))
            edited = True
        elif ev.kind == "update" and ev.line not in kexec_only:
            state = apply_update(*state, ev.start, ev.start + ev.size, old=int(ev.old or 0),
                                 new=int(ev.new or 0))
            edited = True
        elif ev.kind == "remove":
            state = apply_remove(*state, ev.start, ev.start + ev.size, old=ev.old)
            edited = True
    fw_end = max(e.start + e.size for e in fw_block)
    for b in kernel_blocks.values():
        if max(e.start + e.size for e in b) < fw_end:
            findings.append(Finding(
                Severity.WARNING, "kernel-table-short",
                f"the '{b[0].who}:' table ends at {max(e.start + e.size for e in b) - 1:#x}, "
                f"below the firmware table's {fw_end - 1:#x}: cut off in this capture, or "
                "mem=/memmap= limits", b[-1].line))
    modified = None
    if edited and fmt == "dmesg":
        s, e, t = state
        modified = MemoryMap(source, fmt, [
            RawEntry(int(a), int(b) - int(a), int(c), dmesg_name(int(c)), source, None)
            for a, b, c in zip(s, e, t, strict=True)])
    nosave_log = _nosave_log(events)
    if count > 1:
        findings.append(Finding(
            Severity.INFO, "boot", f"the log holds {count} boots; read boot {index} "
            f"(lines {boot.first_line}-); --boot N chooses another", boot.first_line))
    return MemoryMap(source, fmt, raw, printed=fmt == "dmesg", modified=modified,
                     nosave_log=nosave_log, findings=findings, boot=index if count > 1 else None,
                     boots=count if count > 1 else None, has_checksum=has_checksum)


def _arrays_of(entries: Sequence[RawEntry], *, clean: bool = True) -> tuple[U64, U64, U32]:
    check_entries(entries)
    s = np.array([e.start for e in entries], dtype=np.uint64)
    e = np.array([e.end_excl for e in entries], dtype=np.uint64)
    t = np.array([e.type for e in entries], dtype=np.uint32)
    return sanitize(s, e, t) if clean else (s, e, t)


def _keep_reserved_kern(before: tuple[U64, U64, U32], printed: tuple[U64, U64, U32]
                        ) -> tuple[U64, U64, U32]:
    """A printed table shows E820_RESERVED_KERN as "usable": keep 128 where the table had it."""
    bs, be, bt = before
    ps, pe, pt = printed
    pt = pt.copy()
    rk = bt == 128
    for i in np.flatnonzero(pt == 1):
        inside = rk & (bs <= ps[i]) & (be >= pe[i])
        if inside.any():
            pt[i] = 128
    return sanitize(ps, pe, pt)


def _nosave_log(events: list[_Event]) -> NosaveLog | None:
    reg = [e for e in events if e.kind == "nosave" and e.nosave_kind == "registered"]
    if reg:
        calls = tuple((e.start >> PAGE_SHIFT, (e.start + e.size) >> PAGE_SHIFT) for e in reg)
        return NosaveLog(calls, tuple(merge_calls(calls)), "registered",
                         tuple(e.line for e in reg))
    mark = [e for e in events if e.kind == "nosave" and e.nosave_kind == "marking"]
    if mark:
        # one hibernation prints the whole list; later attempts print it again
        calls = tuple((e.start >> PAGE_SHIFT, (e.start + e.size) >> PAGE_SHIFT) for e in mark)
        ranges = sorted(set(merge_calls(calls)))
        return NosaveLog(None, tuple(ranges), "marking", tuple(e.line for e in mark))
    return None


def read_log(source: str, text: str, boot: int | None = None) -> MemoryMap:
    """Read a kernel log; ``boot`` picks a boot (1-based; negative counts from the end).

    Without ``boot``, the last boot with a memory map; a log of several boots gives a map that
    can read its other boots (:meth:`MemoryMap.at_boot`), so a caller holding the image can
    pick the boot whose firmware table the image's e820 checksum names.
    """
    lines = text.splitlines()
    boots = [b for b in _parse_lines(source, lines) if b.events]
    if not boots:
        raise MapError(source, len(lines) or None,
                       "no memory map: no BIOS-e820, Xen, node or nosave lines")
    findings: list[Finding] = []
    count = len(boots)
    if boot is not None:
        if boot == 0 or not -count <= boot <= count:
            raise MapError(source, None, f"--boot {boot}: the log holds {count} boot(s)")
        index = boot if boot > 0 else count + boot + 1
        reason = f"--boot {boot}"
    else:
        with_map = [k for k, b in enumerate(boots, 1) if b.has_map()]
        index = with_map[-1] if with_map else count
        reason = "the last boot with a memory map"
        if with_map and index != count:
            findings.append(Finding(
                Severity.WARNING, "boot",
                f"the last boot (of {count}) has no memory map; read boot {index}, the last one "
                "with a map", boots[index - 1].first_line))
    m = _build(source, boots[index - 1], index, count, findings)
    if count > 1:
        m.set_boots(reason, given=boot is not None,
                    reader=lambda k: _build(source, boots[k - 1], k, count, []))
    return m
