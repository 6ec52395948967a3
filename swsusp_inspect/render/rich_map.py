"""Rich rendering of memory maps and map diffs (the console is passed in, never built here)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from swsusp_inspect.e820 import MapDiff, MemoryMap
from swsusp_inspect.e820.types import RAM_TYPES, dmesg_name

__all__ = ["render_map", "render_map_diff"]


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << (shift - 10 if shift > 10 else 0)) == 0:
            value = n / (1 << shift)
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{n} B"


def render_map(console: Console, m: MemoryMap) -> None:
    """The firmware map as a table, then checksums, edits, nosave ranges and findings."""
    boot = f", boot {m.boot} of {m.boots}" if m.boot is not None else ""
    console.print(f"[key]{m.source}[/] ({m.format}{boot})")
    table = Table(show_edge=False, header_style="key")
    for col in ("start", "end", "size", "type"):
        table.add_column(col, justify="right" if col != "type" else "left")
    for a, z, t in m.firmware_entries():
        style = "label.normal" if t in RAM_TYPES else "label.reserved-non-ram"
        table.add_row(f"{a:#018x}", f"{a + z - 1:#018x}", _size(z),
                      f"[{style}]{dmesg_name(t)}[/]")
    console.print(table)
    note = "" if m.has_checksum else "  [dim](not a firmware table)[/]"
    console.print(f"[key]e820 checksum[/]  crc32 {m.checksum_crc32():#010x}   "
                  f"md5 {m.checksum_md5().hex()}{note}")
    if m.modified is not None:
        console.print(f"[key]kernel-edited table[/]: {len(m.modified.starts)} regions "
                      "(nosave is derived from it)")
        for r in m.modified.regions:
            console.print(f"  {r.start:#018x}-{r.end:#018x} {r.name}")
    ranges, source = m.nosave_ranges()
    rules = m.nosave_rules_matched()
    matched = f"; log matches {rules} rules" if rules else ""
    console.print(f"[key]nosave ranges[/] ({source}{matched}):")
    for lo, hi in ranges:
        console.print(f"  [label.nosave]pfn {lo:#x}-{hi:#x}[/]  "
                      + escape(f"[mem {lo << 12:#010x}-{((hi + 1) << 12) - 1:#010x}]"))
    for f in m.findings:
        where = f" (line {f.line})" if f.line else ""
        sev = f.severity.value
        console.print(f"[sev.{sev}]{sev}[/]: {escape(f.message)}{where}")


def render_map_diff(console: Console, d: MapDiff) -> None:
    """The changes in words and whether the checksum changed."""
    console.print(f"[key]{d.old_source}[/] -> [key]{d.new_source}[/]")
    if not d.changes:
        console.print("[ok]same regions[/]")
    for c in d.changes:
        console.print(f"  {c.kind:8} {escape(c.text)}")
    if d.checksum_changed:
        console.print(f"[bad]checksum changed[/]: crc32 {d.checksum.old_crc32:#010x} -> "
                      f"{d.checksum.new_crc32:#010x}"
                      " (resume would refuse the image)")
    else:
        console.print(f"[ok]checksum unchanged[/]: crc32 {d.checksum.old_crc32:#010x}")
