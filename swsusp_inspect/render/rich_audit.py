"""Rich rendering of the audit Report (the console is passed in, never built here)."""

from __future__ import annotations

from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from swsusp_inspect.model.findings import Finding, Severity
from swsusp_inspect.model.report import Report, Strip
from swsusp_inspect.render.rich_image import (
    counts_table,
    header_table,
    integrity_line,
    memory_table,
)

__all__ = ["render_report", "strip_text"]

LABEL_ORDER = ("normal", "reserved-ram", "reserved-non-ram", "nosave")
# colour of a strip column: an unsafe label wins however few pages it has
_WORST_FIRST = ("reserved-non-ram", "nosave")
_SHADES = "░▒▓█"
RANGES_SHOWN = 8


def _size(pages: int, page_size: int) -> str:
    b = pages * page_size
    for unit, sh in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if b >= 1 << sh:
            return f"{b / (1 << sh):,.1f} {unit}"
    return f"{b} B"


def _mib(pages: int, page_size: int) -> str:
    return f"{pages * page_size / 2**20:,.1f}"


def _map_line(r: Report) -> Text:
    m = r.map
    if m is None:
        return Text.from_markup("[key]map[/]  [dim]none[/]")
    inputs = ", ".join(escape(f"{i.source} ({i.format})") for i in m.inputs)
    c = m.checksum
    if m.checksum_matches_image is True:
        chk = f"[ok]e820 {c.kind} {c.map:#010x} matches the image[/]"
    elif m.checksum_matches_image is False:
        style = "bad" if c.meaningful else "dim"
        chk = (f"[{style}]e820 {c.kind} {c.map:#010x} differs from the "
               f"image's {c.image:#010x}[/]")
    else:
        chk = "[dim]the image carries no e820 checksum[/]"
    return Text.from_markup(f"[key]map[/]  {inputs}\n     {chk}")


def _labels_table(r: Report) -> Table:
    t = Table(title="Saved pages by label", title_justify="left", title_style="key",
              header_style="key", show_edge=False, pad_edge=False)
    t.add_column("label")
    t.add_column("pages", justify="right")
    t.add_column("MiB", justify="right")
    t.add_column("share", justify="right")
    labels = dict(r.labels.items()) if r.labels else {}
    total = sum(labels.values()) or 1
    for lab in LABEL_ORDER:
        n = labels.get(lab, 0)
        style = f"label.{lab}" if n or lab in ("normal", "reserved-ram") else "dim"
        t.add_row(f"[{style}]{lab}[/]", f"{n:,}", _mib(n, r.page_size),
                  f"{100 * n / total:.1f}%")
    t.add_row("[key]unsafe[/]", f"[{'bad' if r.unsafe_pages else 'ok'}]{r.unsafe_pages:,}[/]",
              _mib(r.unsafe_pages, r.page_size), "")
    return t


