"""Rich summary table of a batch: one row per image."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from swsusp_inspect.model.report import BatchRow, Report

VERDICT = {0: "[ok]ok[/]", 1: "[bad]UNSAFE[/]", 2: "[bad]ERROR[/]", 3: "[bad]BUG[/]"}


LABELS = (("normal", "normal"), ("reserved-ram", "resRAM"),
          ("reserved-non-ram", "nonRAM"), ("nosave", "nosave"))


def render_batch(rows: list[BatchRow], console: Console) -> None:
    """One row per image; errors, which are long, listed under the table by row number."""
    t = Table(title=f"{len(rows)} images (labels in pages)", title_justify="left",
              box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False)
    t.add_column("#", justify="right", style="dim", no_wrap=True, min_width=1)
    t.add_column("image", overflow="fold", min_width=12, ratio=1)
    t.add_column("verdict", no_wrap=True, min_width=6)
    t.add_column("unsafe", justify="right", no_wrap=True, min_width=6)
    for key, head in LABELS:
        t.add_column(head, justify="right", style=f"label.{key}", no_wrap=True,
                     min_width=len(head))
    t.add_column("map", no_wrap=True, min_width=8)
    errors: list[tuple[int, str]] = []
    for i, r in enumerate(rows, 1):
        rep = r.report
        if not isinstance(rep, Report):
            errors.append((i, f"{r.path}: {r.error}"))
            t.add_row(str(i), r.path, VERDICT.get(r.exit_code, str(r.exit_code)), "",
                      *([""] * len(LABELS)), "")
            continue
        labels = dict(rep.labels.items()) if rep.labels else {}
        cells = [f"{labels[k]:,}" if labels.get(k) is not None else "-" for k, _ in LABELS]
        m = rep.map
        match = m.checksum_matches_image if m else None
        checksum = "-" if not m else ("[ok]match[/]" if match else "[bad]MISMATCH[/]"
                                      if match is False else "[dim]n/a[/]")
        unsafe = rep.unsafe_pages
        t.add_row(str(i), r.path, VERDICT.get(r.exit_code, str(r.exit_code)),
                  "-" if unsafe is None else f"{unsafe:,}", *cells, checksum)
    console.print(t)
    for i, msg in errors:
        console.print(f"[bad]#{i}[/] {msg}", overflow="fold", highlight=False)
    worst = max((r.exit_code for r in rows), default=0)
    console.print(f"worst exit code: {worst}")
