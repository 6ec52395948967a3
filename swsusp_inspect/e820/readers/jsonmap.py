"""The project's own JSON export of a map (``swsusp-inspect map FILE --json``, schema 1)."""

from __future__ import annotations

import json
from typing import Any

from swsusp_inspect.e820.model import MemoryMap, NosaveLog, RawEntry, clip
from swsusp_inspect.e820.types import dmesg_name
from swsusp_inspect.errors import MapError

__all__ = ["read_json"]


# a u64 has 20 decimal digits: longer numbers are refused while parsing, before int() meets
# Python's 4300-digit limit (or spends time on a million digits)
_MAX_DIGITS = 20
# PFNs of a 64-bit physical address space with 4 KiB pages
_PFN_LIMIT = 1 << 52


class _Refused(Exception):
    """A JSON number this reader refuses while parsing."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_DIGITS:
        raise _Refused(f"a number of {len(text)} digits")
    return int(text)


def _parse_constant(text: str) -> Any:
    raise _Refused(f"{text} (not a JSON number)")


def _parse_float(text: str) -> Any:
    raise _Refused(f"{clip(text)} (the map holds integers only)")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entries(source: str, items: Any, key: str) -> list[RawEntry]:
    if not isinstance(items, list):
        raise MapError(source, None, f"JSON '{key}' must be a list")
    out = []
    for i, item in enumerate(items):
        keys = ("start", "end", "type")
        values: list[Any] = [item.get(k) for k in keys] if isinstance(item, dict) else []
        if len(values) != 3 or not all(_is_int(v) for v in values):
            raise MapError(source, None, f"JSON {key}[{i}]: needs integer start, end, type")
        start, end, typ = values
        if not (0 <= start < 1 << 64 and -1 <= end < 1 << 64 and 0 <= typ < 1 << 32):
            raise MapError(source, None, f"JSON {key}[{i}]: value out of range")
        if end + 1 < start:
            raise MapError(
                source, None, f"JSON {key}[{i}]: end {end:#x} is before start {start:#x}"
            )
        out.append(RawEntry(start, end - start + 1, typ, dmesg_name(typ), source, None))
    return out


def read_json(source: str, text: str) -> MemoryMap:
    try:
        doc = json.loads(
            text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
        )
    except json.JSONDecodeError as exc:
        raise MapError(source, exc.lineno, f"not JSON: {exc.msg}") from exc
    except _Refused as exc:
        raise MapError(source, None, f"JSON: {exc}") from None
    except RecursionError:
        raise MapError(
            source, None, "JSON nested too deeply (a map export nests 3 levels)"
        ) from None
    if not isinstance(doc, dict) or "entries" not in doc:
        raise MapError(source, 1, "no memory map: JSON has no 'entries'")
    if doc.get("schema_version", 1) != 1:
        raise MapError(
            source, 1, f"unsupported schema_version {clip(repr(doc.get('schema_version')))}"
        )
    entries = _entries(source, doc["entries"], "entries")
    modified = None
    if doc.get("modified"):
        modified = MemoryMap(source, "json", _entries(source, doc["modified"], "modified"))
    nosave = None
    if doc.get("nosave_source") == "log" and isinstance(doc.get("nosave"), list):
        pairs: list[tuple[Any, Any]] = [
            (r.get("start_pfn"), r.get("end_pfn")) if isinstance(r, dict) else (None, None)
            for r in doc["nosave"]
        ]
        for i, (a, b) in enumerate(pairs):
            if not (_is_int(a) and _is_int(b) and 0 <= a <= b < _PFN_LIMIT):
                raise MapError(
                    source,
                    None,
                    f"JSON nosave[{i}]: needs integer start_pfn <= end_pfn below {_PFN_LIMIT:#x}",
                )
        ranges = tuple((int(a), int(b)) for a, b in pairs)
        nosave = NosaveLog(None, ranges, "registered")
    return MemoryMap(source, "json", entries, printed=True, modified=modified, nosave_log=nosave)