def strip_text(s: Strip, page_size: int) -> Text:
    """Two rows: saved pages (shade = share of the column saved, colour = label) and the map
    (``=`` RAM, ``-`` partly RAM, ``.`` not RAM)."""
    top = Text()
    bottom = Text()
    for col, c in enumerate(s.columns):
        pages = max(1, s.bounds[col + 1] - s.bounds[col])
        saved = c.saved
        if saved:
            worst = next((lab for lab in _WORST_FIRST if c.label(lab)), None)
            lab = worst or max(("reserved-ram", "normal"), key=c.label)
            shade = _SHADES[min(len(_SHADES) - 1, saved * len(_SHADES) // pages)]
            top.append(shade, style=f"label.{lab}")
        else:
            top.append(" ")
        ram = c.ram_pages
        if ram < 0:
            bottom.append(" ")
        elif ram >= pages:
            bottom.append("=", style="dim")
        elif ram > 0:
            bottom.append("-", style="dim")
        else:
            bottom.append(".", style="dim")
    width = len(s.columns)
    left = "0x0" if s.start_pfn == 0 else f"{s.start_pfn * page_size:#x}"
    right = f"{s.end_pfn * page_size:#x}"
    axis = Text(left + " " * max(1, width - len(left) - len(right)) + right, style="dim")
    per = (s.end_pfn - s.start_pfn) / max(1, width)
    legend = Text.assemble(
        ("saved ", "dim"), ("normal", "label.normal"), " ",
        ("reserved-ram", "label.reserved-ram"), " ",
        ("reserved-non-ram", "label.reserved-non-ram"), " ", ("nosave", "label.nosave"),
        (f"  {_SHADES[0]}..{_SHADES[-1]} share saved", "dim"),
        (f"\nmap   = RAM  - partly RAM  . no RAM   1 column = {_size(round(per), page_size)}",
         "dim"))
    return Text("\n").join([top, bottom, axis, legend])


def _finding(f: Finding, page_size: int) -> Group:
    sev = f.severity.value
    head = Text.from_markup(f"[sev.{sev}]{sev.upper():7}[/] [key]{f.code}[/]  ")
    head.append(f.message)
    parts: list[RenderableType] = [head]
    if f.ranges:
        t = Table(box=None, header_style="dim", padding=(0, 1), pad_edge=False)
        t.add_column("PFNs", no_wrap=True)
        t.add_column("physical", no_wrap=True, style="dim")
        t.add_column("pages", justify="right", no_wrap=True)
        t.add_column("region", no_wrap=True, overflow="ellipsis")
        for rg in f.ranges[:RANGES_SHOWN]:
            pfn = (f"{rg.start_pfn:#x}" if rg.start_pfn == rg.end_pfn
                   else f"{rg.start_pfn:#x}-{rg.end_pfn:#x}")
            t.add_row(pfn, f"{rg.start_address:#x}-{rg.end_address:#x}", f"{rg.pages:,}",
                      escape(rg.region or ""))
        parts.append(Padding(t, (0, 0, 0, 8)))
        more = f.ranges_total - min(len(f.ranges), RANGES_SHOWN)
        if more > 0:
            word = "range" if more == 1 else "ranges"
            parts.append(Padding(Text(f"... {more:,} more {word} (--json, --csv)", style="dim"),
                                 (0, 0, 0, 8)))
    if f.note:
        parts.append(Padding(Text(f.note, style="dim"), (0, 0, 0, 8)))
    return Group(*parts)


def _evidence(r: Report) -> Group:
    ev = r.evidence
    head = Text()
    rr = ev.reserved_ram
    head.append("reserved-ram evidence: ", style="key")
    head.append(rr.source or "none")
    by = rr.pages_by_evidence
    if by:
        head.append("  (" + ", ".join(f"{k} {v:,}" for k, v in by.items()) + ")", style="dim")
    cannot = Padding(Text("cannot see: " + rr.cannot_see, style="dim"), (0, 0, 0, 2))
    ns = ev.nosave
    line = Text("nosave: ", style="key")
    if not ns:
        line.append("none given (--map, --system-map)", style="dim")
    for i, item in enumerate(ns):
        ranges = item.ranges
        shown = ", ".join(
            f"{x.start_pfn:#x}" + ("" if x.end_pfn == x.start_pfn else f"-{x.end_pfn:#x}")
            for x in ranges[:4])
        more = f" +{len(ranges) - 4}" if len(ranges) > 4 else ""
        if not ranges and item.what:
            line.append(("; " if i else "") + item.what, style="dim")
            continue
        line.append(("; " if i else "") + f"{item.source} ")
        line.append(f"pfn {shown or 'none'}{more}", style="label.nosave")
    return Group(head, cannot, line)


def render_report(r: Report, console: Console) -> None:
    """Header panel, label table, address-space strip, evidence, findings, verdict."""
    s = r.image
    head: list[RenderableType] = [header_table(s), Text(""), counts_table(s), Text(""),
                                  integrity_line(s), _map_line(r)]
    memory = memory_table(s)
    if memory is not None:
        head += [Text(""), memory]
    p = r.pfn_stats
    if p.above_num_physpages:
        head.append(Text(f"{p.above_num_physpages:,} saved PFNs lie above num_physpages "
                         f"({p.num_physpages:,}): normal, it counts pages, not the highest PFN",
                         style="dim"))
    console.print(Panel(Group(*head), title="swsusp audit", title_align="left", expand=False))
    if r.labels is not None:
        console.print(_labels_table(r))
        if r.strip is not None:
            console.print()
            console.print(Text("Physical memory", style="key"))
            console.print(strip_text(r.strip, r.page_size))
        console.print()
        console.print(_evidence(r))
    if r.findings:
        console.print()
        console.print(Text("Findings", style="key"))
        for f in r.findings:
            console.print(_finding(f, r.page_size))
    console.print()
    worst = r.worst_severity
    if r.labels is None:
        why = next(iter(s.memory.errors), "") if s.memory is not None else ""
        if why:
            console.print(Text(f"the image's own kernel memory gave no map: {why}", style="dim"))
        console.print("[dim]hint: labels need --map FILE (the boot log with its BIOS-e820 lines, "
                      "/proc/iomem, /sys/firmware/memmap, ...)[/]")
    if worst is Severity.ERROR:
        console.print(f"[bad]UNSAFE[/]: {r.unsafe_pages:,} unsafe saved pages"
                      if r.unsafe_pages else "[bad]FAILED[/]: see the errors above")
    elif r.labels is not None:
        console.print("[ok]OK[/]: no unsafe saves" + (" (warnings above)"
                                                       if worst is Severity.WARNING else ""))
