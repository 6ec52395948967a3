"""The project's own JSON export of a map (``swsusp-inspect map FILE --json``, schema 1)."""

from __future__ import annotations

import json
from typing import Any

from swsusp_inspect.e820.model import MemoryMap, NosaveLog, RawEntry
from swsusp_inspect.e820.types import dmesg_name
from swsusp_inspect.errors import MapError

__all__ = ["read_json"]


def _entries(source: str, items: Any, key: str) -> list[RawEntry]:
    if not isinstance(items, list):
        raise MapError(source, None, f"JSON '{key}' must be a list")
    out = []
    for i, item in enumerate(items):
        try:
            start, end, typ = int(item["start"]), int(item["end"]), int(item["type"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MapError(source, None, f"JSON {key}[{i}]: needs integer start, end, type") \
                from exc
        if not (0 <= start < 1 << 64 and -1 <= end < 1 << 64 and 0 <= typ < 1 << 32):
            raise MapError(source, None, f"JSON {key}[{i}]: value out of range")
        if end + 1 < start:
            raise MapError(source, None, f"JSON {key}[{i}]: end {end:#x} is before start "
                                         f"{start:#x}")
        out.append(RawEntry(start, end - start + 1, typ, dmesg_name(typ), source, None))
    return out


def read_json(source: str, text: str) -> MemoryMap:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MapError(source, exc.lineno, f"not JSON: {exc.msg}") from exc
    if not isinstance(doc, dict) or "entries" not in doc:
        raise MapError(source, 1, "no memory map: JSON has no 'entries'")
    if doc.get("schema_version", 1) != 1:
        raise MapError(source, 1, f"unsupported schema_version {doc.get('schema_version')!r}")
    entries = _entries(source, doc["entries"], "entries")
    modified = None
    if doc.get("modified"):
        modified = MemoryMap(source, "json", _entries(source, doc["modified"], "modified"))
    nosave = None
    if doc.get("nosave_source") == "log" and isinstance(doc.get("nosave"), list):
        try:
            ranges = tuple((int(r["start_pfn"]), int(r["end_pfn"])) for r in doc["nosave"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MapError(source, None, "JSON nosave: needs start_pfn and end_pfn") from exc
        nosave = NosaveLog(None, ranges, "registered")
    return MemoryMap(source, "json", entries, printed=True, modified=modified,
                     nosave_log=nosave)
