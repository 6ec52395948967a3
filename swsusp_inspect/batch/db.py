"""A batch's rows in an SQLite database (stdlib ``sqlite3``), for queries across a fleet.

One table per kind of row: ``runs`` (one per batch), ``images`` (one per image, with the row's
JSON document), ``inputs`` (the files each audit read, and the sidecars left out),
``findings`` and their ``ranges``.  A database that exists gets one run more; the schema is
:data:`SCHEMA`, documented in docs/batch.md (a test keeps the two the same).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from swsusp_inspect.model.report import BatchRow, BatchSummary, Report
from swsusp_inspect.model.serialize import SCHEMA_VERSION

__all__ = ["SCHEMA", "write_rows"]

SCHEMA = """\
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,              -- UTC, ISO 8601
    tool_version TEXT NOT NULL,
    schema_version INTEGER NOT NULL,    -- of the JSON in images.document
    images INTEGER NOT NULL,
    worst_exit_code INTEGER NOT NULL,
    without_map INTEGER NOT NULL,       -- images audited without any memory map
    skipped_not_images INTEGER NOT NULL,
    skipped_plain_swap_areas INTEGER NOT NULL,
    skipped_unreadable INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    position INTEGER NOT NULL,          -- input order, from 1
    path TEXT NOT NULL,
    exit_code INTEGER NOT NULL,         -- 0 fine, 1 unsafe/integrity, 2 unreadable, 3 bug
    error TEXT,                         -- the one-line message, or NULL
    kernel_release TEXT,
    arch TEXT,                          -- x86_64, i386, arm64, ... (NULL: no arch record)
    era TEXT,
    compression TEXT,
    page_size INTEGER,
    saved_pfns INTEGER,
    map_source TEXT NOT NULL,           -- option, manifest, sidecar, none
    map_format TEXT,                    -- the reader of the map the labels come from
    checksum_verdict TEXT,              -- match, mismatch, unverifiable, absent (NULL: no map)
    unsafe_pages INTEGER,
    normal INTEGER,
    reserved_ram INTEGER,
    reserved_non_ram INTEGER,
    nosave INTEGER,
    worst_severity TEXT,                -- error, warning, info (NULL: no findings)
    document TEXT NOT NULL              -- the row as `batch --jsonl` prints it
);
CREATE TABLE IF NOT EXISTS inputs (
    image_id INTEGER NOT NULL REFERENCES images(id),
    kind TEXT NOT NULL,                 -- map, kpageflags, system_map, ignored
    path TEXT NOT NULL,
    note TEXT                           -- ignored: why the file was left out
);
CREATE TABLE IF NOT EXISTS findings (
    id INTEGER PRIMARY KEY,
    image_id INTEGER NOT NULL REFERENCES images(id),
    severity TEXT NOT NULL,
    code TEXT NOT NULL,                 -- docs/audit.md#findings
    message TEXT NOT NULL,
    pages INTEGER NOT NULL,
    ranges_total INTEGER NOT NULL       -- ranges in all (at most 256 are kept in `ranges`)
);
CREATE TABLE IF NOT EXISTS ranges (
    finding_id INTEGER NOT NULL REFERENCES findings(id),
    start_pfn INTEGER NOT NULL,
    end_pfn INTEGER NOT NULL,           -- inclusive
    pages INTEGER NOT NULL,
    region TEXT                         -- the map region, e.g. "reserved 0xf0000-0xfffff"
);
"""


def _image_values(row: BatchRow) -> tuple[object, ...]:
    r = row.report if isinstance(row.report, Report) else None
    s = r.image if r is not None else None
    labels = r.labels if r is not None else None
    counts = (
        (labels.normal, labels.reserved_ram, labels.reserved_non_ram, labels.nosave)
        if labels
        else (None,) * 4
    )
    return (
        s.kernel_release if s else None,
        s.arch.name if s and s.arch else None,
        s.layout.era if s else None,
        s.layout.compression if s else None,
        s.layout.page_size if s else None,
        s.directory.saved_pfns if s else None,
        row.inputs.map_source,
        r.map.format if r and r.map else None,
        r.map.checksum_verdict.value if r and r.map else None,
        r.unsafe_pages if r and r.map else None,
        *counts,
        r.worst_severity.value if r and r.worst_severity else None,
    )


def _insert_row(db: sqlite3.Connection, run_id: int, position: int, row: BatchRow) -> None:
    cur = db.execute(
        "INSERT INTO images (run_id, position, path, exit_code, error, kernel_release, arch, "
        "era, compression, page_size, saved_pfns, map_source, map_format, checksum_verdict, "
        "unsafe_pages, normal, reserved_ram, reserved_non_ram, nosave, worst_severity, "
        "document) VALUES (" + ", ".join("?" * 21) + ")",
        (
            run_id,
            position,
            row.path,
            row.exit_code,
            row.error,
            *_image_values(row),
            row.to_json(indent=None),
        ),
    )
    image_id = cur.lastrowid
    i = row.inputs
    files: list[tuple[str, str, str | None]] = [("map", m, None) for m in i.maps]
    files += [
        (kind, path, None)
        for kind, path in (("kpageflags", i.kpageflags), ("system_map", i.system_map))
        if path
    ]
    files += [("ignored", g.file, g.error) for g in i.ignored]
    db.executemany("INSERT INTO inputs VALUES (?, ?, ?, ?)", [(image_id, *f) for f in files])
    for f in row.report.findings:
        fc = db.execute(
            "INSERT INTO findings (image_id, severity, code, message, pages, "
            "ranges_total) VALUES (?, ?, ?, ?, ?, ?)",
            (image_id, f.severity.value, f.code, f.message, f.pages, f.ranges_total),
        )
        db.executemany(
            "INSERT INTO ranges VALUES (?, ?, ?, ?, ?)",
            [(fc.lastrowid, g.start_pfn, g.end_pfn, g.pages, g.region) for g in f.ranges],
        )


def write_rows(path: str, rows: list[BatchRow], summary: BatchSummary) -> int:
    """Add one run with its rows to the database at ``path`` (created when missing); its id."""
    from swsusp_inspect._version import __version__

    db = sqlite3.connect(path)
    try:
        with db:
            db.executescript(SCHEMA)
            sk = summary.skipped
            cur = db.execute(
                "INSERT INTO runs (started, tool_version, schema_version, images, "
                "worst_exit_code, without_map, skipped_not_images, skipped_plain_swap_areas, "
                "skipped_unreadable) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    __version__,
                    SCHEMA_VERSION,
                    summary.images,
                    summary.worst_exit_code,
                    summary.without_map,
                    sk.not_images,
                    sk.plain_swap_areas,
                    sk.unreadable,
                ),
            )
            run_id = int(cur.lastrowid or 0)
            for position, row in enumerate(rows, 1):
                _insert_row(db, run_id, position, row)
    finally:
        db.close()
    return run_id
