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
from collections.abc import Sequence

import numpy as np

from swsusp_inspect.e820.model import Finding, MemoryMap, NosaveLog, RawEntry, check_entries
from swsusp_inspect.e820.nosave import PAGE_SHIFT, merge_calls
from swsusp_inspect.e820.readers.logevents import Boot, Event, parse_lines
from swsusp_inspect.e820.readers.logpatterns import FW_WHO, KERNEL_WHO, looks_like_log
from swsusp_inspect.e820.sanitize import U32, U64, apply_remove, apply_update, sanitize
from swsusp_inspect.e820.types import dmesg_name
from swsusp_inspect.errors import MapError
from swsusp_inspect.model.findings import Severity

__all__ = ["looks_like_log", "read_log"]


def _entry(ev: Event, source: str) -> RawEntry:
    return RawEntry(ev.start, ev.size, ev.type, dmesg_name(ev.type), source, ev.line)


def _blocks(events: list[Event], kinds: tuple[str, ...]) -> list[list[Event]]:
    """Consecutive runs of table lines with the same ``who`` (a restart of addresses splits)."""
    blocks: list[list[Event]] = []
    current: list[Event] = []
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


def _build(source: str, boot: Boot, index: int, count: int, findings: list[Finding]) -> MemoryMap:
    """The map of one boot (``index`` of ``count``): the firmware table as printed, the kernel's
    table after its edits, the nosave calls; ``findings`` gains what the log shows wrong."""
    events = boot.events
    blocks = _blocks(events, ("entry",))
    fw_block, fmt = _firmware_table(source, boot, blocks, findings)
    raw = [
        _entry(e, source)
        if e.kind != "node"
        else RawEntry(e.start, e.size, 1, "usable", source, e.line)
        for e in fw_block
    ]
    kernel_blocks = {b[0].line: b for b in blocks if b[0].who in KERNEL_WHO and b is not fw_block}
    state, edited = _kernel_table(source, events, raw, fw_block, kernel_blocks)
    _check_kernel_tables(fw_block, kernel_blocks, findings)
    modified = None
    if edited and fmt == "dmesg":
        s, e, t = state
        modified = MemoryMap(
            source,
            fmt,
            [
                RawEntry(int(a), int(b) - int(a), int(c), dmesg_name(int(c)), source, None)
                for a, b, c in zip(s, e, t, strict=True)
            ],
        )
    nosave_log = _nosave_log(events)
    if count > 1:
        findings.append(
            Finding(
                Severity.INFO,
                "boot",
                f"the log holds {count} boots; read boot {index} "
                f"(lines {boot.first_line}-); --boot N chooses another",
                boot.first_line,
            )
        )
    return MemoryMap(
        source,
        fmt,
        raw,
        printed=fmt == "dmesg",
        modified=modified,
        nosave_log=nosave_log,
        findings=findings,
        boot=index if count > 1 else None,
        boots=count if count > 1 else None,
        has_checksum=fmt == "dmesg",
    )


def _firmware_table(
    source: str, boot: Boot, blocks: list[list[Event]], findings: list[Finding]
) -> tuple[list[Event], str]:
    """The firmware table (the last one printed) and the map's format: ``"dmesg"``, or
    ``"node-ranges"`` when the boot has no e820 table at all.  Refuses a boot with no table."""
    firmware_blocks = [b for b in blocks if b[0].who in FW_WHO]
    fmt = "dmesg"
    if not firmware_blocks:
        firmware_blocks, fmt = _stand_in_tables(boot.events, blocks, findings)
    if not firmware_blocks:
        events = boot.events
        nosave = sum(1 for e in events if e.kind == "nosave")
        last = events[-1].line if events else boot.first_line
        extra = f" ({nosave} nosave lines, but no table)" if nosave else ""
        raise MapError(source, last, f"no memory map: no BIOS-e820, Xen or node lines{extra}")
    if len(firmware_blocks) > 1:
        superseded = [
            b
            for b in firmware_blocks[:-1]
            if b[0].who != "BIOS-e820" or firmware_blocks[-1][0].who != "extended"
        ]
        if superseded and firmware_blocks[-1][0].who != "extended":
            findings.append(
                Finding(
                    Severity.WARNING,
                    "several-tables",
                    f"{len(firmware_blocks)} firmware tables in one boot; using the last",
                    firmware_blocks[-1][0].line,
                )
            )
    return firmware_blocks[-1], fmt


