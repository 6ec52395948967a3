"""Label every saved PFN against a memory map: numpy only, no per-PFN Python loops.

References:
    kernel/power/snapshot.c ``saveable_page()`` (2.6.19 -> now): a page is saved unless it is
    not valid, free, forbidden (image pages and the *nosave regions*), offline, a guard page, or
    ``PageReserved`` and (not present or ``pfn_is_nosave()``).  ``PG_reserved`` alone does not
    exclude a page: reserved RAM (kernel image, memblock reservations, driver pages) is saved.
    arch/x86/kernel/e820.c ``e820__register_nosave_regions()`` (2.6.22 -> now): the non-RAM
    parts of the e820 table become nosave regions.  Only the firmware map tells reserved RAM
    from the non-RAM pages that also carry ``PG_reserved`` (Andrea Arcangeli, 2004).

Labels, with their precedence (when several apply, the first in this list wins):

1. ``reserved-non-ram``: the page is not fully covered by RAM entries of the map (type 1 and
   128): a non-RAM entry or a hole (reason "not RAM"), RAM for only part of the page ("partly
   RAM") or past the last map entry ("beyond the map").  The hardware fact comes first: such a
   page has no memory the image could have meaningfully copied, whatever else is said of it.
2. ``nosave``: inside the kernel's nosave regions (``__nosave_begin..__nosave_end`` of a
   System.map, the log's ``Registered nosave memory`` lines, or the regions the kernel's rules
   derive from the map).  On x86 these overlap label 1 almost everywhere; what is left are RAM
   pages the kernel chose not to save (page 0 after ``e820: update``, ``.data..nosave``).
3. ``reserved-ram``: RAM, and reserved per the best evidence given (kpageflags
   ``KPF_RESERVED``, else iomem kernel sections / Crash kernel, else e820 type 128).
4. ``normal``: everything else.

Internally each label is a small integer *code* whose numeric order is the precedence, so
combining evidence is ``max``.  The map, the nosave ranges and the range evidence become one
*interval table* over PFN space (a few hundred intervals); the sorted PFN array is cut at the
interval bounds with one ``searchsorted`` of the bounds into the PFNs (a memory-bandwidth pass),
not one search per PFN.  Memory: one byte of label per PFN, plus a sorted copy (8 bytes) only
when the directory is not sorted; every other temporary is chunked.
"""

from __future__ import annotations

from swsusp_inspect.classify.codes import (
    BEYOND_MAP,
    CODE_LABEL,
    CODE_REASON,
    LABELS,
    N_CODES,
    NON_RAM,
    NORMAL,
    NOSAVE,
    PARTLY_RAM,
    PFN_LIMIT,
    RESERVED_RAM,
)
from swsusp_inspect.classify.labels import (
    Classification,
    FlagStats,
    classify,
    descents,
    duplicate_values,
    evidence_counts,
    is_sorted,
    label_counts,
    mark_reserved_flags,
    mark_reserved_mask,
    relabel_from,
)
from swsusp_inspect.classify.runs import Runs, StripColumns, runs, strip
from swsusp_inspect.classify.table import Area, IntervalTable, build_table

__all__ = [
    "BEYOND_MAP",
    "CODE_LABEL",
    "CODE_REASON",
    "LABELS",
    "NON_RAM",
    "NORMAL",
    "NOSAVE",
    "N_CODES",
    "PARTLY_RAM",
    "PFN_LIMIT",
    "RESERVED_RAM",
    "Area",
    "Classification",
    "FlagStats",
    "IntervalTable",
    "Runs",
    "StripColumns",
    "build_table",
    "classify",
    "descents",
    "duplicate_values",
    "evidence_counts",
    "is_sorted",
    "label_counts",
    "mark_reserved_flags",
    "mark_reserved_mask",
    "relabel_from",
    "runs",
    "strip",
]
