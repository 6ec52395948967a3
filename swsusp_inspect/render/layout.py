"""Layout that reads at 80 columns: hanging indents, key/value grids, columns that move a
long last cell to lines of its own.  Nothing is ever cut: long words fold, never "…".
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

__all__ = ["KEY_WIDTH", "columns", "grid", "hanging", "indented"]

KEY_WIDTH = 11  # "compression", the longest key of the header grids


def grid(
    rows: Sequence[tuple[str | Text, RenderableType]],
    key_width: int = KEY_WIDTH,
    key_style: str = "key",
) -> Table:
    """Keys in a column of their own, values wrapping under their first line."""
    t = Table.grid(padding=(0, 2))
    t.add_column(style=key_style, no_wrap=True, min_width=key_width)
    t.add_column(overflow="fold")
    for key, value in rows:
        t.add_row(key, value)
    return t


def hanging(head: str | Text, body: str | Text, indent: int) -> Table:
    """``head`` in ``indent`` columns, ``body`` beside it; body lines wrap under the body."""
    t = Table.grid()
    t.add_column(no_wrap=True, width=indent)
    t.add_column(overflow="fold")
    t.add_row(head, body)
    return t


def indented(r: RenderableType, indent: int) -> Padding:
    return Padding(r, (0, 0, 0, indent))


def columns(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Sequence[bool],
    width: int,
    header_style: str = "dim",
) -> Text:
    """Columns two spaces apart (one when that fits ``width`` and two do not); when a row is
    still wider, its last cell goes on the next line, indented by two (its words wrap there,
    nothing is cut)."""
    n = len(header)
    widths = [max(len(str(c[i])) for c in (header, *rows)) for i in range(n - 1)]
    last = max(len(str(c[-1])) for c in (header, *rows))
    gap = 2 if sum(widths) + 2 * (n - 1) + last <= width else 1

    def line(cells: Sequence[str]) -> str:
        out = [
            c.rjust(w) if r else c.ljust(w)
            for c, w, r in zip(cells[:-1], widths, right, strict=False)
        ]
        return (" " * gap).join([*out, cells[-1]]).rstrip()

    lead = sum(widths) + gap * (n - 1)
    text = Text()
    text.append(line(header), style=header_style)
    for cells in rows:
        text.append("\n")
        if lead + len(cells[-1]) <= width:
            text.append(line(cells))
        else:
            text.append(line([*cells[:-1], ""]) + "\n  ")
            text.append(_wrap(cells[-1], width - 2, "\n  "))
    return text


def _wrap(s: str, width: int, sep: str) -> str:
    """Words of ``s`` in lines of at most ``width``; a word longer than that is folded."""
    lines: list[str] = []
    cur = ""
    for word in s.split():
        rest = word
        while len(rest) > width:
            if cur:
                lines.append(cur)
                cur = ""
            lines.append(rest[:width])
            rest = rest[width:]
        if cur and len(cur) + 1 + len(rest) > width:
            lines.append(cur)
            cur = rest
        else:
            cur = f"{cur} {rest}" if cur else rest
    if cur:
        lines.append(cur)
    return sep.join(lines)
