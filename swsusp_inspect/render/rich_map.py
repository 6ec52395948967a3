"""Rich rendering of memory maps and map diffs (the console is passed in, never built here)."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from swsusp_inspect.e820 import MapDiff, MemoryMap
from swsusp_inspect.e820.types import RAM_TYPES, dmesg_name
from swsusp_inspect.model.checksum import ChecksumVerdict
from swsusp_inspect.render.layout import hanging

__all__ = ["render_map", "render_map_diff"]


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift and n % (1 << (shift - 10 if shift > 10 else 0)) == 0:
            value = n / (1 << shift)
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{n} B"


def render_map(console: Console, m: MemoryMap) -> None:
    """The firmware map as a table, then checksums, edits, nosave ranges and findings."""
    console.print(Text.assemble((m.source, "key"), f" ({m.format})"))
    b = m.boot_choice
    if b is not None:
        console.print(hanging("boot", f"{b.index} of {b.count}: {b.reason}", 5))
    table = Table(show_edge=False, header_style="key")
    for col in ("start", "end", "size", "type"):
        table.add_column(col, justify="right" if col != "type" else "left")
    for a, z, t in m.firmware_entries():
        style = "label.normal" if t in RAM_TYPES else "label.reserved-non-ram"
        table.add_row(f"{a:#018x}", f"{a + z - 1:#018x}", _size(z), f"[{style}]{dmesg_name(t)}[/]")
    console.print(table)
    note = "" if m.has_checksum else "  [dim](not a firmware table)[/]"
    console.print(
        f"[key]e820 checksum[/]  crc32 {m.checksum_crc32():#010x}   "
        f"md5 {m.checksum_md5().hex()}{note}"
    )
    if m.modified is not None:
        console.print(
            f"[key]kernel-edited table[/]: {len(m.modified.starts)} regions "
            "(nosave is derived from it)"
        )
        for r in m.modified.regions:
            console.print(f"  {r.start:#018x}-{r.end:#018x} {r.name}")
    ranges, source = m.nosave_ranges()
    rules = m.nosave_rules_matched()
    matched = f"; log matches {rules} rules" if rules else ""
    console.print(f"[key]nosave ranges[/] ({source}{matched}):")
    for lo, hi in ranges:
        console.print(
            f"  [label.nosave]pfn {lo:#x}-{hi:#x}[/]  "
            + escape(f"[mem {lo << 12:#010x}-{((hi + 1) << 12) - 1:#010x}]")
        )
    for f in m.findings:
        where = f" (line {f.line})" if f.line else ""
        sev = f.severity.value
        console.print(hanging(Text(sev + ":", style=f"sev.{sev}"), f.message + where, len(sev) + 2))


def render_map_diff(console: Console, d: MapDiff) -> None:
    """The changes in words and the checksum verdict (the one `info` and `audit` give)."""
    one_line = len(d.old_source) + len(d.new_source) + 4 <= console.width
    console.print(
        Text.assemble((d.old_source, "key"), " -> " if one_line else "\n-> ", (d.new_source, "key"))
    )
    if not d.changes:
        console.print("[ok]same regions[/]")
    for c in d.changes:
        console.print(hanging(f"  {c.kind}", c.text, 11))
    style = {ChecksumVerdict.MATCH: "ok", ChecksumVerdict.MISMATCH: "bad"}.get(
        d.checksum_verdict, "dim"
    )
    rest = d.checksum_text.removeprefix("checksum ")
    console.print(hanging(Text("checksum", style="key"), Text(rest, style=style), 9))
