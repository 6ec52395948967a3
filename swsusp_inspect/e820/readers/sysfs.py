"""/sys/firmware/memmap: a directory, a tar of it, ``grep . /sys/firmware/memmap/*/*`` output,
or the Documentation/ABI script's ``%016x-%016x (%s)`` listing.

References:
    drivers/firmware/memmap.c: ``<i>/start``, ``<i>/end`` (``0x%llx``, inclusive: ``entry->end =
    end - 1``), ``<i>/type`` (``e820_type_to_string()``); ``<i>`` follows ``e820_table_kexec``
    (6.x; ``e820_saved`` in 2.6.28), so kexec-table edits show here.
    Documentation/ABI/testing/sysfs-firmware-memmap: the example script prints
    ``%016x-%016x (%s)`` with an *exclusive* end.
Entries are ordered by their numeric index, never by glob order (``10`` sorts before ``2``).
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

from swsusp_inspect.e820.model import Finding, MemoryMap, RawEntry
from swsusp_inspect.e820.types import dmesg_name, type_from_iomem_name
from swsusp_inspect.errors import MapError
from swsusp_inspect.model.findings import Severity

__all__ = ["looks_like_sysfs", "read_sysfs_dir", "read_sysfs_tar", "read_sysfs_text"]

RE_GREP = re.compile(r"^(?:.*?/)?(?P<idx>\d+)/(?P<field>start|end|type):(?P<value>.*)$")
RE_SCRIPT = re.compile(r"^\s*(?P<a>[0-9a-fA-F]{8,})-(?P<b>[0-9a-fA-F]{8,})\s+\((?P<type>.+)\)\s*$")


def looks_like_sysfs(text: str) -> bool:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return False
    return all(RE_GREP.match(ln) for ln in lines[:20]) or all(
        RE_SCRIPT.match(ln) for ln in lines[:20])


def _value(source: str, line: int | None, text: str) -> int:
    text = text.strip()
    try:
        value = int(text, 16)
    except ValueError:
        raise MapError(source, line, f"not a hex number: {text!r}") from None
    if value >= 1 << 64:
        raise MapError(source, line, f"{text} does not fit in 64 bits")
    return value


def _build(source: str, fields: dict[int, dict[str, tuple[str, int | None]]]) -> MemoryMap:
    if not fields:
        raise MapError(source, None, "no memory map: no /sys/firmware/memmap entries")
    entries = []
    for idx in sorted(fields):
        f = fields[idx]
        first_line = min((ln for _, ln in f.values() if ln is not None), default=None)
        for need in ("start", "end", "type"):
            if need not in f:
                raise MapError(source, first_line, f"memmap entry {idx} has no '{need}'")
        start = _value(source, f["start"][1], f["start"][0])
        end = _value(source, f["end"][1], f["end"][0])
        if end + 1 < start:
            raise MapError(source, f["end"][1], f"memmap entry {idx}: end {end:#x} is before "
                                                f"start {start:#x}")
        name = f["type"][0].strip()
        code = type_from_iomem_name(name)
        if code is None:
            raise MapError(source, f["type"][1], f"memmap entry {idx}: unknown type {name!r}")
        entries.append(RawEntry(start, end - start + 1, code, dmesg_name(code), source,
                                f["start"][1]))
    return MemoryMap(source, "sysfs", entries, findings=[Finding(
        Severity.INFO, "not-firmware-table",
        "sysfs follows the kexec table, which kexec-time edits may change: prefer the boot log "
        "for the checksum")])


def read_sysfs_text(source: str, text: str) -> MemoryMap:
    """``grep . /sys/firmware/memmap/*/*`` output, or the ABI script listing."""
    fields: dict[int, dict[str, tuple[str, int | None]]] = {}
    script: list[RawEntry] = []
    for i, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        m = RE_GREP.match(raw)
        if m is not None:
            fields.setdefault(int(m.group("idx")), {})[m.group("field")] = (m.group("value"), i)
            continue
        m = RE_SCRIPT.match(raw)
        if m is not None:
            start = _value(source, i, m.group("a"))
            end = _value(source, i, m.group("b"))  # exclusive in the ABI script
            if end < start:
                raise MapError(source, i, f"end {end:#x} is before start {start:#x}")
            code = type_from_iomem_name(m.group("type"))
            if code is None:
                raise MapError(source, i, f"unknown type {m.group('type')!r}")
            script.append(RawEntry(start, end - start, code, dmesg_name(code), source, i))
            continue
        raise MapError(source, i, f"not a /sys/firmware/memmap line: {raw.strip()[:60]!r}")
    if script and fields:
        raise MapError(source, None, "mixes grep output and script listing")
    if script:
        return MemoryMap(source, "sysfs", script)
    return _build(source, fields)


def read_sysfs_dir(path: Path) -> MemoryMap:
    """A /sys/firmware/memmap directory (or a copy of it)."""
    source = str(path)
    fields: dict[int, dict[str, tuple[str, int | None]]] = {}
    for sub in path.iterdir():
        if sub.is_dir() and sub.name.isdigit():
            for name in ("start", "end", "type"):
                f = sub / name
                if f.is_file():
                    fields.setdefault(int(sub.name), {})[name] = (f.read_text(), None)
    return _build(source, fields)


def read_sysfs_tar(path: Path) -> MemoryMap:
    """A tar holding ``[.../]memmap/<i>/{start,end,type}``."""
    source = str(path)
    fields: dict[int, dict[str, tuple[str, int | None]]] = {}
    try:
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                m = re.search(r"(?:^|/)(\d+)/(start|end|type)$", member.name)
                if m is None or not member.isfile():
                    continue
                fh = tar.extractfile(member)
                if fh is None:
                    continue
                value = fh.read(256).decode("ascii", "replace")
                fields.setdefault(int(m.group(1)), {})[m.group(2)] = (value, None)
    except tarfile.TarError as exc:
        raise MapError(source, None, f"cannot read tar: {exc}") from exc
    return _build(source, fields)
