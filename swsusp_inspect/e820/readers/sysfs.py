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

import io
import re
import tarfile
from collections.abc import Callable
from pathlib import Path

from swsusp_inspect.e820.model import Finding, MemoryMap, RawEntry, clip
from swsusp_inspect.e820.types import dmesg_name, type_from_iomem_name
from swsusp_inspect.errors import MapError
from swsusp_inspect.model.findings import Severity
from swsusp_inspect.transport import read_capped

__all__ = ["looks_like_sysfs", "read_sysfs_dir", "read_sysfs_tar", "read_sysfs_text"]

# drivers/firmware/memmap.c names entries 0, 1, ... (one per e820 entry): a handful of digits
MAX_ENTRIES = 4096
_FIELD_BYTES = 256  # "0x%llx\n" or a type name: far less
RE_INDEX = re.compile(r"\d{1,6}")
RE_GREP = re.compile(r"^(?:.*?/)?(?P<idx>\d{1,6})/(?P<field>start|end|type):(?P<value>.*)$")
RE_HEXDIGITS = re.compile(r"[0-9a-fA-F]+")
RE_TAR_MEMBER = re.compile(r"(?:^|/)(\d{1,6})/(start|end|type)$")
RE_SCRIPT = re.compile(r"^\s*(?P<a>[0-9a-fA-F]{8,})-(?P<b>[0-9a-fA-F]{8,})\s+\((?P<type>.+)\)\s*$")


def looks_like_sysfs(text: str) -> bool:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return False
    return all(RE_GREP.match(ln) for ln in lines[:20]) or all(
        RE_SCRIPT.match(ln) for ln in lines[:20]
    )


def _value(source: str, line: int | None, text: str) -> int:
    text = text.strip()
    # the kernel prints 0x%llx: at most 16 digits after the 0x and any leading zeros
    digits = text[2:] if text[:2].lower() == "0x" else text
    if RE_HEXDIGITS.fullmatch(digits) is None:  # int() would take "-1", "1_0", " 1"
        raise MapError(source, line, f"not a hex number: {clip(text)!r}")
    if len(digits.lstrip("0")) > 16:
        raise MapError(source, line, f"{clip(text)} does not fit in 64 bits")
    return int(digits, 16)


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
            raise MapError(
                source, f["end"][1], f"memmap entry {idx}: end {end:#x} is before start {start:#x}"
            )
        name = f["type"][0].strip()
        code = type_from_iomem_name(name)
        if code is None:
            raise MapError(source, f["type"][1], f"memmap entry {idx}: unknown type {clip(name)!r}")
        entries.append(
            RawEntry(start, end - start + 1, code, dmesg_name(code), source, f["start"][1])
        )
    return MemoryMap(
        source,
        "sysfs",
        entries,
        findings=[
            Finding(
                Severity.INFO,
                "not-firmware-table",
                "sysfs follows the kexec table, which kexec-time edits may change: "
                "prefer the boot log for the checksum",
            )
        ],
    )


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
                raise MapError(source, i, f"unknown type {clip(m.group('type'))!r}")
            script.append(RawEntry(start, end - start, code, dmesg_name(code), source, i))
            continue
        raise MapError(source, i, f"not a /sys/firmware/memmap line: {raw.strip()[:60]!r}")
    if script and fields:
        raise MapError(source, None, "mixes grep output and script listing")
    if script:
        return MemoryMap(source, "sysfs", script)
    return _build(source, fields)


def _refuse_field(name: str) -> Callable[[str], MapError]:
    return lambda why: MapError(name, None, f"{why}: not a memmap field")


def read_sysfs_dir(path: Path) -> MemoryMap:
    """A /sys/firmware/memmap directory (or a copy of it)."""
    source = str(path)
    fields: dict[int, dict[str, tuple[str, int | None]]] = {}
    for seen, sub in enumerate(path.iterdir(), 1):
        if seen > MAX_ENTRIES:
            raise MapError(
                source, None, f"more than {MAX_ENTRIES} names: not a /sys/firmware/memmap directory"
            )
        if RE_INDEX.fullmatch(sub.name) and sub.is_dir():
            for name in ("start", "end", "type"):
                f = sub / name
                if f.is_file():
                    value = read_capped(str(f), _FIELD_BYTES, _refuse_field(str(f)))
                    fields.setdefault(int(sub.name), {})[name] = (
                        value.decode("ascii", "replace"),
                        None,
                    )
    return _build(source, fields)


def read_sysfs_tar(path: Path, data: bytes | None = None) -> MemoryMap:
    """A (plain) tar holding ``[.../]memmap/<i>/{start,end,type}``; ``data`` is its content
    when already read."""
    source = str(path)
    fields: dict[int, dict[str, tuple[str, int | None]]] = {}
    if data is None:
        data = read_capped(source, 256 << 20, lambda why: MapError(source, None, why))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for count, member in enumerate(tar, 1):
                if count > 3 * MAX_ENTRIES:
                    raise MapError(
                        source,
                        None,
                        f"more than {3 * MAX_ENTRIES} tar members: not a /sys/firmware/memmap tar",
                    )
                m = RE_TAR_MEMBER.search(member.name)
                if m is None or not member.isfile():
                    continue
                fh = tar.extractfile(member)
                if fh is None:
                    continue
                value = fh.read(_FIELD_BYTES).decode("ascii", "replace")
                fields.setdefault(int(m.group(1)), {})[m.group(2)] = (value, None)
    except (tarfile.TarError, EOFError, ValueError) as exc:
        raise MapError(source, None, f"cannot read tar: {exc}") from exc
    return _build(source, fields)