def _stand_in_tables(
    events: list[Event], blocks: list[list[Event]], findings: list[Finding]
) -> tuple[list[list[Event]], str]:
    """With no firmware table printed: the Xen hypervisor's, else the kernel's first one, else
    the node ranges (format ``"node-ranges"``); none of them when the boot has none."""
    xen = _blocks(events, ("xen",))
    if xen:
        findings.append(
            Finding(
                Severity.INFO,
                "hypervisor-map",
                "the map is the Xen hypervisor's (XEN) table; a dom0 kernel hashes its own "
                "'Xen:' table",
                xen[-1][0].line,
            )
        )
        return xen, "dmesg"
    kernel = [b for b in blocks if b[0].who in KERNEL_WHO][:1]
    if kernel:
        findings.append(
            Finding(
                Severity.WARNING,
                "no-firmware-table",
                f"no BIOS-e820 table; using the kernel's '{kernel[0][0].who}:' table, "
                "which is not the firmware table the checksum covers",
                kernel[0][0].line,
            )
        )
        return kernel, "dmesg"
    nodes = [e for e in events if e.kind == "node"]
    if nodes:
        findings.append(
            Finding(
                Severity.INFO,
                "node-ranges",
                "no e820 table (not x86?): RAM from 'node N: [mem ...]' lines, everything "
                "else is non-RAM",
                nodes[0].line,
            )
        )
        return [nodes], "node-ranges"
    return [], "dmesg"


def _kernel_table(
    source: str,
    events: list[Event],
    raw: list[RawEntry],
    fw_block: list[Event],
    kernel_blocks: dict[int, list[Event]],
) -> tuple[tuple[U64, U64, U32], bool]:
    """The kernel's table, and whether the log shows it changed: the firmware table, then the
    printed kernel tables and edits, in log order, up to the first Registered nosave line
    (e820__register_nosave_regions walks it then)."""
    fw_last_line = fw_block[-1].line
    state = _arrays_of(raw)
    edited = False
    first_nosave = next(
        (e.line for e in events if e.kind == "nosave" and e.nosave_kind == "registered"), None
    )
    # an update followed by "update e820_table_kexec for ..." edited only the kexec table
    kexec_only = {
        a.line for a, b in itertools.pairwise(events) if a.kind == "update" and b.kind == "kexec"
    }
    for ev in events:
        if ev.line <= fw_last_line or (first_nosave is not None and ev.line > first_nosave):
            continue
        if ev.line in kernel_blocks:
            state = _keep_reserved_kern(
                state, _arrays_of([_entry(x, source) for x in kernel_blocks[ev.line]], clean=False)
            )
            edited = True
        elif ev.kind == "update" and ev.line not in kexec_only:
            state = apply_update(
                *state, ev.start, ev.start + ev.size, old=int(ev.old or 0), new=int(ev.new or 0)
            )
            edited = True
        elif ev.kind == "remove":
            state = apply_remove(*state, ev.start, ev.start + ev.size, old=ev.old)
            edited = True
    return state, edited


def _check_kernel_tables(
    fw_block: list[Event], kernel_blocks: dict[int, list[Event]], findings: list[Finding]
) -> None:
    """Warn of each kernel table that ends below the firmware table."""
    fw_end = max(e.start + e.size for e in fw_block)
    for b in kernel_blocks.values():
        if max(e.start + e.size for e in b) < fw_end:
            findings.append(
                Finding(
                    Severity.WARNING,
                    "kernel-table-short",
                    f"the '{b[0].who}:' table ends at {max(e.start + e.size for e in b) - 1:#x}, "
                    f"below the firmware table's {fw_end - 1:#x}: cut off in this capture, or "
                    "mem=/memmap= limits",
                    b[-1].line,
                )
            )


def _arrays_of(entries: Sequence[RawEntry], *, clean: bool = True) -> tuple[U64, U64, U32]:
    check_entries(entries)
    s = np.array([e.start for e in entries], dtype=np.uint64)
    e = np.array([e.end_excl for e in entries], dtype=np.uint64)
    t = np.array([e.type for e in entries], dtype=np.uint32)
    return sanitize(s, e, t) if clean else (s, e, t)


def _keep_reserved_kern(
    before: tuple[U64, U64, U32], printed: tuple[U64, U64, U32]
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


def _nosave_log(events: list[Event]) -> NosaveLog | None:
    reg = [e for e in events if e.kind == "nosave" and e.nosave_kind == "registered"]
    if reg:
        calls = tuple((e.start >> PAGE_SHIFT, (e.start + e.size) >> PAGE_SHIFT) for e in reg)
        return NosaveLog(calls, tuple(merge_calls(calls)), "registered", tuple(e.line for e in reg))
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
    boots = [b for b in parse_lines(source, lines) if b.events]
    if not boots:
        raise MapError(
            source, len(lines) or None, "no memory map: no BIOS-e820, Xen, node or nosave lines"
        )
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
            findings.append(
                Finding(
                    Severity.WARNING,
                    "boot",
                    f"the last boot (of {count}) has no memory map; read boot {index}, "
                    "the last one with a map",
                    boots[index - 1].first_line,
                )
            )
    m = _build(source, boots[index - 1], index, count, findings)
    if count > 1:
        m.set_boots(
            reason,
            given=boot is not None,
            reader=lambda k: _build(source, boots[k - 1], k, count, []),
        )
    return m
