"""``extract``'s work behind the click command: outputs, the record, the exit code."""

from __future__ import annotations

import contextlib
import os

import click

from swsusp_inspect.cli.common import emit_json, progress_factory, progress_for
from swsusp_inspect.exitcodes import ExitCode
from swsusp_inspect.model.export import ExtractRecord, UnreadableSpan
from swsusp_inspect.run import Inputs

__all__ = ["damage_line", "run_extract"]

SHOWN_RANGES = 3


def damage_line(path: str, spans: tuple[UnreadableSpan, ...], pages: int) -> str:
    """One line: how many pages are unreadable, where (the first ranges), and the first
    reason."""
    shown = ", ".join(f"{s.start_pfn:#x}-{s.end_pfn:#x}" for s in spans[:SHOWN_RANGES])
    more = f", ... ({len(spans)} ranges)" if len(spans) > SHOWN_RANGES else ""
    first = spans[0].reason if spans else ""
    return f"{path}: {pages} saved pages unreadable (PFN {shown}{more}): {first}"


def _summary(record: ExtractRecord, sidecar: str | None) -> str:
    what = (
        f"{record.pages_written} pages written to {record.path} ({record.format}, "
        f"{record.size:#x} bytes; {record.zero_pages} zero pages, "
        f"{record.unreadable_pages} unreadable)"
    )
    if record.elf is not None and not record.elf.vmcoreinfo.found:
        what += "; " + (record.elf.vmcoreinfo.explanation or "no VMCOREINFO note")
    return what + (f"; record in {sidecar}" if sidecar else "")


def run_extract(
    inputs: Inputs,
    output: str,
    fmt: str,
    *,
    force: bool,
    sidecar: bool,
    as_json: bool,
    quiet: bool,
    jobs: int | None,
) -> int:
    """Open IMAGE salvaging, write OUT and its record; the exit code."""
    from swsusp_inspect.export.extract import extract
    from swsusp_inspect.export.sink import OutputError
    from swsusp_inspect.run import open_inputs

    stream = output == "-"
    if stream and as_json:
        raise click.UsageError(
            "--json prints to stdout, which -o - fills with the memory; "
            "write to a file (its record is OUT.json)"
        )
    side = None if stream or not sidecar else output + ".json"
    if side is not None and os.path.exists(side) and not force:
        raise OutputError(f"{side}: exists (use --force to overwrite it)")
    with open_inputs(inputs, salvage=True, progress=progress_factory(quiet)) as o:
        bar = None if stream else progress_for(o.image.info.image_pages, "extracting", quiet)
        with bar if bar is not None else contextlib.nullcontext():
            record = extract(o.image, output, fmt, force=force, jobs=jobs, progress=bar)
    if side is not None:
        with open(side, "w" if force else "x", encoding="utf-8") as f:
            f.write(record.to_json() + "\n")
    if as_json:
        emit_json(record.to_json())
    else:
        click.echo(_summary(record, side), err=stream)
    if record.unreadable_pages:
        click.echo(
            "swsusp-inspect: error: "
            + damage_line(inputs.image, record.unreadable, record.unreadable_pages),
            err=True,
        )
        return int(ExitCode.FINDINGS)
    return int(ExitCode.OK)
