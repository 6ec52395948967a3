"""Manifests: each image's inputs named in a CSV file or in JSON lines."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from swsusp_inspect.batch.job import BatchJob
from swsusp_inspect.errors import MapError

__all__ = ["read_manifest"]


def _rows(path: str, text: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if text.lstrip().startswith("{"):
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise MapError(path, lineno, f"manifest: not a JSON object ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise MapError(path, lineno, "manifest: expected a JSON object per line")
            rows.append({"_line": lineno, **obj})
        return rows
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "image" not in reader.fieldnames:
        raise MapError(path, 1, "manifest: expected a CSV header with an 'image' column")
    for lineno, rec in enumerate(reader, 2):
        rows.append({"_line": lineno, **rec})
    return rows


def _number(path: str, r: dict[str, Any], key: str) -> int | None:
    value = r.get(key)
    if value is None or value == "":
        return None
    try:
        n = (
            value
            if isinstance(value, int) and not isinstance(value, bool)
            else int(str(value).strip(), 0)
        )
    except ValueError:
        n = -1
    if n < 0:
        raise MapError(
            path,
            r["_line"],
            f"manifest: {key} {value!r} is not a non-negative number (decimal or 0x...)",
        )
    return n


def _boot(path: str, r: dict[str, Any]) -> int | None:
    value = r.get("boot")
    if value is None or value == "":
        return None
    try:
        n = int(str(value).strip())
    except ValueError:
        n = 0
    if n == 0:
        raise MapError(
            path,
            r["_line"],
            f"manifest: boot {value!r} is not a boot number (1 the first, -1 the last)",
        )
    return n


def read_manifest(path: str) -> list[BatchJob]:
    """Rows of a CSV (header ``image,map,kpageflags,system_map``) or JSON-lines manifest.

    ``map`` may name several files separated by ``;`` (a list in JSON).  Relative paths are
    relative to the manifest's directory.  Optional columns: ``resume_offset`` (pages from
    the start of the file to the swap area), ``page_offset`` (the kernel's PAGE_OFFSET for
    images that name pages by virtual address; ``0xc0000000`` or decimal) and ``boot`` (the
    boot of a multi-boot log).  Each row comes back as the keyword arguments of a job.
    """
    base = Path(path).parent

    def rel(p: str | None) -> str | None:
        if not p:
            return None
        return p if os.path.isabs(p) else str(base / p)

    out = []
    for r in _rows(path, Path(path).read_text()):
        if not r.get("image"):
            raise MapError(path, r["_line"], "manifest: row without 'image'")
        maps = r.get("map") or []
        if isinstance(maps, str):
            maps = [m for m in maps.split(";") if m.strip()]
        out.append(
            BatchJob(
                image=str(rel(r["image"])),
                maps=tuple(str(rel(m.strip())) for m in maps),
                kpageflags=rel(r.get("kpageflags")),
                system_map=rel(r.get("system_map")),
                resume_offset=_number(path, r, "resume_offset") or 0,
                page_offset=_number(path, r, "page_offset"),
                boot=_boot(path, r),
                map_source="manifest" if maps else "none",
            )
        )
    return out
