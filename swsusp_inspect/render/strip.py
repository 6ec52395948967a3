"""The address-space strip: saved pages across physical memory, and the map beneath.

In colour a column's shade is the share of it saved and its colour the label; without colour
each label has its own letter (upper case: half the column or more saved), so the strip reads
the same on a terminal without colour, in a log file or a mail.
"""

from __future__ import annotations

from rich.text import Text

from swsusp_inspect.model.report import Strip, StripColumn

__all__ = ["LETTERS", "strip_text"]

# an unsafe label wins a column however few pages it has there
_WORST_FIRST = ("reserved-non-ram", "nosave")
_SHADES = "░▒▓█"
LETTERS = {"normal": "n", "reserved-ram": "r", "reserved-non-ram": "x", "nosave": "s"}


def _size(pages: int, page_size: int) -> str:
    b = pages * page_size
    for unit, sh in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if b >= 1 << sh:
            return f"{b / (1 << sh):,.1f} {unit}"
    return f"{b} B"


def _label(c: StripColumn) -> str:
    worst = next((lab for lab in _WORST_FIRST if c.label(lab)), None)
    return worst or max(("reserved-ram", "normal"), key=c.label)


def _saved_cell(c: StripColumn, pages: int, colour: bool) -> tuple[str, str]:
    if not c.saved:
        return " ", ""
    lab = _label(c)
    if colour:
        return _SHADES[min(len(_SHADES) - 1, c.saved * len(_SHADES) // pages)], f"label.{lab}"
    letter = LETTERS[lab]
    return (letter.upper() if 2 * c.saved >= pages else letter), f"label.{lab}"


def _map_cell(ram: int, pages: int) -> str:
    if ram < 0:
        return " "
    return "=" if ram >= pages else "-" if ram > 0 else "."


def _legend(colour: bool, column: str) -> Text:
    labels = list(LETTERS.items())
    legend = Text("saved  ", style="dim")
    for i, (lab, letter) in enumerate(labels):
        if i:
            legend.append("  ")
        if not colour:
            legend.append(f"{letter.upper()} ", style=f"label.{lab}")
        legend.append(lab, style=f"label.{lab}")
    if colour:
        legend.append(f"  {_SHADES[0]}..{_SHADES[-1]} share saved", style="dim")
    else:
        legend.append("\n       lower case: under half of the column saved", style="dim")
    legend.append(f"\nmap    = RAM  - partly RAM  . no RAM   1 column = {column}", style="dim")
    return legend


def strip_text(s: Strip, page_size: int, *, colour: bool = True) -> Text:
    """Two rows (saved pages, the map), the address axis and the legend."""
    top, bottom = Text(), Text()
    for col, c in enumerate(s.columns):
        pages = max(1, s.bounds[col + 1] - s.bounds[col])
        char, style = _saved_cell(c, pages, colour)
        top.append(char, style=style)
        bottom.append(_map_cell(c.ram_pages, pages), style="dim")
    width = len(s.columns)
    left = f"{s.start_pfn * page_size:#x}"
    right = f"{s.end_pfn * page_size:#x}"
    axis = Text(left + " " * max(1, width - len(left) - len(right)) + right, style="dim")
    per = (s.end_pfn - s.start_pfn) / max(1, width)
    return Text("\n").join([top, bottom, axis, _legend(colour, _size(round(per), page_size))])
