"""Rich rendering of the audit Report (the console is passed in, never built here).

Reads at 80 columns with or without colour: every wrapped line is indented under its first
(nothing wraps back to column 0), tables move a long last cell to a line of its own instead of
cutting it, and the strip draws each label with its own character when there is no colour.
"""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from swsusp_inspect.model.checksum import image_text
from swsusp_inspect.model.findings import Finding, Severity
from swsusp_inspect.model.report import Report
from swsusp_inspect.model.words import plural
from swsusp_inspect.render.layout import columns, grid, hanging, indented
from swsusp_inspect.render.rich_image import (
    counts_table,
    header_table,
    integrity_line,
    map_rows,
    memory_rows,
)
from swsusp_inspect.render.strip import strip_text

__all__ = ["render_report", "strip_text"]

LABEL_ORDER = ("normal", "reserved-ram", "reserved-non-ram", "nosave")
RANGES_SHOWN = 8
INDENT = 8  # findings: "WARNING " then the code and the words


def _mib(pages: int, page_size: int) -> str:
    return f"{pages * page_size / 2**20:,.1f}"


def _map_rows(r: Report) -> list[tuple[str, RenderableType]]:
    m = r.map
    if m is None:
        return [("map", Text("none (labels need --map)", style="dim"))]
    c = m.checksum
    explanation = image_text(
        m.checksum_verdict, kind=c.kind, image=c.image, found=c.map, fmt=m.format
    )
    return map_rows(
        [(i.source, i.format, i.boot) for i in m.inputs], m.checksum_verdict, explanation
    )


def _labels_table(r: Report) -> Table:
    t = Table(
        title="Saved pages by label",
        title_justify="left",
        title_style="key",
        header_style="key",
        show_edge=False,
        pad_edge=False,
    )
    t.add_column("label")
    t.add_column("pages", justify="right")
    t.add_column("MiB", justify="right")
    t.add_column("share", justify="right")
    labels = dict(r.labels.items()) if r.labels else {}
    total = sum(labels.values()) or 1
    for lab in LABEL_ORDER:
        n = labels.get(lab, 0)
        style = f"label.{lab}" if n or lab in ("normal", "reserved-ram") else "dim"
        t.add_row(f"[{style}]{lab}[/]", f"{n:,}", _mib(n, r.page_size), f"{100 * n / total:.1f}%")
    t.add_row(
        "[key]unsafe[/]",
        f"[{'bad' if r.unsafe_pages else 'ok'}]{r.unsafe_pages:,}[/]",
        _mib(r.unsafe_pages, r.page_size),
        "",
    )
    return t


def _ranges(f: Finding, width: int) -> Text:
    rows = []
    for rg in f.ranges[:RANGES_SHOWN]:
        pfn = (
            f"{rg.start_pfn:#x}"
            if rg.start_pfn == rg.end_pfn
            else f"{rg.start_pfn:#x}-{rg.end_pfn:#x}"
        )
        rows.append(
            [pfn, f"{rg.start_address:#x}-{rg.end_address:#x}", f"{rg.pages:,}", rg.region or ""]
        )
    return columns(
        ["PFNs", "physical", "pages", "region"],
        rows,
        right=[False, False, True, False],
        width=width,
    )


def _finding(f: Finding, width: int) -> Group:
    sev = f.severity.value
    body = Text.assemble((f.code, "key"), "  ", f.message)
    parts: list[RenderableType] = [hanging(Text(sev.upper(), style=f"sev.{sev}"), body, INDENT)]
    inner = max(20, width - INDENT)
    if f.ranges:
        parts.append(indented(_ranges(f, inner), INDENT))
        more = f.ranges_total - min(len(f.ranges), RANGES_SHOWN)
        if more > 0:
            parts.append(
                indented(
                    Text(f"... {plural(more, 'more range')} (--json, --csv)", style="dim"), INDENT
                )
            )
    if f.note:
        parts.append(indented(Text(f.note, style="dim"), INDENT))
    return Group(*parts)


def _evidence(r: Report) -> Table:
    ev = r.evidence
    rr = ev.reserved_ram
    head = Text(rr.source or "none")
    if rr.pages_by_evidence:
        head.append(
            "  (" + ", ".join(f"{k} {v:,}" for k, v in rr.pages_by_evidence.items()) + ")",
            style="dim",
        )
    nosave = Text()
    if not ev.nosave:
        nosave.append("none given (--map, --system-map)", style="dim")
    for i, item in enumerate(ev.nosave):
        sep = "; " if i else ""
        if not item.ranges and item.what:
            nosave.append(sep + item.what, style="dim")
            continue
        shown = ", ".join(
            f"{x.start_pfn:#x}" + ("" if x.end_pfn == x.start_pfn else f"-{x.end_pfn:#x}")
            for x in item.ranges[:4]
        )
        more = f" +{len(item.ranges) - 4}" if len(item.ranges) > 4 else ""
        nosave.append(f"{sep}{item.source} ")
        nosave.append(f"pfn {shown or 'none'}{more}", style="label.nosave")
    return grid(
        [
            ("reserved-ram", head),
            ("", Text("cannot see: " + rr.cannot_see, style="dim")),
            ("nosave", nosave),
        ],
        key_width=12,
    )


def _verdict(r: Report, console: Console) -> None:
    worst = r.worst_severity
    if r.labels is None:
        why = next(iter(r.image.memory.errors), "") if r.image.memory is not None else ""
        if why:
            console.print(
                hanging("note:", f"the image's own kernel memory gave no map: {why}", 6),
                style="dim",
            )
        console.print(
            hanging(
                "hint:",
                Text(
                    "labels need --map FILE (the boot log with its "
                    "BIOS-e820 lines, /proc/iomem, "
                    "/sys/firmware/memmap, ...)"
                ),
                6,
            ),
            style="dim",
        )
    if worst is Severity.ERROR:
        console.print(
            f"[bad]UNSAFE[/]: {plural(r.unsafe_pages, 'unsafe saved page')}"
            if r.unsafe_pages
            else "[bad]FAILED[/]: see the errors above"
        )
    elif r.labels is not None:
        console.print(
            "[ok]OK[/]: no unsafe saves"
            + (" (warnings above)" if worst is Severity.WARNING else "")
        )


def render_report(r: Report, console: Console) -> None:
    """Header panel, label table, address-space strip, evidence, findings, verdict."""
    s = r.image
    head: list[RenderableType] = [
        header_table(s),
        Text(""),
        counts_table(s),
        Text(""),
        grid([("integrity", integrity_line(s)), *_map_rows(r), *memory_rows(s)]),
    ]
    console.print(Panel(Group(*head), title="swsusp audit", title_align="left", expand=False))
    if r.labels is not None:
        console.print(_labels_table(r))
        if r.strip is not None:
            console.print()
            console.print(Text("Physical memory", style="key"))
            colour = not console.no_color and console.color_system is not None
            console.print(strip_text(r.strip, r.page_size, colour=colour))
        console.print()
        console.print(_evidence(r))
    if r.findings:
        console.print()
        console.print(Text("Findings", style="key"))
        for f in r.findings:
            console.print(_finding(f, console.width))
    console.print()
    _verdict(r, console)
