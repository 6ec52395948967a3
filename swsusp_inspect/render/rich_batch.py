"""A batch as a table that reads at 80 columns: one row per image, paths shown relative to the
directory they share and on a line of their own when the numbers leave them too little room;
errors, sidecars left out and the summary below, every wrapped line indented."""

from __future__ import annotations

import os

from rich.console import Console
from rich.text import Text

from swsusp_inspect.model.checksum import ChecksumVerdict
from swsusp_inspect.model.report import BatchRow, BatchSummary, Report
from swsusp_inspect.model.words import agree, plural
from swsusp_inspect.render.layout import hanging

__all__ = ["render_batch", "summary_words"]

VERDICT = {0: ("ok", "ok"), 1: ("UNSAFE", "bad"), 2: ("ERROR", "bad"), 3: ("BUG", "bad")}
LABELS = (
    ("normal", "normal"),
    ("reserved-ram", "res-RAM"),
    ("reserved-non-ram", "non-RAM"),
    ("nosave", "nosave"),
)
MAP = {
    ChecksumVerdict.MATCH: ("match", "ok"),
    ChecksumVerdict.MISMATCH: ("MISMATCH", "bad"),
    ChecksumVerdict.UNVERIFIABLE: ("n/a", "dim"),
    ChecksumVerdict.ABSENT: ("n/a", "dim"),
}
HEAD = ("#", "verdict", "unsafe", *(h for _, h in LABELS), "map")


def _cells(i: int, r: BatchRow) -> list[tuple[str, str]]:
    """(text, style) of each column but the image."""
    verdict = VERDICT.get(r.exit_code, (str(r.exit_code), "bad"))
    rep = r.report
    if not isinstance(rep, Report):
        return [(str(i), "dim"), verdict, *([("", "")] * (len(HEAD) - 2))]
    labels = dict(rep.labels.items()) if rep.labels else {}
    counts = [
        (f"{labels[k]:,}" if k in labels else "-", f"label.{k}" if k in labels else "dim")
        for k, _ in LABELS
    ]
    if rep.map is None:
        return [(str(i), "dim"), verdict, ("-", "dim"), *counts, ("NONE", "bad")]
    return [
        (str(i), "dim"),
        verdict,
        (f"{rep.unsafe_pages:,}", ""),
        *counts,
        MAP[rep.map.checksum_verdict],
    ]


def _base(rows: list[BatchRow]) -> str:
    """The directory every image is in (shown once, paths relative to it), or ""."""
    parents = [os.path.dirname(r.path) for r in rows]
    if not parents or any(os.path.isabs(p) != os.path.isabs(parents[0]) for p in parents):
        return ""
    try:
        return os.path.commonpath(parents)
    except ValueError:
        return ""


def _shown(path: str, base: str) -> str:
    return os.path.relpath(path, base) if base else path


def _table(rows: list[BatchRow], base: str, width: int) -> Text:
    cells = [_cells(i, r) for i, r in enumerate(rows, 1)]
    widths = [max(len(h), *(len(c[k][0]) for c in cells)) for k, h in enumerate(HEAD)]
    right = [True, False, True, True, True, True, True, False]
    lead = sum(widths) + 2 * len(widths)
    paths = [_shown(r.path, base) for r in rows]
    inline = lead + max(len(p) for p in paths) <= width

    def line(items: list[tuple[str, str]], image: str | None) -> Text:
        t = Text()
        for k, (text, style) in enumerate(items):
            t.append("  " if k else "")
            t.append(text.rjust(widths[k]) if right[k] else text.ljust(widths[k]), style=style)
        if image is not None:
            t.append("  " + image)
        return t

    out = Text()
    out.append_text(line([(h, "key") for h in HEAD], "image" if inline else None))
    for c, p in zip(cells, paths, strict=True):
        out.append("\n")
        if not inline:
            out.append(" " * (widths[0] + 2) + p + "\n")
        out.append_text(line(c, p if inline else None))
    return out


def summary_words(s: BatchSummary) -> str:
    parts = [
        f"{plural(s.images, 'image')}: {s.ok:,} ok, {s.unsafe:,} unsafe, "
        f"{plural(s.errors, 'error')}"
    ]
    if s.without_map:
        parts.append(
            f"{s.without_map:,} audited without a memory map (no labels: unsafe saves "
            "not checked; give --map, or a sidecar such as host1.dmesg or console.log "
            "beside an image alone in its directory)"
        )
    sk = s.skipped
    if sk.total:
        kinds = (
            [
                plural(sk.not_images, "file")
                + " that "
                + agree(sk.not_images, "is not an image", "are not images")
            ]
            if sk.not_images
            else []
        )
        if sk.plain_swap_areas:
            kinds.append(plural(sk.plain_swap_areas, "plain swap area") + " (no image)")
        if sk.unreadable:
            kinds.append(plural(sk.unreadable, "unreadable file"))
        parts.append("skipped " + ", ".join(kinds))
    return "; ".join(parts)


def render_batch(rows: list[BatchRow], summary: BatchSummary, console: Console) -> None:
    """The table, then errors and sidecars left out by row number, then the summary."""
    base = _base(rows)
    count = plural(len(rows), "image")
    title = count + (f" in {base}/" if base else "") + " (labels in pages)"
    if base and len(title) > console.width:  # the folder on a line of its own, never split
        console.print(Text(f"{count} (labels in pages) in", style="key"))
        console.print(Text(f"{base}/", style="key"))
    else:
        console.print(Text(title, style="key"))
    if rows:
        console.print(_table(rows, base, console.width))
    indent = len(str(len(rows))) + 2
    for i, r in enumerate(rows, 1):
        if r.error is not None:
            console.print(
                hanging(Text(f"#{i}", style="bad"), f"{_shown(r.path, base)}: {r.error}", indent)
            )
        for g in r.inputs.ignored:
            console.print(
                hanging(
                    Text(f"#{i}", style="dim"),
                    f"left out {_shown(g.file, base)}: {g.error}",
                    indent,
                ),
                style="dim",
            )
    console.print(hanging(Text("summary", style="key"), summary_words(summary), 9))
    console.print(f"worst exit code: {summary.worst_exit_code}")
