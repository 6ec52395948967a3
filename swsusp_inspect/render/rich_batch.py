"""Rich summary table of a batch: one row per image."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

VERDICT = {0: "[ok]ok[/]", 1: "[bad]UNSAFE[/]", 2: "[bad]ERROR[/]"}


def _labels(report: dict[str, Any]) -> str:
    labels = report.get("labels")
    if not labels:
        return "[dim]no map[/]"
    order = ("normal", "reserved-ram", "reserved-non-ram", "nosave")
    return " ".join(f"[label.{k}]{labels.get(k, 0):,}[/]" for k in order)


def render_batch(rows: list[Any], console: Console) -> None:
    t = Table(title=f"{len(rows)} images", title_justify="left")
    t.add_column("image", overflow="fold")
    t.add_column("verdict")
    t.add_column("kernel")
    t.add_column("labels (normal reserved-RAM non-RAM nosave)")
    t.add_column("unsafe", justify="right")
    t.add_column("map checksum")
    t.add_column("error", overflow="fold")
    for r in rows:
        rep = r.report
        if rep is None:
            t.add_row(r.path, VERDICT[2], "", "", "", "", f"[bad]{r.error}[/]")
            continue
        img = rep.get("image") or {}
        kernel = (img.get("kernel") or {}).get("release") or ""
        m = rep.get("map") or {}
        match = m.get("checksum_matches_image")
        checksum = "" if not m else ("[ok]match[/]" if match else "[bad]MISMATCH[/]"
                                     if match is False else "[dim]n/a[/]")
        unsafe = rep.get("unsafe_pages")
        t.add_row(r.path, VERDICT.get(r.exit_code, str(r.exit_code)), kernel, _labels(rep),
                  "" if unsafe is None else f"{unsafe:,}", checksum, "")
    console.print(t)
    worst = max((r.exit_code for r in rows), default=0)
    console.print(f"worst exit code: {worst}")
