"""``audit`` (also ``swsusp-inspect IMAGE``): label every saved PFN, report unsafe saves."""

from __future__ import annotations

import contextlib
import csv
import sys

import click

from swsusp_inspect.cli.common import (
    color_option,
    emit_json,
    image_argument,
    json_option,
    map_format_option,
    map_option,
    page_offset_option,
    passphrase_option,
    progress_for,
    resume_offset_option,
    stdout_console,
    system_map_option,
)

STRIP_WIDTH = 64


@click.command("audit")
@image_argument
@map_option
@map_format_option
@click.option("--kpageflags", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="A copy of /proc/kpageflags (raw or .xz/.gz) taken before hibernating: "
              "reserved-RAM evidence (KPF_RESERVED).")
@system_map_option
@click.option("--verify", is_flag=True,
              help="Decompress every chunk and check the CRC32 (a mismatch is an error).")
@click.option("--nosave-rules", type=click.Choice(["pre-2025", "post-2025"]), default=None,
              help="Derive nosave from the map by these kernel rules instead of the log's "
              "'Registered nosave memory' lines.")
@json_option
@click.option("--csv", "as_csv", is_flag=True,
              help="One CSV row per run of saved PFNs: start_pfn,end_pfn,pages,label,region,type.")
@color_option
@click.option("--strict", is_flag=True, help="Warnings give exit code 1 too.")
@resume_offset_option
@page_offset_option
@passphrase_option
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.pass_context
def audit_cmd(ctx: click.Context, image: str, maps: tuple[str, ...], map_format: str | None,
              kpageflags: str | None, system_map: str | None, verify: bool,
              nosave_rules: str | None, as_json: bool, as_csv: bool, no_color: bool,
              strict: bool, resume_offset: int, passphrase: str | None, quiet: bool,
              page_offset: int | None = None) -> None:
    """Label every saved PFN of IMAGE and report pages that must not be saved.

    \b
    Labels (the first that applies wins):
      reserved-non-ram  not fully RAM in the map: reserved, ACPI, NVS, holes, beyond
      nosave            in the kernel's nosave regions (System.map, log, map rules)
      reserved-ram      RAM, reserved per --kpageflags, else iomem, else e820 type 128
      normal            everything else
    Without --map there are no labels: header, integrity and PFN checks only.

    \b
    Exit codes: 0 no unsafe save and integrity fine; 1 unsafe saves or an integrity
    failure (with --strict also warnings); 2 input could not be read or bad usage.
    """
    if as_json and as_csv:
        raise click.UsageError("--json and --csv are exclusive")
    from swsusp_inspect.auditor import audit
    from swsusp_inspect.image import open_image
    from swsusp_inspect.inputs.system_map import load_system_map

    smap = load_system_map(system_map) if system_map else None
    mem_maps = []
    if maps:
        from swsusp_inspect.e820 import load_memory_map

        mem_maps = [load_memory_map(p, fmt=map_format) for p in maps]
    console = None if (as_json or as_csv) else stdout_console(no_color)
    width = STRIP_WIDTH if console is None else max(16, min(96, console.width - 4))
    with open_image(image, resume_offset=resume_offset, passphrase=passphrase,
                    page_offset=page_offset) as img:
        bar = progress_for(img.info.pages - 1, "verifying", quiet) if verify else None
        with bar if bar is not None else contextlib.nullcontext():
            report = audit(img, maps=mem_maps or None, kpageflags=kpageflags,
                           system_map=smap, verify=verify, nosave_rules=nosave_rules,
                           strip_width=width, progress=bar)
        if as_csv:
            from swsusp_inspect.report import CSV_HEADER

            out = csv.writer(sys.stdout, lineterminator="\n")
            out.writerow(CSV_HEADER)
            out.writerows(report.csv_rows())
    if as_json:
        from swsusp_inspect.render.json import dumps

        emit_json(dumps(report))
    elif console is not None:
        from swsusp_inspect.render.rich_audit import render_report

        render_report(report, console)
    ctx.exit(report.exit_code(strict))
