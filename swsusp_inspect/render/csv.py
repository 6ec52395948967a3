"""The audit as CSV: one row per run of saved PFNs (``audit --csv``)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO

from swsusp_inspect.classify import CODE_LABEL, NORMAL, runs
from swsusp_inspect.model.report import Report

__all__ = ["CSV_HEADER", "csv_rows", "write_csv"]

CSV_HEADER = ("start_pfn", "end_pfn", "pages", "label", "region", "type")


def csv_rows(report: Report) -> Iterator[tuple[int, int, int, str, str, str]]:
    """``(start_pfn, end_pfn, pages, label, region, type)`` per run of saved PFNs.

    Runs never cross a map region; without a map the label is empty (unknown) except for
    nosave pages.
    """
    c = report.classification
    if c is None:
        return
    t = c.table
    r = runs(c)
    for i in range(len(r)):
        code = int(r.code[i])
        area_index = int(t.area[int(r.interval[i])])
        area = t.areas[area_index] if area_index >= 0 else None
        label = CODE_LABEL[code] if (t.has_map or code != NORMAL) else ""
        yield (
            int(r.start[i]),
            int(r.end[i]),
            int(r.count[i]),
            label,
            area.describe() if area else "",
            "" if area is None or area.type is None else str(area.type),
        )


def write_csv(report: Report, out: IO[str]) -> None:
    """The header and every row, to ``out``."""
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_HEADER)
    w.writerows(csv_rows(report))
